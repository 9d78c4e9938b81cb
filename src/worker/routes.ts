/**
 * The run's HTTP API (base `/api/v1/workflows/:runId`): validates every
 * parameter, query and body, then forwards to the run's object over RPC. The
 * Worker holds no state; it only holds SSE connections, bridged onto the
 * object's WebSockets.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  CompleteBody,
  DEFAULT_WAIT_SECONDS,
  EventId,
  entryJson,
  IDEMPOTENCY_HEADER,
  IdempotencyKey,
  inputsReplyJson,
  InterruptBody,
  MessageBody,
  NEXT_OFFSET_HEADER,
  pollWaitCap,
  Producer,
  ProducerHeaders,
  RunId,
  toUserMessage,
  UndeliveredBody,
  type AppendReply,
  type ClaimReply,
  type Cursor as CursorValue,
} from "../protocol/index.ts";
import { SHARD_HEADER, SHARD_URL_HEADER } from "../run/shard.ts";
import { subscribeRequest, type Transport } from "../run/subscribe.ts";
import { authenticate, need } from "./auth.ts";
import { limits } from "./config.ts";
import { ApiError, unwrap } from "./errors.ts";
import { check, cursorOf, fenceOf, jsonBody, mediaType, producerOf } from "./http.ts";
import { parseNdjson } from "./ndjson.ts";
import * as op from "./operations.ts";
import { sessionRoutes } from "./session.ts";
import type { RunApp } from "./vars.ts";
import { viewerBridge } from "./sse.ts";

const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

export const run = new Hono<RunApp>({ strict: false });

run.use(authenticate);
run.use(async (c, next) => {
  const runId = check(RunId, c.req.param("runId"), "run id");
  c.set("runId", runId);
  c.set("run", c.var.runs.get(c.var.runs.idFromName(runId)));
  await next();
});

/** Append a batch of stream-json lines (NDJSON), optionally as an idempotent producer. */
run.post(
  "/events",
  op.appendEvents,
  need("runner"),
  (c, next) => {
    if (!NDJSON_TYPES.has(mediaType(c))) {
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
    const controls = batch.controls.length > 0 ? batch.controls : undefined;
    const result = unwrap(await c.var.run.append(c.var.runId, batch.lines, batch.bytes, producer, batch.marks, controls));
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
run.get("/events", op.readEvents, need("read"), async (c) => {
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
run.get("/stream", op.streamEvents, need("read"), async (c) => {
  // EventSource sends Last-Event-ID when it reconnects; it wins over the ?after of the original URL.
  const cursor = cursorOf(c.req.header("Last-Event-ID") || c.req.query("after"));
  const res = await subscribe(c, "sse", cursor);
  if (!res.webSocket) return res; // 204 after the end, or an error
  return viewerBridge(res.webSocket, limits(c.env), c.var.runId, c.var.auth.exp);
});

/** WebSocket viewers, accepted by the object with the hibernation API. */
run.get("/ws", op.openWebSocket, need("read"), async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "upgrade_required", "this endpoint takes a WebSocket upgrade");
  }
  return subscribe(c, "ws", cursorOf(c.req.query("after")));
});

/** A participant sends a message to the running agent. */
run.post("/messages", op.postMessage, need("write"), inputBodyLimit, async (c) => {
  const body = check(MessageBody, await jsonBody(c), "body");
  const input = { kind: "message" as const, message: toUserMessage(body.message), ...(body.clientId && { clientId: body.clientId }) };
  const result = unwrap(await c.var.run.postInput(c.var.runId, input, idempotencyKeyOf(c)));
  return c.json({ id: result.id, eventId: result.eventId }, 202);
});

/** A participant asks the agent to stop its turn. The body is optional. */
run.post("/interrupt", op.interrupt, need("write"), inputBodyLimit, async (c) => {
  const hasBody = c.req.header("Content-Length") !== "0" && c.req.header("Content-Type") !== undefined;
  const body = hasBody ? check(InterruptBody, await jsonBody(c), "body") : {};
  const input = { kind: "interrupt" as const, ...(body.clientId && { clientId: body.clientId }) };
  const result = unwrap(await c.var.run.postInput(c.var.runId, input, idempotencyKeyOf(c)));
  return c.json({ id: result.id, eventId: result.eventId }, 202);
});

/**
 * The runner's long-poll for inputs; `after=K` acknowledges every input up to
 * K. The wait is capped at a third of the runner's lease, so a live runner
 * calls in often enough. The reply is joined from the inputs' stored JSON
 * text: nothing between the acknowledgement and the answer re-serialises them.
 */
run.get("/inputs", op.pollInputs, need("runner"), async (c) => {
  const after = check(EventId, c.req.query("after") ?? "0", "after");
  const l = limits(c.env);
  const wait = check(EventId, c.req.query("wait") ?? String(DEFAULT_WAIT_SECONDS), "wait");
  if (wait > l.maxWaitSeconds) throw new ApiError(400, "bad_wait", `wait may be at most ${l.maxWaitSeconds} seconds`);
  const reply = unwrap(await c.var.run.pollInputs(after, Math.min(wait, pollWaitCap(l)) * 1000, fenceOf(c.req.raw.headers)));
  c.header("Content-Type", "application/json");
  return c.body(inputsReplyJson(reply.inputs, reply.ended, l.runnerLeaseSeconds));
});

/** The runner gives up on queued inputs (e.g. its session closed): they are logged undelivered. */
run.post("/inputs/undelivered", op.undeliveredInputs, need("runner"), async (c) => {
  const body = check(UndeliveredBody, await jsonBody(c), "body");
  const result = unwrap(await c.var.run.undelivered(c.var.runId, body.inputIds, body.reason));
  return c.json({ lastEventId: result.lastEventId } satisfies AppendReply);
});

/** A runner taking over fences the producer's current epoch and gets the next (its first batch is seq 0). */
run.post("/producers/:producerId/claim", op.claimProducer, need("runner"), async (c) => {
  const producerId = check(Producer.shape.id, c.req.param("producerId"), "producer id", "bad_producer");
  const result = unwrap(await c.var.run.claim(producerId));
  return c.json({ producerId: result.producerId, epoch: result.epoch } satisfies ClaimReply);
});

/** The runner is alive (between long-polls, e.g. while it has no poll open). */
run.post("/heartbeat", op.heartbeat, need("runner"), async (c) => {
  unwrap(await c.var.run.heartbeat());
  return c.body(null, 204);
});

/** The runner ends the run with its final status. */
run.post("/complete", op.completeRun, need("runner"), async (c) => {
  const body = check(CompleteBody, await jsonBody(c), "body");
  const result = unwrap(await c.var.run.complete(c.var.runId, body));
  return c.json({ lastEventId: result.lastEventId } satisfies AppendReply);
});

/** Status and viewer counts. */
run.get("/", op.runInfo, need("read"), async (c) => {
  const { ok: _, ...info } = unwrap(await c.var.run.info());
  return c.json(info);
});

/** Admin: delete the run's data now; its viewers are ended. */
run.delete("/", op.deleteRun, need("admin"), async (c) => {
  unwrap(await c.var.run.erase());
  return c.body(null, 204);
});

sessionRoutes(run, subscribe);

async function subscribe(c: Context<RunApp>, transport: Transport, after: CursorValue): Promise<Response> {
  const { scope, exp } = c.var.auth;
  const res = await c.var.run.fetch(subscribeRequest({ transport, after, run: c.var.runId, scope, ...(exp !== undefined && { exp }) }));
  // A hot run's object sends new viewers to one of its fan-out shards (src/run/shards.ts): the upgrade goes there.
  const shard = res.headers.get(SHARD_HEADER);
  const fanout = c.env.FANOUT;
  if (shard === null || !fanout) return res;
  return fanout.get(fanout.idFromName(shard)).fetch(new Request(res.headers.get(SHARD_URL_HEADER)!, { headers: { Upgrade: "websocket" } }));
}

/** Message bodies are small; refuse a large one before reading it (the object checks the exact size). */
function inputBodyLimit(c: Context<RunApp>, next: () => Promise<void>) {
  const maxSize = limits(c.env).maxMessageBytes + 4096;
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, "message_too_large", `a message may be at most ${limits(c.env).maxMessageBytes} bytes`);
    },
  })(c, next);
}

function idempotencyKeyOf(c: Context<RunApp>): string | undefined {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  return key === undefined ? undefined : check(IdempotencyKey, key, "idempotency key");
}
