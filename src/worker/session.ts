/**
 * Claude Code's remote-session protocol per run (docs/remote-session.md), so
 * `@anthropic-ai/claude-agent-sdk/browser`'s `query({ sse: … })` works against
 * the relay: `GET …/session/events/stream` is the run's log framed as session
 * events (the object frames it, session-framing.ts), and `POST
 * …/session/events` queues what the client sends — a user message, a control
 * request, an answer to the agent's control request — as the run's inputs.
 */
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SessionPost, type Cursor, type NewInput, type SessionPayload, type SessionPostReply } from "../protocol/index.ts";
import type { Transport } from "../run/subscribe.ts";
import { forbidUnless, need } from "./auth.ts";
import { limits } from "./config.ts";
import { ApiError, unwrap } from "./errors.ts";
import { check, cursorOf, jsonBody } from "./http.ts";
import { describeRoute } from "hono-openapi";
import { ClientEventData, SessionPost as SessionPostSchema, SessionPostReply as SessionPostReplySchema } from "../protocol/index.ts";
import { eventStream, json, jsonRequest, needs, params, runErrors } from "./openapi.ts";
import type { RunApp } from "./vars.ts";
import { viewerBridge } from "./sse.ts";

type Subscribe = (c: Context<RunApp>, transport: Transport, after: Cursor) => Promise<Response>;

const isInitialize = (p: SessionPayload) => p.type === "control_request" && p.request.subtype === "initialize";

/** What a posted payload queues: a user turn, or a control message for the runner to pass on. */
const inputOf = (p: SessionPayload): NewInput =>
  p.type === "user" ? { kind: "message", message: p.message, uuid: p.uuid } : { kind: "control", payload: p };

const STREAM_EXAMPLE = `id: 7
event: client_event
data: {"event_id":"7","sequence_num":7,"created_at":"2026-11-26T10:00:00.000Z","source":"worker","payload":{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Write","input":{}}}}

event: ephemeral_event
data: {"payload":{"type":"stream_event","event":{"type":"content_block_delta"}}}

`;

const sessionStream = describeRoute({
  operationId: "sessionStream",
  tags: ["remote session"],
  summary: "Follow the run as a Claude Code remote session (SSE)",
  description:
    "For `@anthropic-ai/claude-agent-sdk/browser` (`sse.streamUrl`); session id = run id. Every log entry is `event: client_event` with `id:` = its `sequence_num` (the log id) and data `ClientEventData`: " +
    "the runner's lines `source: \"worker\"`, what participants sent `source: \"client\"`, the relay's own entries `source: \"relay\"`. Live deltas are `event: ephemeral_event` (`{payload}`); " +
    "Claude Code's `command_lifecycle` lines also become `event: delivery_update`. Resume with `Last-Event-ID`. A cursor past the end gets `event: catch_up_truncated`, then the stream goes on from the end. " +
    "The stream stays open after the run ends. See docs/remote-session.md.",
  security: needs("read", true),
  parameters: [params.runId, params.lastEventId, params.token],
  responses: { 200: eventStream(ClientEventData, "An SSE stream of session events.", STREAM_EXAMPLE), ...runErrors({ 400: ["bad_cursor"] }) },
});

const sessionPost = describeRoute({
  operationId: "sessionPost",
  tags: ["remote session"],
  summary: "Send events to the run as a Claude Code remote session",
  description:
    "For `@anthropic-ai/claude-agent-sdk/browser` (`sse.sendUrl`). A `user` payload is queued as a message, a `control_request` or `control_response` as a control input for the runner; " +
    "each is logged (and echoed on the stream as a `client_event`). The payload's `uuid` makes the post idempotent. An answer to the agent's control request (a `control_response`) is taken once: the first answer wins, " +
    "later ones get `409 request_settled`; an unknown `request_id` gets `404 unknown_request`; an `error` response does not answer (`422 not_an_answer`). All events of a post are taken, or none. " +
    "A `read` token may post `initialize` control requests only (the SDK sends one first, and gives up if it is refused); everything else takes `write`.",
  security: needs("read"),
  parameters: [params.runId],
  requestBody: jsonRequest(SessionPostSchema),
  responses: {
    200: json(SessionPostReplySchema, "Stored (or already stored, for a retried uuid)."),
    ...runErrors({
      400: ["bad_body", "invalid_json", "invalid_utf8", "too_deep", "session_mismatch"],
      404: ["unknown_request"],
      409: ["run_ended", "request_settled"],
      413: ["message_too_large"],
      415: ["unsupported_media_type"],
      422: ["not_an_answer"],
      429: ["too_many_inputs"],
    }),
  },
});

export function sessionRoutes(run: Hono<RunApp>, subscribe: Subscribe): void {
  /** The session's events: replay after `Last-Event-ID` (a `sequence_num`), then live; it stays open after the run ends. */
  run.get("/session/events/stream", sessionStream, need("read"), async (c) => {
    const res = await subscribe(c, "session", cursorOf(c.req.header("Last-Event-ID") || c.req.query("after")));
    if (!res.webSocket) return res;
    return viewerBridge(res.webSocket, limits(c.env), c.var.runId, c.var.auth.exp);
  });

  /** A client's events, stored (and passed to the runner) all or none; each payload's uuid makes it idempotent. */
  run.post("/session/events", sessionPost, need("read"), sessionBodyLimit, async (c) => {
    const body = check(SessionPost, await jsonBody(c), "body");
    // The SDK's first post is `initialize`, and it gives up on a refusal: a `read` token may send that, nothing else.
    if (!body.events.every(({ payload }) => isInitialize(payload))) forbidUnless(c, "write");
    if (body.session_id !== c.var.runId) {
      throw new ApiError(400, "session_mismatch", `session_id ${JSON.stringify(body.session_id.slice(0, 128))} is not this run (${c.var.runId})`);
    }
    const items = body.events.map(({ payload }) => ({ input: inputOf(payload), key: `session:${payload.uuid}` }));
    const { accepted } = unwrap(await c.var.run.postSession(c.var.runId, items));
    const events = accepted.map((a, i) => ({ event_id: body.events[i]!.payload.uuid, sequence_num: a.eventId }));
    return c.json({ events } satisfies SessionPostReply);
  });
}

/** A post holds one event or a few; refuse a large body before reading it (the object checks each payload's size). */
function sessionBodyLimit(c: Context<RunApp>, next: () => Promise<void>) {
  const maxSize = limits(c.env).maxLineBytes + 4096;
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, "message_too_large", `a session post may be at most ${maxSize} bytes`);
    },
  })(c, next);
}
