/**
 * Publishing: every batch the run object writes goes, in write order, to its
 * own viewers (`Subscribers.publish`), then to its fan-out shards (shards.ts).
 *
 * Fan-out never holds up ingest: while the run object has viewers, a batch is
 * published right after the request that wrote it has returned (a timer),
 * through a queue drained in order, so the answer to the write does not wait
 * on sending to hundreds of sockets, nor the next write behind it. Each batch
 * keeps the drafts as they stood after it: a viewer that is caught up as the
 * batch is published gets those, and the deltas after it, as it would have
 * had they been published at once. Viewers that are behind catch up from
 * storage meanwhile, and the cursor check (subscribers.ts) keeps the hand-off
 * exact whichever comes first. With no viewers here and nothing queued, a
 * batch is published at once (a timer per write costs more than that).
 */
import type { Draft } from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { StoredEntry } from "./log.ts";
import type { RunState, Subscribers } from "./subscribers.ts";

/** Publish after the write's request has returned (true), or at once, inside it. */
const DEFER = true;

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
  shards(): { published(item: Published): void };
  /** Whether there are shards to feed (a FANOUT binding). */
  fanout: boolean;
  drafts(): Draft[];
  state(): RunState;
}

export class Publisher {
  readonly #queue: Published[] = [];
  #scheduled = false;
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
    const now = !DEFER || (this.#queue.length === 0 && this.host.ctx.getWebSockets().length === 0);
    if (now && !this.host.fanout) return this.host.subscribers().publish(batch, segments);
    const item: Published = { batch, segments, drafts: this.host.drafts(), state: this.host.state() };
    if (now) return this.#send(item);
    this.#queue.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => this.flush(), 0);
  }

  /** Publishes what is queued, in order, now. */
  flush(): void {
    this.#scheduled = false;
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) this.#send(item);
  }

  /** The run is being deleted: what is queued is dropped. */
  clear(): void {
    this.#queue.length = 0;
  }

  #send(item: Published): void {
    this.#current = item.drafts;
    try {
      this.host.subscribers().publish(item.batch, item.segments);
    } finally {
      this.#current = null;
    }
    this.host.shards().published(item);
  }
}
