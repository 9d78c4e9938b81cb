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
 * drafts as they stood after it: a viewer that is caught up as the batch
 * reaches it gets those, and the deltas after it, as it would have had it
 * been published at once.
 * Viewers that are behind catch up from storage meanwhile, and the cursor
 * check (subscribers.ts) keeps the hand-off exact whichever comes first; a
 * socket accepted while a batch is on its way catches up from storage too.
 * With no viewers here and nothing queued, there is nothing to wait for: the
 * shards, if any, are fed at once.
 */
import type { Draft } from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { StoredEntry } from "./log.ts";
import type { BatchFrames, RunState, Subscribers } from "./subscribers.ts";

/** Sockets sent a batch in one turn of the event loop. */
export const SLICE = 16;

/** A batch as it was published: with the drafts and the run's state right after it. */
export interface Published {
  batch: readonly StoredEntry[];
  segments: readonly Segment[] | undefined;
  drafts: Draft[];
  state: RunState;
}

export interface PublisherHost {
  ctx: DurableObjectState;
  subscribers(): Subscribers;
  /** The fan-out tier (shards.ts), fed each published batch; typed by what is used, so shards.ts can import this module. */
  shards?(): { published(item: Published): void };
  drafts(): Draft[];
  state(): RunState;
}

/** The batch on its way to this object's sockets: those it had when it started, and how many have been done. */
interface Sending {
  item: Published;
  sockets: WebSocket[];
  done: number;
  frames: BatchFrames;
}

export class Publisher {
  readonly #queue: Published[] = [];
  #sending: Sending | null = null;
  #draining = false;
  /** The drafts of the batch being published, while it is. */
  #current: Draft[] | null = null;

  constructor(private readonly host: PublisherHost) {}

  /** The drafts for `Subscribers`: those of the batch being published, else null (the run's own). */
  drafts(): Draft[] | null {
    return this.#current;
  }

  /** Fans a batch that was just written out (call right after the write, as `Subscribers.publish`). */
  publish(batch: readonly StoredEntry[], segments?: readonly Segment[]): void {
    if (batch.length === 0 && !segments) return;
    const idle = !this.#draining && this.#queue.length === 0 && this.host.ctx.getWebSockets().length === 0;
    if (idle && !this.host.shards) return; // no one to send it to
    this.#queue.push({ batch, segments, drafts: this.host.drafts(), state: this.host.state() });
    if (idle) return void this.#step(Infinity); // only shards to feed: that is a call each, at once
    if (this.#draining) return;
    this.#draining = true;
    void this.#drain();
  }

  /** Publishes what is queued, in order, now. */
  flush(): void {
    this.#step(Infinity);
  }

  /** The run is being deleted: what is queued is dropped. */
  clear(): void {
    this.#queue.length = 0;
    this.#sending = null;
  }

  /** A slice at a time, a turn of the event loop between, until the queue is empty. */
  async #drain(): Promise<void> {
    try {
      do await new Promise((resolve) => setTimeout(resolve, 0));
      while (!this.#step(SLICE));
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
        const item = this.#queue.shift();
        if (!item) return true;
        this.host.shards?.().published(item);
        s = this.#sending = { item, sockets: this.#sockets(), done: 0, frames: {} };
      }
      if (limit <= 0) return false;
      const end = Math.min(s.sockets.length, s.done + limit);
      this.#current = s.item.drafts;
      try {
        this.host.subscribers().publish(s.item.batch, s.item.segments, s.sockets.slice(s.done, end), s.frames);
      } finally {
        this.#current = null;
      }
      limit -= end - s.done;
      s.done = end;
      if (s.done === s.sockets.length) this.#sending = null;
    }
  }
}
