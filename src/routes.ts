/**
 * The HTTP API (base `/api/v1/workflows/:runId`): validates every parameter,
 * query and body, then forwards to the run's object. The Worker holds no state;
 * it only holds SSE connections, bridged onto the object's WebSockets.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { authenticate, need, requireConfigured, type AuthVars } from "./auth";
import type { z } from "zod";
import { DEV_SECRET, isDev, limits, relaySecret, type Env } from "./config";
import { ApiError, errorResponse, onError, unwrap } from "./errors";
import { parseNdjson } from "./ndjson";
import {
  API_BASE,
  CompleteBody,
  Cursor,
  DEFAULT_WAIT_SECONDS,
  EventId,
  IDEMPOTENCY_HEADER,
  IdempotencyKey,
  InterruptBody,
  MessageBody,
  MintBody,
  Scope,
  NEXT_OFFSET_HEADER,
  Producer,
  ProducerHeaders,
  RunId,
  toUserMessage,
  type AppendReply,
  type Cursor as CursorValue,
  type MintReply,
} from "./protocol";
import { entryJson } from "./run/log";
import { sseBridge } from "./sse";
import { mintToken } from "./tokens";

type App = { Bindings: Env; Variables: AuthVars & { runId: string; run: DurableObjectStub<import("./run/object").RunObject> } };

const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

export const app = new Hono<App>({ strict: false });
app.onError(onError);
app.notFound((c) => errorResponse(404, "not_found", `no route for ${c.req.method} ${c.req.path}`));
app.use(
  "/api/*",
  cors({
    origin: allowedOrigin,
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID", IDEMPOTENCY_HEADER, ProducerHeaders.id, ProducerHeaders.epoch, ProducerHeaders.seq],
    exposeHeaders: [NEXT_OFFSET_HEADER, ProducerHeaders.epoch, ProducerHeaders.seq, ProducerHeaders.expectedSeq, ProducerHeaders.receivedSeq],
    maxAge: 600,
  }),
);
app.use(requireConfigured);

/** Admin: mint a token for a run, for backends without a JWT library. */
app.post("/api/v1/tokens", authenticate, need("admin"), async (c) => {
  const body = check(MintBody, await jsonBody(c), "body");
  return c.json((await mintToken(relaySecret(c.env)!, body.runId, body.scope, body.ttlSeconds)) satisfies MintReply, 201);
});

/** Development only (`npm run dev`): a ready token, so the chat page and curl work with zero setup. */
app.get("/api/v1/dev/token", async (c) => {
  if (!isDev(c.env)) return c.notFound();
  const runId = check(RunId, c.req.query("run"), "run id");
  const scope = check(Scope, c.req.query("scope") ?? "write", "scope");
  return c.json(await mintToken(c.env.RELAY_SECRET || DEV_SECRET, runId, scope, 24 * 3600));
});

const run = new Hono<App>({ strict: false });

run.use(authenticate);
run.use(async (c, next) => {
  const runId = check(RunId, c.req.param("runId"), "run id");
  c.set("runId", runId);
  c.set("run", c.env.RUNS.get(c.env.RUNS.idFromName(runId)));
  await next();
});

/** Append a batch of stream-json lines (NDJSON), optionally as an idempotent producer. */
run.post(
  "/events",
  need("runner"),
  (c, next) => {
    const mime = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() ?? "";
    if (!NDJSON_TYPES.has(mime)) {
      throw new ApiError(415, "unsupported_media_type", "send the batch as application/x-ndjson, one JSON object per line");
    }
    const maxSize = limits(c.env).maxBatchBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, "batch_too_large", `a batch may be at most ${maxSize} bytes`);
      },
    })(c, next);
  },
  async (c) => {
    const producer = producerOf(c.req.raw.headers);
    const batch = parseNdjson(new Uint8Array(await c.req.arrayBuffer()), limits(c.env));
    const result = unwrap(await c.var.run.append(c.var.runId, batch.lines, batch.bytes, producer));
    c.header(NEXT_OFFSET_HEADER, String(result.lastEventId));
    if (result.producer) {
      c.header(ProducerHeaders.epoch, String(result.producer.epoch));
      c.header(ProducerHeaders.seq, String(result.producer.seq));
    }
    if (result.duplicate) return c.body(null, 204);
    return c.json({ lastEventId: result.lastEventId } satisfies AppendReply, 200);
  },
);

/** A page of the log, for pull clients and backfill. */
run.get("/events", need("read"), async (c) => {
  const after = check(EventId, c.req.query("after") ?? "0", "after");
  const max = limits(c.env).maxPageSize;
  const limit = Math.min(check(EventId, c.req.query("limit") ?? String(max), "limit") || max, max);
  const page = unwrap(await c.var.run.page(after, limit));
  c.header(NEXT_OFFSET_HEADER, String(page.entries.at(-1)?.id ?? after));
  c.header("Content-Type", "application/json");
  const rest = JSON.stringify({ lastEventId: page.lastEventId, status: page.status, ended: page.ended }).slice(1);
  return c.body(`{"events":[${page.entries.map(entryJson).join(",")}],${rest}`);
});

/** Server-Sent Events: replay after the cursor, then live, then `end`. */
run.get("/stream", need("read"), async (c) => {
  // EventSource sends Last-Event-ID when it reconnects; it wins over the ?after of the original URL.
  const cursor = cursorOf(c.req.header("Last-Event-ID") || c.req.query("after"));
  const res = await subscribe(c, "sse", cursor);
  if (!res.webSocket) return res; // 204 after the end, or an error
  const l = limits(c.env);
  return sseBridge(res.webSocket, { keepAliveMs: l.sseKeepAliveSeconds * 1000, maxBufferBytes: l.sseMaxBufferBytes });
});

