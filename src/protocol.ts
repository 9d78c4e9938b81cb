/**
 * The wire contract: every body, frame and envelope that crosses a boundary,
 * as zod schemas and the TypeScript types inferred from them. The Worker, the
 * run object, the runner and the client library all import from here, so there
 * is one source of truth. Nothing in this module may depend on a runtime.
 */
import { z } from "zod";

export { API_BASE, CLOSE_RUN_DELETED } from "./constants.ts";

/** A run id: 1–128 characters of `[A-Za-z0-9._-]`. */
export const RunId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, "a run id is 1–128 characters of A–Z, a–z, 0–9, '.', '_' or '-'");

/**
 * An event id used as a cursor: "give me what comes after this id". `0` means
 * from the start. Zero-padded forms are accepted so that string-sortable
 * offsets (Durable Streams style) work too.
 */
export const EventId = z
  .string()
  .regex(/^\d{1,16}$/, "a cursor is a non-negative integer event id")
  .transform(Number)
  .refine(Number.isSafeInteger, "a cursor must be at most 2^53-1");

/** A cursor as a client may send it: an event id, or `live` (only what comes next). */
export const Cursor = z.union([z.literal("live"), EventId]);
export type Cursor = z.infer<typeof Cursor>;

export const EntryType = z.enum(["sdk", "input", "status"]);
export type EntryType = z.infer<typeof EntryType>;

/** `pending`: nothing has been written to the run yet. */
export const RunStatus = z.enum(["pending", "running", "completed", "failed", "cancelled"]);
export type RunStatus = z.infer<typeof RunStatus>;

export const FinalStatus = z.enum(["completed", "failed", "cancelled"]);
export type FinalStatus = z.infer<typeof FinalStatus>;

/** One entry of a run's log. For `sdk` entries `data` is the stream-json line. */
export const Entry = z.object({
  id: z.number().int().positive(),
  ts: z.number().int(),
  type: EntryType,
  data: z.record(z.string(), z.unknown()),
});
export type Entry = z.infer<typeof Entry>;

/** The data of a `status` entry. */
export const StatusData = z.object({ status: FinalStatus, reason: z.string().optional() });
export type StatusData = z.infer<typeof StatusData>;

/** `POST /complete` body. */
export const CompleteBody = z.strictObject({
  status: FinalStatus,
  reason: z.string().max(4096).optional(),
});
export type CompleteBody = z.infer<typeof CompleteBody>;

/** The idempotent-producer triple (Durable Streams PROTOCOL.md §5.2.1). */
export const ProducerHeaders = {
  id: "Producer-Id",
  epoch: "Producer-Epoch",
  seq: "Producer-Seq",
  expectedSeq: "Producer-Expected-Seq",
  receivedSeq: "Producer-Received-Seq",
} as const;
const ProducerNumber = z
  .string()
  .regex(/^(0|[1-9]\d{0,15})$/, "must be a non-negative integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "must be at most 2^53-1");
export const Producer = z.object({
  id: z.string().min(1, "must not be empty").max(256),
  epoch: ProducerNumber,
  seq: ProducerNumber,
});
export type Producer = z.infer<typeof Producer>;

/** Header naming the offset to read from next (Durable Streams). */
export const NEXT_OFFSET_HEADER = "Stream-Next-Offset";

/** A user turn as the Agent SDK takes it: text, or content blocks. */
export const UserMessage = z.strictObject({
  role: z.literal("user"),
  content: z.union([z.string().min(1, "a message needs text"), z.array(z.object({ type: z.string() }).catchall(z.any())).min(1)]),
});
export type UserMessage = z.infer<typeof UserMessage>;

/** What a participant may send as a message: plain text (the seed's shape) or an SDK user message. */
export const MessageInput = z.union([z.string().min(1, "a message needs text"), UserMessage]);
export const toUserMessage = (m: z.infer<typeof MessageInput>): UserMessage =>
  typeof m === "string" ? { role: "user", content: m } : m;

const ClientId = z.string().min(1).max(128);

/** `POST /messages` body. */
export const MessageBody = z.strictObject({ message: MessageInput, clientId: ClientId.optional() });

/** `POST /interrupt` body (optional). */
export const InterruptBody = z.strictObject({ clientId: ClientId.optional() });

export const InputKind = z.enum(["message", "interrupt"]);
export type InputKind = z.infer<typeof InputKind>;

/** An input as the relay accepted it, before it is queued. */
export type NewInput =
  | { kind: "message"; message: UserMessage; clientId?: string }
  | { kind: "interrupt"; clientId?: string };

/** `POST /messages` and `POST /interrupt` reply (202). */
export const InputAccepted = z.object({ id: z.number().int().positive(), eventId: z.number().int().positive() });
export type InputAccepted = z.infer<typeof InputAccepted>;

/** One queued input, as the runner receives it from `GET /inputs`. */
export const Input = z.object({
  id: z.number().int().positive(),
  kind: InputKind,
  message: UserMessage.optional(),
  clientId: z.string().optional(),
  createdAt: z.number().int(),
  eventId: z.number().int().positive(),
});
export type Input = z.infer<typeof Input>;

/** `GET /inputs` reply. */
export const InputsReply = z.object({ inputs: z.array(Input), ended: z.boolean() });
export type InputsReply = z.infer<typeof InputsReply>;

/**
 * The data of `input` log entries, which every viewer sees: a message or an
 * interrupt was accepted, or inputs reached the runner (`delivered`).
 */
export const InputEntryData = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("message"), inputId: z.number().int(), message: UserMessage, clientId: z.string().optional() }),
  z.object({ kind: z.literal("interrupt"), inputId: z.number().int(), clientId: z.string().optional() }),
  z.object({ kind: z.literal("delivered"), inputIds: z.array(z.number().int()) }),
]);
export type InputEntryData = z.infer<typeof InputEntryData>;

