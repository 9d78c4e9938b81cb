/**
 * The Worker's logs: one JSON line per request (`type: "request"`), plus a few
 * notable events (`type: "error"`, `type: "sse"`), each written with
 * `console.log(JSON.stringify(…))` so Workers Logs (`[observability]` in
 * wrangler.toml) indexes every field. A line never holds a token, the
 * Authorization header, the query string or the secret: only the path, the
 * matched route pattern and the run id.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Env } from "./config.ts";

/** Writes one JSON log line; fields that are `undefined` are left out. */
export function logLine(fields: { type: string } & Record<string, unknown>, level: "log" | "error" = "log"): void {
  console[level](JSON.stringify(fields));
}

/**
 * The route pattern the request matched, e.g. `/api/v1/workflows/:runId/events`
 * (with the prefix the relay is mounted under); undefined if no route matched
 * (a 404). Middleware (`use`) patterns do not count.
 */
export function routeOf(c: Context): string | undefined {
  return matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path;
}

/** The value of `:name` in the request's path, read by position from the route pattern. */
function paramOf(route: string | undefined, path: string, name: string): string | undefined {
  const at = route?.split("/").indexOf(`:${name}`) ?? -1;
  const segment = at < 0 ? undefined : path.split("/")[at];
  if (!segment) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const byteCount = (value: string | null | undefined): number | undefined => {
  const n = value == null || value === "" ? NaN : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

const isJson = (res: Response) => /^application\/json\b/i.test(res.headers.get("Content-Type") ?? "");

/** UTF-8 bytes of a string: its length when it is ASCII (most JSON), without encoding it. */
// eslint-disable-next-line no-control-regex
const utf8Bytes = (text: string): number => (/[^\x00-\x7f]/.test(text) ? new TextEncoder().encode(text).byteLength : text.length);

type Respond = (data: unknown, ...rest: unknown[]) => Response;

/**
 * Notes the text of each string body the handlers answer with (hono's
 * `c.body`, and `c.json`, which is `c.body` of the JSON text with a default
 * Content-Type), so its size is known without reading the response again.
 */
function noteBodies(c: Context): () => string | undefined {
  let text: string | undefined;
  const body = c.body as unknown as Respond;
  c.body = ((data: unknown, ...rest: unknown[]) => {
    text = typeof data === "string" ? data : undefined;
    return body(data, ...rest);
  }) as unknown as typeof c.body;
  // As hono's own `c.json`: `{ "Content-Type": "application/json", ...headers }` over the given headers.
  c.json = ((value: unknown, arg?: unknown, headers?: Record<string, string | string[]>) =>
    c.body(JSON.stringify(value), arg as never, { "Content-Type": "application/json", ...headers })) as unknown as typeof c.json;
  return () => text;
}

/**
 * hono middleware: one `type: "request"` line per request, written in the
 * task after the one that returns the response (so the response does not wait
 * on it), its figures taken once the response is ready — for SSE and WebSocket upgrades that is when the stream starts
 * (status 200 or 101), not when it ends. `bytesOut` is the Content-Length,
 * or the size of the string a handler answered with (the response is not
 * read again for it); an error response is read once and sent with a
 * Content-Length, so the line also gives the `error` code of its body.
 * Register it first, so it sees every response, errors and 404s included.
 * With `LOG_REQUESTS = "errors"` only responses of status 400 and up are
 * logged (a busy runner's appends are most of a relay's requests).
 */
export const logRequests: MiddlewareHandler = async (c, next) => {
  const start = Date.now();
  const answered = noteBodies(c);
  await next();
  if (c.res.status < 400 && (c.env as Env | undefined)?.LOG_REQUESTS === "errors") return;
  let res = c.res;
  let bytesOut = byteCount(res.headers.get("Content-Length"));
  let error: string | undefined; // the code of an error body
  const json = res.body !== null && isJson(res);
  if (json && bytesOut === undefined && res.status < 400) {
    const text = answered();
    if (text !== undefined) bytesOut = utf8Bytes(text);
  }
  if (json && (bytesOut === undefined || res.status >= 400)) {
    const body = await res.arrayBuffer();
    bytesOut = body.byteLength;
    if (res.status >= 400) error = errorCodeOf(body);
    const headers = new Headers(res.headers);
    headers.set("Content-Length", String(bytesOut));
    c.res = new Response(body, { status: res.status, statusText: res.statusText, headers });
    res = c.res;
  }
  const route = routeOf(c);
  const line = {
    type: "request" as const,
    method: c.req.method,
    route,
    path: c.req.path,
    runId: paramOf(route, c.req.path, "runId"),
    status: res.status,
    durationMs: Date.now() - start,
    bytesIn: byteCount(c.req.header("Content-Length")),
    bytesOut,
    error,
  };
  // Written once the response is on its way: a console line costs a millisecond or more under `wrangler dev`.
  afterResponse(c, () => logLine(line));
};

/** Runs `fn` in a later task than the one that returns the response, keeping the request alive until it has (waitUntil). */
function afterResponse(c: Context, fn: () => void): void {
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx as ExecutionContext;
  } catch {
    // no execution context (hono's app.request in a unit test): at once
  }
  if (!ctx) return fn();
  ctx.waitUntil(new Promise<void>((resolve) => setTimeout(() => (fn(), resolve()), 0)));
}

/** The `code` of an `{ "error": { "code", "message" } }` body. */
function errorCodeOf(body: ArrayBuffer): string | undefined {
  try {
    const code = (JSON.parse(new TextDecoder().decode(body)) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}
