/**
 * The relay as a hono app: CORS, the configured-secret check, token minting,
 * and every run's routes under `/api/v1/workflows/:runId`. `createRelay()`
 * makes one; mount it in your own Worker (`app.route("/relay", createRelay())`)
 * or serve it as it is (src/index.ts).
 */
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { API_BASE, IDEMPOTENCY_HEADER, MintBody, NEXT_OFFSET_HEADER, ProducerHeaders, RunId, Scope, type MintReply } from "../protocol/index.ts";
import type { RunObject } from "../run/object.ts";
import { authenticate, need, requireConfigured, type AuthVars } from "./auth.ts";
import { DEV_SECRET, isDev, relaySecret, type Env } from "./config.ts";
import { ApiError, errorResponse, onError } from "./errors.ts";
import { check, jsonBody } from "./http.ts";
import { logRequests } from "./log.ts";
import { apiReference, OPENAPI_PATH, openApiDocument, REFERENCE_PATH } from "./openapi.ts";
import * as op from "./operations.ts";
import { run } from "./routes.ts";
import { mintToken } from "./tokens.ts";
import type { RelayVars } from "./vars.ts";

export interface RelayOptions {
  /** The name of the Durable Object binding of `RunObject` (default `RUNS`). */
  binding?: string;
}

type AppEnv = { Bindings: Env; Variables: RelayVars & AuthVars };

/** A new relay app. Its routes start at `/api/…`; mount it under any prefix. */
export function createRelay(options: RelayOptions = {}): Hono<AppEnv> {
  const binding = options.binding ?? "RUNS";
  const app = new Hono<AppEnv>({ strict: false });
  app.onError(onError);
  app.notFound((c) => errorResponse(404, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.use(logRequests); // first: one log line for every request, errors and 404s included
  const preflight = cors({
    origin: allowedOrigin,
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID", IDEMPOTENCY_HEADER, ProducerHeaders.id, ProducerHeaders.epoch, ProducerHeaders.seq],
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: 600,
  });
  app.use("/api/*", (c, next) => (c.req.method === "OPTIONS" ? preflight(c, next) : corsHeaders(c, next)));
  // Public, and served even before a secret is set: the document describes the API, it holds nothing.
  app.get(OPENAPI_PATH, openApiDocument(app));
  app.use(requireConfigured);
  app.use(async (c, next) => {
    const runs = (c.env as unknown as Record<string, DurableObjectNamespace<RunObject> | undefined>)[binding];
    if (!runs) throw new ApiError(500, "relay_not_configured", `the Worker has no Durable Object binding named ${binding} (class RunObject)`);
    c.set("runs", runs);
    await next();
  });

  /** Admin: mint a token for a run, for backends without a JWT library. */
  app.post("/api/v1/tokens", op.mintToken, authenticate, need("admin"), async (c) => {
    const body = check(MintBody, await jsonBody(c), "body");
    return c.json((await mintToken(relaySecret(c.env)!, body.runId, body.scope, body.ttlSeconds)) satisfies MintReply, 201);
  });

  /** Development only (`npm run dev`): a ready token, so the chat page and curl work with zero setup. */
  app.get("/api/v1/dev/token", op.devToken, async (c) => {
    if (!isDev(c.env)) return c.notFound();
    const runId = check(RunId, c.req.query("run"), "run id");
    const scope = check(Scope, c.req.query("scope") ?? "write", "scope");
    return c.json(await mintToken(c.env.RELAY_SECRET || DEV_SECRET, runId, scope, 24 * 3600));
  });

  /** Development only: the API reference page, rendered from the OpenAPI document. */
  app.get(REFERENCE_PATH, apiReference);

  app.route(`${API_BASE}/:runId`, run);
  return app;
}

const EXPOSE_HEADERS = [NEXT_OFFSET_HEADER, ProducerHeaders.epoch, ProducerHeaders.seq, ProducerHeaders.expectedSeq, ProducerHeaders.receivedSeq];
const EXPOSED = EXPOSE_HEADERS.join(",");

/**
 * CORS on every response but a preflight (hono's `cors()` answers those): the
 * headers hono's `cors()` adds, set once on the final response. hono's sets
 * them on a placeholder response before the handler runs, which the handler's
 * response then copies, and rebuilds the final response to append `Vary`:
 * three Response objects more on every request.
 */
async function corsHeaders(c: Context<AppEnv>, next: () => Promise<void>): Promise<void> {
  await next();
  const origin = allowedOrigin(c.req.header("origin") || "", c);
  const add = (headers: Headers) => {
    if (origin) headers.set("Access-Control-Allow-Origin", origin);
    headers.set("Access-Control-Expose-Headers", EXPOSED);
    headers.append("Vary", "Origin");
  };
  try {
    add(c.res.headers);
  } catch {
    // A response whose headers are immutable (an upgrade answered by the run object): copied, as hono does.
    const res = new Response(c.res.body, c.res);
    add(res.headers);
    c.res = undefined;
    c.res = res;
  }
}

/** ALLOWED_ORIGINS, split once per env object (the env is the same object from request to request). */
const origins = new WeakMap<Env, string[]>();

/** CORS: the origins in ALLOWED_ORIGINS; under `npm run dev`, any. */
function allowedOrigin(origin: string, c: Context<AppEnv>): string | null {
  let allowed = origins.get(c.env);
  if (!allowed) origins.set(c.env, (allowed = (c.env.ALLOWED_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean)));
  if (allowed.includes(origin)) return origin;
  if (isDev(c.env) && (allowed.length === 0 || allowed.includes("*"))) return "*";
  return null;
}
