/** The vars the run object and the Worker read their limits from, parsed once per env object. */
import { z } from "zod";
import { DEFAULT_LIMITS, LIMIT_CAPS, type Limits } from "../protocol/index.ts";

/** Vars that set limits; every one is optional (docs/protocol.md, "Limits"). */
export interface LimitVars {
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
  /** Deepest nesting of JSON a client sends (default 64). */
  MAX_JSON_DEPTH?: string;
  /** Seconds without a runner request before a running run becomes `stalled` (default 90). */
  RUNNER_LEASE_SECONDS?: string;
  /** Seconds a run may stay `stalled` before it ends `failed` with `runner_lost` (default 3600). */
  STALLED_FAIL_AFTER_SECONDS?: string;
  /** Viewers the run object holds before new ones go to fan-out shards (default 500; shard.ts). */
  FANOUT_SHARD_SIZE?: string;
}

const VAR_OF: Record<keyof Limits, keyof LimitVars> = {
  maxLineBytes: "MAX_LINE_BYTES",
  maxBatchBytes: "MAX_BATCH_BYTES",
  maxBatchLines: "MAX_BATCH_LINES",
  maxPageSize: "MAX_PAGE_SIZE",
  sseKeepAliveSeconds: "SSE_KEEPALIVE_SECONDS",
  sseMaxBufferBytes: "SSE_MAX_BUFFER_BYTES",
  maxMessageBytes: "MAX_MESSAGE_BYTES",
  maxPendingInputs: "MAX_PENDING_INPUTS",
  maxWaitSeconds: "MAX_WAIT_SECONDS",
  maxJsonDepth: "MAX_JSON_DEPTH",
  runnerLeaseSeconds: "RUNNER_LEASE_SECONDS",
  stalledFailAfterSeconds: "STALLED_FAIL_AFTER_SECONDS",
  retentionDays: "RETENTION_DAYS",
};

/** A positive number (an integer, except for days); an unusable value falls back to the default. */
const limitVar = (key: keyof Limits) => {
  const fallback = DEFAULT_LIMITS[key];
  const n = key === "retentionDays" ? z.coerce.number().positive() : z.coerce.number().int().positive();
  const cap = LIMIT_CAPS[key];
  return (cap === undefined ? n : n.transform((v) => Math.min(v, cap))).catch(fallback).default(fallback);
};

const LimitsFromVars = z
  .object(Object.fromEntries(Object.entries(VAR_OF).map(([key, name]) => [name, limitVar(key as keyof Limits)])))
  .transform((v) => Object.fromEntries(Object.entries(VAR_OF).map(([key, name]) => [key, v[name]])) as Limits);

const cache = new WeakMap<object, Limits>();

/** Limits from the vars, falling back to the defaults; parsed once per env object. */
export function limits(env: LimitVars): Limits {
  let l = cache.get(env);
  if (!l) cache.set(env, (l = LimitsFromVars.parse(env)));
  return l;
}

/** Viewers per object of the fan-out tier (FANOUT_SHARD_SIZE, default 500): the run object's, then each shard's (shards.ts). */
export const DEFAULT_FANOUT_SHARD_SIZE = 500;
const ShardSize = z.coerce.number().int().positive().catch(DEFAULT_FANOUT_SHARD_SIZE).default(DEFAULT_FANOUT_SHARD_SIZE);
const shardSizes = new WeakMap<object, number>();
/** Parsed once per env object, like `limits`: every new viewer asks. */
export function fanoutShardSize(env: LimitVars): number {
  let size = shardSizes.get(env);
  if (size === undefined) shardSizes.set(env, (size = ShardSize.parse(env.FANOUT_SHARD_SIZE)));
  return size;
}
