/**
 * The OpenAPI description of every route, as `describeRoute` middlewares
 * (no-ops at run time) that routes.ts and app.ts put first on each route.
 * The document is generated from them (openapi.ts); docs/protocol.md says
 * what each route means at length.
 */
import { describeRoute } from "hono-openapi";
import {
  AppendReply,
  ClaimReply,
  CompleteBody,
  EventsPage,
  InputAccepted,
  InputsReply,
  InterruptBody,
  MessageBody,
  MintBody,
  MintReply,
  RunInfo,
  SseEvent,
  UndeliveredBody,
} from "../protocol/index.ts";
import { authErrors, errors, eventStream, headers, json, jsonRequest, needs, params, runErrors } from "./openapi.ts";

const NDJSON = { schema: { type: "string", description: "One JSON object a line (stream-json); blank lines are ignored." } } as const;
/** What a JSON body can be refused for, before its schema is checked. */
const JSON_BODY = ["bad_body", "invalid_json", "invalid_utf8", "too_deep"];
const INPUT_ERRORS = { 400: [...JSON_BODY, "bad_idempotency_key"], 409: ["run_ended"], 413: ["message_too_large"], 415: ["unsupported_media_type"], 429: ["too_many_inputs"] };

const SSE_EXAMPLE = `id: 5
data: {"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Hello"}]}}

: keep-alive

id: 16
event: status
data: {"status":"completed","reason":"done"}

event: end
data: {"status":"completed","lastEventId":16}

`;

export const appendEvents = describeRoute({
  operationId: "appendEvents",
  tags: ["runner"],
  summary: "Append a batch of stream-json lines",
  description:
    "The batch is stored whole or not at all. With the three producer headers the append is idempotent: a retry of a batch the relay has answers `204`, a gap `409 producer_seq_gap`, a fenced epoch `403 stale_producer_epoch`.",
  security: needs("runner"),
  parameters: [params.runId, ...params.producer],
  requestBody: {
    required: true,
    description: "`application/x-ndjson` (also `application/ndjson`, `application/jsonl`): one JSON object a line.",
    content: { "application/x-ndjson": NDJSON, "application/ndjson": NDJSON, "application/jsonl": NDJSON },
  },
  responses: {
    200: json(AppendReply, "Appended.", { ...headers.nextOffset, ...headers.producer }),
    204: { description: "A producer's retry of a batch the relay already has: nothing appended.", headers: headers.producer },
    ...runErrors({
      400: ["invalid_line", "too_deep", "empty_batch", "bad_producer", "bad_producer_seq"],
      403: ["stale_producer_epoch"],
      409: ["run_ended", "producer_seq_gap"],
      413: ["line_too_large", "batch_too_large"],
      415: ["unsupported_media_type"],
    }),
  },
});

export const readEvents = describeRoute({
  operationId: "readEvents",
  tags: ["viewers"],
  summary: "Read a page of the log",
  description: "The entries after `after`, at most `limit`; an empty page means the reader is at the end.",
  security: needs("read"),
  parameters: [params.runId, params.after, params.limit],
  responses: {
    200: json(EventsPage, "A page of the log.", headers.nextOffset),
    ...runErrors({ 400: ["bad_after", "bad_limit", "cursor_out_of_range"] }),
  },
});

