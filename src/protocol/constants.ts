/**
 * Wire constants: paths, headers, close codes and keep-alive frames. No
 * dependencies, so a browser bundle can use them without the schemas.
 */

/** Every run's API lives under `${API_BASE}/:runId`. */
export const API_BASE = "/api/v1/workflows";

/** Close code sent to WebSocket clients once the run has ended and they have everything. */
export const CLOSE_RUN_ENDED = 1000;
/** Close code sent to WebSocket viewers when their run is deleted: do not reconnect. */
export const CLOSE_RUN_DELETED = 4410;

/** Keep-alive pair, answered by the runtime without waking the run object. */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** The idempotent-producer headers (the Durable Streams protocol's producer semantics; docs/protocol.md). */
export const ProducerHeaders = {
  id: "Producer-Id",
  epoch: "Producer-Epoch",
  seq: "Producer-Seq",
  expectedSeq: "Producer-Expected-Seq",
  receivedSeq: "Producer-Received-Seq",
} as const;

/** Header naming the offset to read from next (Durable Streams). */
export const NEXT_OFFSET_HEADER = "Stream-Next-Offset";

/** Header that makes `POST /messages` and `POST /interrupt` safe to retry. */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** The `wait` a runner should use for `GET /inputs`: under the cap, with room to spare. */
export const DEFAULT_WAIT_SECONDS = 25;

/** Close code sent to a WebSocket viewer when its token expires: renew the token and resume from the last id. */
export const CLOSE_TOKEN_EXPIRED = 4401;
/** The SSE event that ends a stream whose token expired (no `id:`; renew the token and resume from the last id). */
export const SSE_TOKEN_EXPIRED_EVENT = "token_expired";
