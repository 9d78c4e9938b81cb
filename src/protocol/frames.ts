/** The WebSocket frames of `GET /ws`, both ways, and the events of `GET /stream`. */
import { z } from "zod";
import { SSE_TOKEN_EXPIRED_EVENT } from "./constants.ts";
import { ClientId, InputEntryData, MessageInput } from "./inputs.ts";
import { DeltaData, DraftData } from "./live.ts";
import { Entry, ErrorInfo, FinalStatus, StatusData } from "./run.ts";

/** Frames the relay sends on `GET /ws`. */
export const ServerFrame = z.discriminatedUnion("type", [
  /** One frame per appended batch (several for a batch over about 1 MiB) or replay frame, ids strictly increasing. */
  z.object({ type: z.literal("events"), events: z.array(Entry) }),
  /** The run has ended and the client has everything; the socket closes next. */
  z.object({ type: z.literal("end"), status: FinalStatus, lastEventId: z.number().int() }),
  /** A client frame was refused (`clientId` echoes the frame's, if it had one), or the token expired (code `token_expired`, then close 4401). */
  z.object({ type: z.literal("error"), error: ErrorInfo, clientId: z.string().optional() }),
  z.object({ type: z.literal("pong") }),
  /** A `message` or `interrupt` frame was queued as input `id`, logged as entry `eventId`. */
  z.object({ type: z.literal("ack"), id: z.number().int(), eventId: z.number().int(), clientId: z.string().optional() }),
  /** A live delta (a `stream_event` line, never stored), after durable entry `after`. */
  DeltaData.extend({ type: z.literal("delta") }),
  /** The in-flight message so far, before the deltas that follow it. */
  DraftData.extend({ type: z.literal("draft") }),
]).meta({
  id: "ServerFrame",
  description:
    "A frame the relay sends on `GET /ws` (JSON text): `events` (one per batch, several for a batch over about 1 MiB, ids strictly increasing), `end` (then the socket closes with 1000), `error` (a client frame was refused and the socket stays open; or code `token_expired`, then close 4401), `pong`, `ack` (a `message` or `interrupt` was queued), `delta` (a live `stream_event` line, not stored; `after` = the last durable id before it), `draft` (the in-flight message so far, sent when the viewer is caught up mid-message).",
});
export type ServerFrame = z.infer<typeof ServerFrame>;

/** Frames a client may send on `GET /ws`. */
export const ClientFrame = z.union([
  /** Replay from `after` (exclusive), then go on live. */
  z.strictObject({ type: z.literal("resume"), after: z.number().int().nonnegative() }),
  /** Send a message to the agent, like `POST /messages` (`text` is short for a plain-text `message`). */
  z.strictObject({ type: z.literal("message"), text: z.string().min(1, "a message needs text"), clientId: ClientId.optional() }),
  z.strictObject({ type: z.literal("message"), message: MessageInput, clientId: ClientId.optional() }),
  /** Ask the agent to stop its turn, like `POST /interrupt`. */
  z.strictObject({ type: z.literal("interrupt"), clientId: ClientId.optional() }),
  /** Flow control: every entry up to id `after` has been processed; the relay sends more as these come in. */
  z.strictObject({ type: z.literal("ack"), after: z.number().int().nonnegative() }),
]).meta({
  id: "ClientFrame",
  description:
    "A frame a client may send on `GET /ws` (JSON text): `resume`, `message`, `interrupt`, `ack` (flow control: the last id processed; a client that sends them gets its catch-up as fast as it reads it, one that never does gets it at a fixed pace). The exact text `{\"type\":\"ping\"}` is answered `{\"type\":\"pong\"}`.",
});
export type ClientFrame = z.infer<typeof ClientFrame>;


/** The data of the last SSE event, `event: end`: the run has ended and the client has every entry. */
export const SseEndData = z
  .object({ status: FinalStatus, lastEventId: z.number().int().nonnegative() })
  .meta({ id: "SseEndData", description: "The data of `event: end`: the run has ended and the client has every entry." });
export type SseEndData = z.infer<typeof SseEndData>;

const SseId = z.string().regex(/^\d+$/).meta({ description: "The `id:` line: the entry's id (EventSource's `lastEventId`)." });

/**
 * One event of `GET /stream`, as an SSE parser hands it over (`data` is JSON
 * text on the wire, shown parsed). For documentation and typing; the relay
 * frames SSE text itself (framing.ts).
 */
export const SseEvent = z
  .union([
    z
      .object({ id: SseId, data: z.record(z.string(), z.unknown()).meta({ description: "The stream-json line (an SDK message)." }) })
      .meta({ description: "An `sdk` entry: an unnamed event (no `event:` line), so `EventSource.onmessage` receives it." }),
    z.object({ id: SseId, event: z.literal("input"), data: InputEntryData }).meta({ description: "An `input` entry (`event: input`)." }),
    z
      .object({ id: SseId, event: z.literal("status"), data: StatusData })
      .meta({ description: "A `status` entry (`event: status`): the run stalled, came back or ended." }),
    z
      .object({ event: z.literal("delta"), data: DeltaData })
      .meta({ description: "A live delta (`event: delta`, no `id:`, so `lastEventId` stays on the last durable id): a `stream_event` line, never stored." }),
    z
      .object({ event: z.literal("draft"), data: DraftData })
      .meta({ description: "A draft snapshot (`event: draft`, no `id:`): the in-flight message so far, before the deltas that follow." }),
    z.object({ event: z.literal("end"), data: SseEndData }).meta({ description: "The last event (`event: end`, no `id:`); the stream closes next." }),
    z.object({ event: z.literal(SSE_TOKEN_EXPIRED_EVENT), data: ErrorInfo }).meta({
      description: "The token expired (`event: token_expired`, no `id:`); the stream closes next. Renew the token and resume from the last id.",
    }),
  ])
  .meta({
    id: "SseEvent",
    description:
      "One Server-Sent Event of `GET /stream`. The body is a sequence of them in SSE text format; `data` is one line of JSON text. Between events the relay sends `: keep-alive` comments.",
  });
export type SseEvent = z.infer<typeof SseEvent>;
