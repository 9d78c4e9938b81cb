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
