/** The Worker's bindings and vars, and the limits read from them. */
import { z } from "zod";
import { DEFAULT_LIMITS } from "./protocol";
import type { RunObject } from "./run/object";

export interface Env {
  RUNS: DurableObjectNamespace<RunObject>;
  /** The secret tokens are signed with (a wrangler secret). Without it a deployed relay refuses every request. */
  RELAY_SECRET?: string;
  /** "true" under `npm run dev`: a built-in development secret, the dev token route, any CORS origin. */
  RELAY_DEV?: string;
  /** Comma-separated origins allowed to call the API from a browser ("*" only in dev). */
  ALLOWED_ORIGINS?: string;
  /** Days a run's data is kept after it ended or went quiet (default 7). */
  RETENTION_DAYS?: string;
  MAX_LINE_BYTES?: string;
  MAX_BATCH_BYTES?: string;
  MAX_BATCH_LINES?: string;
  MAX_PAGE_SIZE?: string;
  SSE_KEEPALIVE_SECONDS?: string;
  SSE_MAX_BUFFER_BYTES?: string;
  MAX_MESSAGE_BYTES?: string;
  MAX_PENDING_INPUTS?: string;
  MAX_WAIT_SECONDS?: string;
}

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

const limit = (fallback: number) => z.coerce.number().int().positive().catch(fallback).default(fallback);

const LimitsFromVars = z
  .object({
    MAX_LINE_BYTES: limit(DEFAULT_LIMITS.maxLineBytes),
    MAX_BATCH_BYTES: limit(DEFAULT_LIMITS.maxBatchBytes),
    MAX_BATCH_LINES: limit(DEFAULT_LIMITS.maxBatchLines),
    MAX_PAGE_SIZE: limit(DEFAULT_LIMITS.maxPageSize),
    SSE_KEEPALIVE_SECONDS: limit(DEFAULT_LIMITS.sseKeepAliveSeconds),
    SSE_MAX_BUFFER_BYTES: limit(DEFAULT_LIMITS.sseMaxBufferBytes),
    MAX_MESSAGE_BYTES: limit(DEFAULT_LIMITS.maxMessageBytes),
    MAX_PENDING_INPUTS: limit(DEFAULT_LIMITS.maxPendingInputs),
    MAX_WAIT_SECONDS: limit(DEFAULT_LIMITS.maxWaitSeconds),
    RETENTION_DAYS: z.coerce.number().positive().catch(DEFAULT_LIMITS.retentionDays).default(DEFAULT_LIMITS.retentionDays),
  })
  .transform(
    (v): Limits => ({
      maxLineBytes: v.MAX_LINE_BYTES,
      maxBatchBytes: v.MAX_BATCH_BYTES,
      maxBatchLines: v.MAX_BATCH_LINES,
      maxPageSize: v.MAX_PAGE_SIZE,
      sseKeepAliveSeconds: v.SSE_KEEPALIVE_SECONDS,
      sseMaxBufferBytes: v.SSE_MAX_BUFFER_BYTES,
      maxMessageBytes: v.MAX_MESSAGE_BYTES,
      maxPendingInputs: v.MAX_PENDING_INPUTS,
      maxWaitSeconds: v.MAX_WAIT_SECONDS,
      retentionDays: v.RETENTION_DAYS,
    }),
  );

const cache = new WeakMap<object, Limits>();

export const isDev = (env: Env) => env.RELAY_DEV === "true";

/** Used to sign tokens under `npm run dev` when no RELAY_SECRET is set. Never accepted outside dev. */
export const DEV_SECRET = "runrelay-development-secret";

/** The signing secret, or null when the relay is not configured to serve. */
export function relaySecret(env: Env): string | null {
  return env.RELAY_SECRET || (isDev(env) ? DEV_SECRET : null);
}

/** Limits from the Worker's vars, falling back to ARCHITECTURE §5's defaults. */
export function limits(env: Env): Limits {
  let l = cache.get(env);
  if (!l) cache.set(env, (l = LimitsFromVars.parse(env)));
  return l;
}