/** Header that makes `POST /messages` and `POST /interrupt` safe to retry. */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const IdempotencyKey = z.string().min(1).max(256);

/** `POST /events` reply. */
export const AppendReply = z.object({ lastEventId: z.number().int().nonnegative() });
export type AppendReply = z.infer<typeof AppendReply>;

/** `GET /events` reply. */
export const EventsPage = z.object({
  events: z.array(Entry),
  lastEventId: z.number().int().nonnegative(),
  status: RunStatus,
  ended: z.boolean(),
});
export type EventsPage = z.infer<typeof EventsPage>;

/** `GET /` reply. */
export const RunInfo = z.object({
  runId: RunId,
  status: RunStatus,
  reason: z.string().optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  lastEventId: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** Connected viewers, and runners waiting in a `GET /inputs` long-poll. */
  clients: z.object({ sse: z.number().int(), ws: z.number().int(), runners: z.number().int() }),
  /** Inputs queued and not yet acknowledged by a runner. */
  pendingInputs: z.number().int().nonnegative(),
});
export type RunInfo = z.infer<typeof RunInfo>;

/** Every error the relay answers with. */
export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;
export const ErrorBody = z.object({ error: ErrorInfo });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Frames the relay sends on `GET /ws`. */
export const ServerFrame = z.discriminatedUnion("type", [
  /** One frame per appended batch (or replay page), ids strictly increasing. */
  z.object({ type: z.literal("events"), events: z.array(Entry) }),
  /** The run has ended and the client has everything; the socket closes next. */
  z.object({ type: z.literal("end"), status: FinalStatus, lastEventId: z.number().int() }),
  /** A client frame was refused; `clientId` echoes the frame's, if it had one. */
  z.object({ type: z.literal("error"), error: ErrorInfo, clientId: z.string().optional() }),
  z.object({ type: z.literal("pong") }),
  /** A `message` or `interrupt` frame was queued as input `id`, logged as entry `eventId`. */
  z.object({ type: z.literal("ack"), id: z.number().int(), eventId: z.number().int(), clientId: z.string().optional() }),
]);
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
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** Keep-alive pair, answered by the runtime without waking the run object. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** Close code sent to WebSocket clients once the run has ended and they have everything. */
export const CLOSE_RUN_ENDED = 1000;

/**
 * What a token lets its holder do with its run (`sub`):
 *   runner: append events, long-poll inputs, complete;
 *   read:   stream, ws (read-only), events page, status;
 *   write:  read + messages, interrupt, WebSocket input frames;
 *   admin:  everything, on any run when `sub` is "*", plus deletion and minting tokens.
 */
export const Scope = z.enum(["runner", "read", "write", "admin"]);
export type Scope = z.infer<typeof Scope>;

/** The claims of a runrelay token (HS256 JWT). */
export const TokenClaims = z.object({
  sub: z.union([RunId, z.literal("*")]),
  scope: Scope,
  exp: z.number().int(),
  iat: z.number().int().optional(),
});
export type TokenClaims = z.infer<typeof TokenClaims>;

/** `POST /api/v1/tokens` body (admin). */
export const MintBody = z
  .strictObject({
    runId: z.union([RunId, z.literal("*")]),
    scope: Scope,
    /** Lifetime in seconds (default 1 hour, at most 30 days). */
    ttlSeconds: z.number().int().positive().max(30 * 24 * 3600).optional(),
  })
  .refine((b) => b.runId !== "*" || b.scope === "admin", { message: "only an admin token may be for every run", path: ["runId"] });
export type MintBody = z.infer<typeof MintBody>;

export const MintReply = z.object({ token: z.string(), expiresAt: z.number().int() });
export type MintReply = z.infer<typeof MintReply>;


/** Default limits (ARCHITECTURE §5); each can be overridden by a Worker var. */
export const DEFAULT_LIMITS = {
  maxLineBytes: 1024 * 1024,
  maxBatchBytes: 8 * 1024 * 1024,
  maxBatchLines: 10_000,
  maxPageSize: 1000,
  sseKeepAliveSeconds: 20,
  sseMaxBufferBytes: 1024 * 1024,
  maxMessageBytes: 64 * 1024,
  maxPendingInputs: 1000,
  /** Longest `GET /inputs` wait, in seconds (deploys give in-flight requests 30 s). */
  maxWaitSeconds: 30,
  retentionDays: 7,
} as const;

/** The `wait` a runner should use for `GET /inputs`: under the cap, with room to spare. */
export const DEFAULT_WAIT_SECONDS = 25;
