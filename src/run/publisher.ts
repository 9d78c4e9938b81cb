/**
 * Publishing: every batch an object writes goes, in write order, to its fan-out
 * shards (shards.ts, the run object only), then to its own viewers
 * (`Subscribers.publish`).
 *
 * Fan-out never holds up ingest: while the object has viewers, a batch is
 * published after the request that wrote it has returned, through a queue
 * drained in order, and a few sockets at a time (SLICE), with a turn of the
 * event loop between: the answer to the write (held until the write is
 * durable) and the next request go out between two slices, instead of after
 * sending to hundreds of sockets. WebSocket viewers go first, the SSE
 * bridges after (their viewers are a hop further). Each batch keeps the
 * drafts as they stood after it.
 *
 * A hot run (one with viewers on its shards, shards.ts) waits a tick
 * (HOT_TICK_MS) before it publishes, so the writer's answer is on its way
 * before thousands of sends start; the batches written meanwhile follow, in
 * order. Without it, under `wrangler dev` on two cores, a 100-line batch with
 * 2,000 viewers took about 3× as long to be answered as with none
 * (docs/bench.md, "Profiling"). A run with fewer viewers publishes at the
 * next turn.
 *
 * Viewers that are behind catch up from storage meanwhile, but only up to
 * the first batch still on its way to them (`horizon`): they get that batch
 * from here, its live deltas and then the drafts after it included, as the
 * viewers that were caught up all along. (Caught up to the log's end
 * instead, a viewer would have its entries without its deltas, or drafts
 * that hold deltas it is then sent again.) With no viewers here and nothing
 * queued, there is nothing to wait for: the shards, if any, are fed at once.
 */
import type { Draft } from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { StoredEntry } from "./log.ts";
import type { BatchFrames, Published, RunState, Subscribers } from "./subscribers.ts";

/** Sockets sent a batch in one turn of the event loop. */
export const SLICE = 16;

/** How long a hot run waits before it publishes a batch (ms). */
export const HOT_TICK_MS = 25;

export interface PublisherHost {
  ctx: DurableObjectState;
  subscribers(): Subscribers;
  /** The fan-out tier (shards.ts), fed the batches as they are published. */
  shards?(): { published(items: readonly Published[]): void };
  drafts(): Draft[];
  state(): RunState;
  /** Whether the run is hot (it has viewers on shards): then a batch waits a tick before it is published. */
  hot?(): boolean;
}

/** The batch on its way to this object's sockets: those it had when it started, and how many have been done. */
interface Sending {
  item: Published;
  sockets: WebSocket[];
  done: number;
  frames: BatchFrames;
  /** Each socket's place in `sockets`, once `horizon` asks. */
  places?: Map<WebSocket, number>;
}

export class Publisher {
  readonly #queue: Published[] = [];
  #sending: Sending | null = null;
  #draining = false;
  /** How many of the queued batches (the first ones) the shards have been fed. */
  #fed = 0;

  constructor(private readonly host: PublisherHost) {}

  /**
   * How far a socket at `cursor` catches up from storage: the id before the
   * first batch still to be published to it that starts there or later (it
   * waits for that batch), or null: nothing is on its way to it, so up to the
   * log's end, and the drafts as they stand.
   */
  horizon(ws: WebSocket, cursor: number): number | null {
    const s = this.#sending;
    if (s && s.item.before >= cursor) {
      s.places ??= new Map(s.sockets.map((w, i) => [w, i]));
      if ((s.places.get(ws) ?? -1) >= s.done) return s.item.before;
    }
    for (const item of this.#queue) if (item.before >= cursor) return item.before;
    return null;
  }

  /** Queues a batch that was just written (call right after the write, with no `await` between); `redraft`: see `Published`. */
  publish(batch: readonly StoredEntry[], segments?: readonly Segment[], redraft?: true): void {
    const before = beforeOf(batch, segments);
    if (before === undefined) return;
    const idle = !this.#draining && this.#queue.length === 0 && this.host.ctx.getWebSockets().length === 0;
    if (idle && !this.host.shards) return; // no one to send it to
    this.#queue.push({ batch, segments, before, drafts: this.host.drafts(), state: this.host.state(), ...(redraft && { redraft }) });
    if (this.#draining) return;
    const tick = this.host.hot?.() ? HOT_TICK_MS : 0;
    if (idle && tick === 0) return void this.#step(Infinity); // only shards to feed: that is a call each, at once
    this.#draining = true;
    void this.#drain(tick);
  }

  /** Feeds the shards every batch queued, now (a viewer is about to be sent to one); this object's sockets keep their schedule. */
  feedShards(): void {
    if (this.#fed === this.#queue.length) return;
    this.host.shards?.().published(this.#queue.slice(this.#fed));
    this.#fed = this.#queue.length; // once they have them: a call that threw is made again with the next step
  }

  /** The run is being deleted: what is queued is dropped. */
  clear(): void {
    this.#queue.length = 0;
    this.#fed = 0;
    this.#sending = null;
  }

  /** After `firstMs`, a slice at a time, a turn of the event loop between, until the queue is empty. */
  async #drain(firstMs: number): Promise<void> {
    try {
      for (let wait = firstMs; ; wait = 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#step(SLICE)) break;
      }
    } finally {
      this.#draining = false;
    }
  }

  /**
   * The sockets a batch goes to, by their transport tag (subscribers.ts):
   * WebSocket viewers first, then the Worker's SSE bridges and the session
   * streams, which are a hop more from their viewers.
   */
  #sockets(): WebSocket[] {
    const { ctx } = this.host;
    return [...ctx.getWebSockets("ws"), ...ctx.getWebSockets("sse"), ...ctx.getWebSockets("session")];
  }

  /** Sends what is queued to at most `limit` sockets; true once nothing is left. */
  #step(limit: number): boolean {
    for (;;) {
      let s = this.#sending;
      if (!s) {
        if (this.#queue.length === 0) return true;
        this.feedShards(); // all that is queued: one feed for the batches of a tick
        const item = this.#queue.shift()!;
        this.#fed--;
        s = this.#sending = { item, sockets: this.#sockets(), done: 0, frames: {} };
      }
      if (limit <= 0) return false;
      const end = Math.min(s.sockets.length, s.done + limit);
      this.host.subscribers().publish(s.item, s.sockets.slice(s.done, end), s.frames);
      limit -= end - s.done;
      s.done = end;
      if (s.done === s.sockets.length) this.#sending = null;
    }
  }
}

/** The id before a batch: before its first entry, or where its first delta goes; undefined for an empty one. */
function beforeOf(batch: readonly StoredEntry[], segments: readonly Segment[] | undefined): number | undefined {
  if (batch.length > 0) return batch[0]!.id - 1;
  const delta = segments?.find((p) => "delta" in p);
  return delta && "delta" in delta ? delta.after : undefined;
}
