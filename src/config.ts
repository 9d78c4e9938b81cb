/** The Worker's bindings and vars, and the limits read from them. */
import { z } from "zod";
import { DEFAULT_LIMITS } from "./protocol";
import type { RunObject } from "./run/object";

export interface Env {
  RUNS: DurableObjectNamespace<RunObject>;
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
    }),
  );

const cache = new WeakMap<object, Limits>();

/** Limits from the Worker's vars, falling back to ARCHITECTURE §5's defaults. */
export function limits(env: Env): Limits {
  let l = cache.get(env);
  if (!l) cache.set(env, (l = LimitsFromVars.parse(env)));
  return l;
}
