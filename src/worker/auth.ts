/**
 * Who may do what. Every request is checked in the Worker, before the run's
 * object is touched: the relay must have a secret (outside dev), the request
 * must carry a valid token (Authorization: Bearer; or ?token= on the two
 * stream routes only, for EventSource and browser WebSockets, which cannot
 * set headers), the token must be for this run, and its scope must allow the
 * route. Under `npm run dev` only, a request with no token at all is a
 * development admin (said once in the log), so the snippets existing
 * frontends have work unchanged; a bad token is still refused.
 */
import type { Context, MiddlewareHandler } from "hono";
import { allows, type Scope, type TokenClaims } from "../protocol/index.ts";
import { isDev, relaySecret, type Env } from "./config.ts";
import { ApiError } from "./errors.ts";
import { logLine, routeOf } from "./log.ts";
import { verifyToken } from "./tokens.ts";

/** `exp`: the token's expiry in seconds (none for the relay secret); a viewer's stream ends then. */
export type AuthVars = { auth: Pick<TokenClaims, "sub" | "scope"> & { exp?: number }; runId?: string };

/**
 * The routes that take `?token=`: a browser's `EventSource` and `WebSocket`
 * cannot send a header. Everywhere else a token in the URL is ignored (URLs
 * end up in logs, histories and Referer headers).
 */
const QUERY_TOKEN_ROUTES = ["/:runId/stream", "/:runId/ws", "/:runId/session/events/stream"];
const takesQueryToken = (c: Context) => {
  const route = routeOf(c);
  return c.req.method === "GET" && route !== undefined && QUERY_TOKEN_ROUTES.some((r) => route.endsWith(r));
};
type AuthContext = Context<{ Bindings: Env; Variables: AuthVars }>;

/** Every route but the public OpenAPI document: a relay with no secret outside dev serves nothing. */
export const requireConfigured: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  if (!relaySecret(c.env)) {
    throw new ApiError(500, "relay_not_configured", "the relay has no RELAY_SECRET; set one with `wrangler secret put RELAY_SECRET`");
  }
  await next();
};

/** Reads and checks the request's token. The secret itself is accepted as an admin bearer. */
export const authenticate: MiddlewareHandler<{ Bindings: Env; Variables: AuthVars }> = async (c, next) => {
  const header = c.req.header("Authorization");
  const fromHeader = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  const token = fromHeader ?? (takesQueryToken(c) ? c.req.query("token") : undefined);
  if (!token && isDev(c.env)) {
    c.set("auth", { sub: "*", scope: "admin" });
    tellDevAdminOnce();
    return next();
  }
  if (!token) {
    const how = takesQueryToken(c) ? "as `Authorization: Bearer <token>` or `?token=<token>`" : "as `Authorization: Bearer <token>`";
    throw new ApiError(401, "unauthorized", `send a token ${how}`, {
      "WWW-Authenticate": 'Bearer realm="runrelay"',
    });
  }
  const secret = relaySecret(c.env)!;
  // The secret itself is an admin credential, in the header only: a query string ends up in logs.
  if (fromHeader !== undefined && sameSecret(token, secret)) {
    c.set("auth", { sub: "*", scope: "admin" });
  } else {
    const verified = await verifyToken(secret, token);
    if (!verified.ok) throw new ApiError(401, verified.code, verified.message, { "WWW-Authenticate": 'Bearer error="invalid_token"' });
    if (verified.claims.sub === "*" && verified.claims.scope !== "admin") {
      throw new ApiError(401, "invalid_token", "only an admin token may be for every run");
    }
    c.set("auth", { sub: verified.claims.sub, scope: verified.claims.scope, exp: verified.claims.exp });
  }
  await next();
};

let toldDevAdmin = false;
/** One log line, the first time a request without a token is let in as a development admin. */
function tellDevAdminOnce(): void {
  if (toldDevAdmin) return;
  toldDevAdmin = true;
  logLine({
    type: "dev",
    message:
      "development mode (RELAY_DEV=true): requests without a token are treated as admin for every run; outside dev they are refused with 401",
  });
}

const WHAT: Record<Scope, string> = {
  runner: "append events, poll for inputs or complete the run",
  read: "read this run",
  write: "send messages or interrupts",
  admin: "do this (it takes an admin token)",
};

/** Per route: the token must be for this run (or every run) and allow `scope`. */
export function need(scope: Scope): MiddlewareHandler<{ Bindings: Env; Variables: AuthVars }> {
  return async (c, next) => {
    forbidUnless(c, scope);
    await next();
  };
}

/** Throws 403 unless the request's token allows `scope` on its run. */
export function forbidUnless<E extends { Bindings: Env; Variables: AuthVars }>(c: Context<E>, scope: Scope): void {
  const { sub, scope: has } = c.var.auth;
  const runId = c.var.runId;
  if (runId !== undefined && sub !== "*" && sub !== runId) {
    throw new ApiError(403, "forbidden", `this token is for run ${sub}, not ${runId}`);
  }
  if (runId === undefined && sub !== "*" && scope === "admin") {
    throw new ApiError(403, "forbidden", "this takes an admin token for every run");
  }
  if (!allows(has, scope)) throw new ApiError(403, "forbidden", `a ${has} token cannot ${WHAT[scope]}`);
}

const encoder = new TextEncoder();
/** The last secret compared against, encoded once (a relay has one secret). */
let secretBytes: { secret: string; bytes: Uint8Array } | null = null;

/** Compares in constant time (Web Crypto's timingSafeEqual in workerd). */
function sameSecret(token: string, secret: string): boolean {
  if (secretBytes?.secret !== secret) secretBytes = { secret, bytes: encoder.encode(secret) };
  const x = encoder.encode(token);
  const y = secretBytes.bytes;
  if (x.byteLength !== y.byteLength) return false;
  return crypto.subtle.timingSafeEqual(x, y);
}