export const streamEvents = describeRoute({
  operationId: "streamEvents",
  tags: ["viewers"],
  summary: "Follow the log over Server-Sent Events",
  description:
    "Replays the entries after the cursor, then goes on live, then ends. The stream starts with `retry: 1000` (EventSource's reconnection delay) and is paced by its reader (docs/protocol.md, \"Flow control\"). `sdk` entries are unnamed events (`EventSource.onmessage`, data = the stream-json line); " +
    "`input` and `status` entries are named events (`event: input`, `event: status`); every entry carries an `id:` line. `: keep-alive` comments keep an idle stream open. " +
    "When the run has ended and the client has every entry: `event: end` with `SseEndData` (`{status, lastEventId}`), then the stream closes; reconnecting with that `Last-Event-ID` answers `204`, which stops an `EventSource`. " +
    "When the token expires: `event: token_expired` (no `id:`), then the stream closes; renew the token and resume from the last id. " +
    "Live deltas (the runner's `stream_event` lines, never stored) are `event: delta` with no `id:` line (`lastEventId` stays on the last durable id), data `DeltaData` `{after, event}`; " +
    "a viewer caught up mid-message first gets `event: draft` (`DraftData`: `{after, messageId, blocks}`), then the deltas that follow. `GET /events` never holds deltas. " +
    "Each event is an `SseEvent` (components.schemas).",
  security: needs("read", true),
  parameters: [params.runId, params.cursor, params.lastEventId, params.token],
  responses: {
    200: eventStream(SseEvent, "An SSE stream of `SseEvent`s.", SSE_EXAMPLE),
    204: { description: "The run has ended and the client has every entry." },
    ...runErrors({ 400: ["bad_cursor", "cursor_out_of_range"] }),
  },
});

export const openWebSocket = describeRoute({
  operationId: "openWebSocket",
  tags: ["viewers"],
  summary: "Follow the log over a WebSocket",
  description:
    "A WebSocket upgrade (`Upgrade: websocket`). The relay sends `ServerFrame`s: `events` frames from the cursor on, then `end` and close code 1000 (4410 if the run is deleted); live `delta` frames and, when caught up mid-message, a `draft` frame. " +
    "When the token expires: an `error` frame with code `token_expired`, then close code 4401; renew the token and resume from the last id. " +
    "A client sends `ClientFrame`s: `resume`, `ack` (flow control: `{type:\"ack\",after:N}`, the last id processed; a catch-up is sent as fast as these come back, within a 4 MiB window, or at a fixed pace to a client that never sends one), and with a `write` token `message` and `interrupt` (answered `ack` or `error`). Both schemas are in components.schemas.",
  security: needs("read", true),
  parameters: [params.runId, params.cursor, params.token],
  responses: {
    101: { description: "Switching to the WebSocket protocol; frames are `ServerFrame` and `ClientFrame` JSON text." },
    ...runErrors({ 400: ["bad_cursor", "cursor_out_of_range"], 426: ["upgrade_required"] }),
  },
});

export const postMessage = describeRoute({
  operationId: "postMessage",
  tags: ["participants"],
  summary: "Send a message to the running agent",
  description: "Queues the input, logs an `input` entry every viewer sees, and wakes a waiting runner.",
  security: needs("write"),
  parameters: [params.runId, params.idempotencyKey],
  requestBody: jsonRequest(MessageBody, true, true),
  responses: { 202: json(InputAccepted, "Queued."), ...runErrors(INPUT_ERRORS) },
});

export const interrupt = describeRoute({
  operationId: "interrupt",
  tags: ["participants"],
  summary: "Ask the agent to stop its turn",
  description: "Queues an interrupt the same way as a message. The body is optional.",
  security: needs("write"),
  parameters: [params.runId, params.idempotencyKey],
  requestBody: jsonRequest(InterruptBody, false, true),
  responses: { 202: json(InputAccepted, "Queued."), ...runErrors(INPUT_ERRORS) },
});

export const pollInputs = describeRoute({
  operationId: "pollInputs",
  tags: ["runner"],
  summary: "Long-poll for inputs",
  description:
    "Acknowledges every input up to `after`, then answers at once with the inputs after it, or `ended: true` once the run is over, or waits up to `wait` seconds for one " +
    "(at most a third of `RUNNER_LEASE_SECONDS`, so a live runner calls in often enough). Delivery is at least once: dedupe by `id`. The runner is heard from when the poll arrives and when it returns.",
  security: needs("runner"),
  parameters: [params.runId, params.ack, params.wait],
  responses: { 200: json(InputsReply, "Inputs after `after`, oldest first (none if the wait ran out)."), ...runErrors({ 400: ["bad_after", "bad_wait", "cursor_out_of_range"] }) },
});

