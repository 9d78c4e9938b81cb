/**
 * What a phase is and what the phases share: the sizes they run at, their
 * context, their result, a time budget, and opening viewers on a run. Every
 * loop of a phase has a count and a deadline; a phase that overruns throws,
 * and run.ts reports it.
 */
import type { ViewerPool } from "../pool.ts";
import type { Target } from "../targets.ts";

export interface Sizes {
  /** Fan-out: viewers per transport, and lines sent. */
  viewers: number;
  fanoutLines: number;
  /** Sequential single-line POSTs; batches of `batchLines`. */
  posts: number;
  batches: number;
  batchLines: number;
  /** Catch-up: events stored, then read back. */
  events: number;
  /** Message round trips (and as many plain requests). */
  messages: number;
  /** Ingest latency: viewer counts (half SSE, half WebSocket) and batches sent at each. */
  ingestViewers: number[];
  ingestBatches: number;
  /** Delta fan-out: viewers in all (half SSE, half WebSocket), and stamped deltas sent, one per batch. */
  deltaViewers: number;
  deltaLines: number;
  /** stream_event delta lines appended for the rows-written figure, and lines per batch. */
  deltas: number;
  deltaBatch: number;
}

export interface Ctx {
  t: Target;
  pool: ViewerPool;
  sizes: Sizes;
  /** Says what is going on (stderr). */
  say(msg: string): void;
  /** Something worth reporting next to the figures (a viewer that missed a line, …). */
  note(msg: string): void;
}

export interface PhaseResult {
  values: Record<string, number | null>;
  samples: Record<string, number[]>;
}

export type Phase = (ctx: Ctx) => Promise<PhaseResult>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A phase's time budget: `check()` throws once it is spent. */
export class Deadline {
  readonly #end: number;
  readonly what: string;
  constructor(ms: number, what: string) {
    this.#end = Date.now() + ms;
    this.what = what;
  }
  check(): void {
    if (Date.now() > this.#end) throw new Error(`${this.what}: over its time budget`);
  }
  left(): number {
    return Math.max(0, this.#end - Date.now());
  }
}

export const CONNECT_MS = (viewers: number) => 60_000 + viewers * 60;
export const DELIVER_MS = 30_000;

export async function viewersOn(ctx: Ctx, runId: string, after: number, perTransport: number, stamped: boolean, deltas = false) {
  const { t } = ctx;
  const sse = await Promise.all(Array.from({ length: perTransport }, () => t.sseUrl(runId, after)));
  const ws = await Promise.all(Array.from({ length: perTransport }, () => t.wsUrl(runId, after)));
  const opened = await ctx.pool.open({ sse, ws, stamped, deltas, timeoutMs: CONNECT_MS(perTransport * 2) });
  if (opened.failed > 0) ctx.note(`${t.name}: ${opened.failed} of ${perTransport * 2} viewers did not connect`);
  ctx.say(`${t.name}: ${opened.open.sse} SSE + ${opened.open.ws} WS viewers connected in ${(opened.ms / 1000).toFixed(1)} s`);
  return opened;
}
