/** Default limits (docs/protocol.md, "Limits"); each can be overridden by a Worker var, within its cap. */
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
  /** Deepest nesting of arrays and objects in any JSON a client sends (checked before it is parsed). */
  maxJsonDepth: 64,
  /** A run whose runner is not heard from for this long becomes `stalled`. */
  runnerLeaseSeconds: 90,
  /** A run stalled for this long ends `failed` (`runner_lost`). */
  stalledFailAfterSeconds: 3600,
  retentionDays: 7,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/**
 * Hard ceilings a var cannot raise a limit past. A line is one SQLite row,
 * and a row holds at most 2,000,000 bytes with its other columns.
 */
export const LIMIT_CAPS: Partial<Limits> = {
  maxLineBytes: 1_900_000,
};

/** The longest `GET /inputs` wait the relay allows for a lease: a live runner calls in at least three times a lease. */
export const pollWaitCap = (l: Pick<Limits, "maxWaitSeconds" | "runnerLeaseSeconds">): number =>
  Math.min(l.maxWaitSeconds, Math.max(1, Math.floor(l.runnerLeaseSeconds / 3)));

/**
 * Flow control of the streams (docs/protocol.md, "Flow control"). Sizes are
 * characters of frame text (a frame's `length`: bytes, for ASCII text), as
 * both ends count them without encoding anything.
 */
export const FLOW = {
  /** Unacknowledged text the run object keeps on its way to one WebSocket viewer (the SSE bridge's is `sseMaxBufferBytes`). */
  wsWindow: 4 * 1024 * 1024,
  /** A frame holds entries up to about this much text (more only when one entry is larger on its own). */
  frameChars: 1024 * 1024,
  /** A client acknowledges at least every this much text it has processed (a sixteenth of the WebSocket window). */
  ackEvery: 256 * 1024,
  /** A WebSocket viewer that never acknowledges: after its first window, this much more every `paceMs` (about 5 MiB/s). */
  paceChars: 256 * 1024,
  paceMs: 50,
  /** `retry:` at the start of an SSE stream: how long EventSource waits before it reconnects (ms). */
  sseRetryMs: 1000,
} as const;