export const undeliveredInputs = describeRoute({
  operationId: "undeliveredInputs",
  tags: ["runner"],
  summary: "Give up on queued inputs",
  description:
    "The runner will never deliver these inputs (e.g. its session closed). Those still queued leave the queue, logged in one `input` entry `{kind: \"undelivered\", inputIds, reason}`; ids not queued are ignored.",
  security: needs("runner"),
  parameters: [params.runId],
  requestBody: jsonRequest(UndeliveredBody),
  responses: { 200: json(AppendReply, "Done; `lastEventId` is the log's last id."), ...runErrors({ 400: JSON_BODY, 415: ["unsupported_media_type"] }) },
});

export const claimProducer = describeRoute({
  operationId: "claimProducer",
  tags: ["runner"],
  summary: "Claim a producer's next epoch",
  description:
    "A runner taking over: the producer's epoch becomes the current one + 1 (0 for a new producer), with no seq yet, so the next batch at it is `Producer-Seq` 0. " +
    "The old epoch is fenced at once: its next append is `403 stale_producer_epoch`.",
  security: needs("runner"),
  parameters: [params.runId, params.producerId],
  responses: { 200: json(ClaimReply, "The new epoch."), ...runErrors({ 400: ["bad_producer"], 409: ["run_ended"] }) },
});

export const heartbeat = describeRoute({
  operationId: "heartbeat",
  tags: ["runner"],
  summary: "The runner is alive",
  description:
    "Records that a runner was heard from, like any runner request; with a long-poll it starts the run's liveness: a running run whose runner is not heard from for `RUNNER_LEASE_SECONDS` becomes `stalled`. A stalled run comes back.",
  security: needs("runner"),
  parameters: [params.runId],
  responses: { 204: { description: "Heard." }, ...runErrors() },
});

export const completeRun = describeRoute({
  operationId: "completeRun",
  tags: ["runner"],
  summary: "End the run",
  description:
    "Inputs still queued become undelivered (one `input` entry `{kind: \"undelivered\", reason: \"run_ended\"}`), then a `status` entry, in one transaction; ends every viewer once it has everything, and answers waiting long-polls. " +
    "The same status again answers the same; a different one is `409 run_ended`.",
  security: needs("runner"),
  parameters: [params.runId],
  requestBody: jsonRequest(CompleteBody),
  responses: {
    200: json(AppendReply, "Ended; `lastEventId` is the id of the `status` entry."),
    ...runErrors({ 400: JSON_BODY, 409: ["run_ended"], 415: ["unsupported_media_type"] }),
  },
});

export const runInfo = describeRoute({
  operationId: "getRun",
  tags: ["viewers"],
  summary: "The run's status and viewer counts",
  description: "`404 run_not_found` until something is written to the run.",
  security: needs("read"),
  parameters: [params.runId],
  responses: { 200: json(RunInfo, "The run."), ...runErrors() },
});

export const deleteRun = describeRoute({
  operationId: "deleteRun",
  tags: ["admin"],
  summary: "Delete the run now",
  description: "Deletes the run's data; SSE viewers' streams end and WebSockets close with code 4410. The run then reads as not found.",
  security: needs("admin"),
  parameters: [params.runId],
  responses: { 204: { description: "Deleted." }, ...runErrors() },
});

export const mintToken = describeRoute({
  operationId: "mintToken",
  tags: ["admin"],
  summary: "Mint a token for a run",
  description: "For backends without a JWT library. Takes an admin token for every run (or the relay secret).",
  security: needs("admin"),
  requestBody: jsonRequest(MintBody),
  responses: { 201: json(MintReply, "The token."), ...authErrors({ 400: JSON_BODY, 415: ["unsupported_media_type"] }) },
});

export const devToken = describeRoute({
  operationId: "devToken",
  tags: ["development"],
  summary: "A ready token (development only)",
  description: "Under `npm run dev` only (`RELAY_DEV=true`): a token for `run` with `scope`, valid 24 hours, so the chat page and curl work with no setup. `404` otherwise.",
  security: [],
  parameters: [params.devRun, params.devScope],
  responses: {
    200: json(MintReply, "The token."),
    ...errors({ 400: ["bad_run_id", "bad_scope"], 404: ["not_found"], 500: ["relay_not_configured", "internal_error"] }),
  },
});