/** WebSocket viewers, accepted by the object with the hibernation API. */
run.get("/ws", need("read"), async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "upgrade_required", "this endpoint takes a WebSocket upgrade");
  }
  return subscribe(c, "ws", cursorOf(c.req.query("after")));
});

/** A participant sends a message to the running agent. */
run.post("/messages", need("write"), inputBodyLimit, async (c) => {
  const body = check(MessageBody, await jsonBody(c), "body");
  const input = { kind: "message" as const, message: toUserMessage(body.message), ...(body.clientId && { clientId: body.clientId }) };
  const result = unwrap(await c.var.run.postInput(c.var.runId, input, idempotencyKeyOf(c)));
  return c.json({ id: result.id, eventId: result.eventId }, 202);
});

/** A participant asks the agent to stop its turn. The body is optional. */
run.post("/interrupt", need("write"), inputBodyLimit, async (c) => {
  const hasBody = c.req.header("Content-Length") !== "0" && c.req.header("Content-Type") !== undefined;
  const body = hasBody ? check(InterruptBody, await jsonBody(c), "body") : {};
  const input = { kind: "interrupt" as const, ...(body.clientId && { clientId: body.clientId }) };
  const result = unwrap(await c.var.run.postInput(c.var.runId, input, idempotencyKeyOf(c)));
  return c.json({ id: result.id, eventId: result.eventId }, 202);
});

/** The runner's long-poll for inputs; `after=K` acknowledges every input up to K. */
run.get("/inputs", need("runner"), async (c) => {
  const after = check(EventId, c.req.query("after") ?? "0", "after");
  const max = limits(c.env).maxWaitSeconds;
  const wait = check(EventId, c.req.query("wait") ?? String(DEFAULT_WAIT_SECONDS), "wait");
  if (wait > max) throw new ApiError(400, "bad_wait", `wait may be at most ${max} seconds`);
  const reply = unwrap(await c.var.run.pollInputs(after, wait * 1000));
  return c.json({ inputs: reply.inputs, ended: reply.ended });
});

/** The runner ends the run with its final status. */
run.post("/complete", need("runner"), async (c) => {
  const body = check(CompleteBody, await jsonBody(c), "body");
  const result = unwrap(await c.var.run.complete(c.var.runId, body));
  return c.json({ lastEventId: result.lastEventId });
});

/** Status and viewer counts. */
run.get("/", need("read"), async (c) => {
  const { ok: _, ...info } = unwrap(await c.var.run.info());
  return c.json(info);
});

/** Admin: delete the run's data now; its viewers are ended. */
run.delete("/", need("admin"), async (c) => {
  unwrap(await c.var.run.erase());
  return c.body(null, 204);
});

app.route(`${API_BASE}/:runId`, run);

function subscribe(c: Context<App>, transport: "sse" | "ws", after: CursorValue): Promise<Response> {
  // The object needs the scope: a read-only WebSocket viewer may not send inputs.
  const url = `https://run/subscribe?transport=${transport}&after=${after}&run=${c.var.runId}&scope=${c.var.auth.scope}`;
  return c.var.run.fetch(url, { headers: { Upgrade: "websocket" } });
}

/** Message bodies are small; refuse a large one before reading it (the object checks the exact size). */
function inputBodyLimit(c: Context<App>, next: () => Promise<void>) {
  const maxSize = limits(c.env).maxMessageBytes + 4096;
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, "message_too_large", `a message may be at most ${limits(c.env).maxMessageBytes} bytes`);
    },
  })(c, next);
}

function idempotencyKeyOf(c: Context<App>): string | undefined {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  return key === undefined ? undefined : check(IdempotencyKey, key, "idempotency key");
}

/** CORS: the origins in ALLOWED_ORIGINS; under `npm run dev`, any. */
function allowedOrigin(origin: string, c: Context<App>): string | null {
  const allowed = (c.env.ALLOWED_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean);
  if (allowed.includes(origin)) return origin;
  if (isDev(c.env) && (allowed.length === 0 || allowed.includes("*"))) return "*";
  return null;
}

function cursorOf(value: string | undefined): CursorValue {
  return check(Cursor, value ?? "0", "cursor", "bad_cursor");
}

/** `Producer-Id`, `Producer-Epoch`, `Producer-Seq`: all three or none. */
function producerOf(headers: Headers) {
  const id = headers.get(ProducerHeaders.id);
  const epoch = headers.get(ProducerHeaders.epoch);
  const seq = headers.get(ProducerHeaders.seq);
  if (id === null && epoch === null && seq === null) return undefined;
  if (id === null || epoch === null || seq === null) {
    throw new ApiError(400, "bad_producer", `send ${ProducerHeaders.id}, ${ProducerHeaders.epoch} and ${ProducerHeaders.seq} together, or none of them`);
  }
  return check(Producer, { id, epoch, seq }, "producer headers", "bad_producer");
}

async function jsonBody(c: Context<App>): Promise<unknown> {
  if (c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  try {
    return await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
}

/** Parses with a zod schema, or throws a 400 naming what was wrong. */
function check<S extends z.ZodType>(schema: S, value: unknown, what: string, code = `bad_${what.replaceAll(" ", "_")}`): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${what}.${issue.path.join(".")}` : what;
  throw new ApiError(400, code, `invalid ${where}: ${issue?.message ?? "invalid"}`);
}
