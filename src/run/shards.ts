/**
 * The run object's side of the fan-out tier (docs/protocol.md, "Fan-out
 * tier"; the shards are shard.ts). It does two things:
 *
 * - Routes a new viewer to a shard (`route`) once the run object holds
 *   FANOUT_SHARD_SIZE viewers: the first shard not full, fed up to the run's
 *   last id before the Worker is told to connect there.
 * - Feeds each shard with viewers, one call at a time (`#pump`): the batches
 *   published since its last feed, or, when it is behind (it was evicted, a
 *   call failed, this object was evicted), the missing entries from the log.
 *
 * The shards and their viewer counts (as they last reported them) are kept
 * in the run's storage, so they survive eviction; without a FANOUT binding
 * there are none, and every viewer stays on the run object.
 */
import type { Draft } from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import { fanoutShardSize } from "./limits.ts";
import type { EventLog } from "./log.ts";
import { SHARD_HEADER, SHARD_URL_HEADER, shardName, TRUNCATED_PARAM, type FanoutEnv, type Feed, type RunFanout, type ShardCounts } from "./shard.ts";
import { subscribeRequest, type SubscribeParams } from "./subscribe.ts";
import type { Published, RunState } from "./subscribers.ts";

/** Entries per feed when a shard catches up from the log. */
const CATCH_UP_ROWS = 2000;
/** Text held for a shard whose feed is on its way; past it, the shard catches up from the log instead. */
const MAX_PENDING_CHARS = 4 * 1024 * 1024;
/** Attempts at a feed that fails (the shard is being evicted or restarted), backing off from 10 ms. */
const MAX_ATTEMPTS = 10;
/** How long a viewer sent to a shard is counted there before the shard counts it itself. */
const ROUTE_GRACE_MS = 10_000;

export interface ShardHost {
  ctx: DurableObjectState;
  env: FanoutEnv;
  log: EventLog;
  /** The run's id, once it has been written to. */
  runId(): string | null;
  drafts(): Draft[];
  state(): RunState;
  /** Feeds the shards what is queued to be published (publisher.ts), so a shard is fed up to the run's last id. */
  feedAll(): void;
}

interface Shard {
  k: number;
  counts: ShardCounts;
  /** Made on first use (the run's id may not be known before), again after a call through it threw. */
  stub: DurableObjectStub<RunFanout> | null;
  /** Its last id as it last answered (null: not known to this instance). */
  last: number | null;
  /** Batches published since its last feed, from the id after `pendingFrom`. */
  pending: Segment[];
  pendingFrom: number;
  pendingChars: number;
  /** A feed that failed, to send again (the shard applies a feed once). */
  retry: Feed | null;
  seq: number;
  /** When a viewer was last sent there. */
  routedAt: number;
  running: Promise<void> | null;
}

const total = (c: ShardCounts) => c.sse + c.ws + c.session;

export class Shards {
  readonly #sender = crypto.randomUUID();
  /** What has been published: the last id, the drafts and the state after it. */
  #head: { lastId: number; drafts: Draft[]; state: RunState } | null = null;
  #shards: Map<number, Shard> | null = null;
  /** The run's id as a routed viewer gave it (a run may be watched before it is written to). */
  #routedRun: string | undefined;

  constructor(private readonly host: ShardHost) {}

  /** Whether any shard has viewers: then the run's batches wait a tick before they are published (publisher.ts). */
  hot(): boolean {
    if (!this.host.env.FANOUT) return false;
    for (const s of this.#all().values()) if (total(s.counts) > 0) return true;
    return false;
  }

  /** Batches published here, in order (publisher.ts): they go to every shard with viewers, in one feed if it is free. */
  published(items: readonly Published[]): void {
    const last = items.at(-1);
    if (!last) return;
    this.#head = { lastId: last.state.lastId, drafts: last.drafts, state: last.state };
    if (!this.host.env.FANOUT || this.#all().size === 0) return;
    const sized = items.map((item) => ({ item, chars: item.batch.reduce((n, e) => n + e.data.length, 0) }));
    for (const s of this.#all().values()) {
      if (total(s.counts) === 0) continue;
      for (const { item, chars } of sized) this.#add(s, item, chars);
      void this.#kick(s);
    }
  }

  /** A batch for the shard's next feed; past MAX_PENDING_CHARS it catches up from the log instead. */
  #add(s: Shard, item: Published, chars: number): void {
    if (s.pending.length === 0) s.pendingFrom = item.before;
    if (s.pendingChars + chars > MAX_PENDING_CHARS) {
      s.pending = [];
      s.pendingChars = 0;
      s.pendingFrom = -1;
    } else {
      s.pending.push(...(item.segments ?? [{ entries: item.batch }]));
      s.pendingChars += chars;
    }
  }

  /** A new viewer past FANOUT_SHARD_SIZE here: the answer that sends the Worker to a shard, or null to accept it here. */
  route(sub: SubscribeParams & { after: number }, truncated: boolean): Promise<Response> | null {
    const ns = this.host.env.FANOUT;
    const size = fanoutShardSize(this.host.env);
    if (!ns || this.host.ctx.getWebSockets().length < size) return null;
    this.#routedRun ??= sub.run;
    this.host.feedAll();
    const shards = this.#all();
    let k = 1;
    while (shards.has(k) && total(shards.get(k)!.counts) >= size) k++;
    const s = shards.get(k) ?? this.#shard(k, { sse: 0, ws: 0, session: 0 });
    shards.set(k, s);
    s.counts[sub.transport]++; // counted until the shard reports it (#counted)
    s.routedAt = Date.now();
    this.#save(s);
    const name = shardName(sub.run, k);
    return (async () => {
      await this.#caughtUp(s);
      const location = new URL(subscribeRequest(sub).url);
      if (truncated) location.searchParams.set(TRUNCATED_PARAM, "1");
      return new Response(null, { status: 202, headers: { [SHARD_HEADER]: name, [SHARD_URL_HEADER]: location.href } });
    })();
  }

  /** The viewers on every shard, by transport: asked of each, or as it last reported. */
  async counts(): Promise<ShardCounts> {
    const sum: ShardCounts = { sse: 0, ws: 0, session: 0 };
    const each = await Promise.all([...this.#all().values()].map((s) => this.#stubOf(s).counts().catch(() => s.counts)));
    for (const c of each) for (const t of ["sse", "ws", "session"] as const) sum[t] += c[t];
    return sum;
  }

  /** The run is being deleted: nothing more is published, and every shard closes its viewers (4410) and deletes its copy. */
  async erase(): Promise<void> {
    const shards = [...this.#all().values()];
    this.#shards = new Map();
    await Promise.allSettled(shards.map((s) => this.#stubOf(s).erase()));
  }

  /** Feeds the shard until it has everything published (or its feeds keep failing). */
  async #caughtUp(s: Shard): Promise<void> {
    for (let round = 0; round < 3; round++) {
      await this.#kick(s);
      if (s.last !== null && s.last >= this.#headId()) return;
    }
  }

  #kick(s: Shard): Promise<void> {
    if (!s.running) {
      s.running = this.#pump(s).finally(() => (s.running = null));
      this.host.ctx.waitUntil(s.running);
    }
    return s.running;
  }

  /** One feed at a time, in order, until the shard has everything published. */
  async #pump(s: Shard): Promise<void> {
    for (let attempt = 0; ; ) {
      const feed = this.#next(s);
      if (!feed) return;
      try {
        const reply = await this.#stubOf(s).feed(feed);
        attempt = 0;
        s.retry = null;
        s.last = reply.lastId;
        this.#counted(s, reply.counts);
      } catch {
        s.retry = feed;
        s.stub = null; // a stub that threw is broken for good
        if (++attempt >= MAX_ATTEMPTS) return; // the next batch tries again
        await scheduler.wait(10 * 2 ** attempt);
      }
    }
  }

  /** The shard's next feed: one that failed, the batches published since, or what it misses from the log; null when it has everything. */
  #next(s: Shard): Feed | null {
    if (s.retry) return s.retry;
    const head = this.#head ?? this.#startHead();
    const feed = (segments: Segment[], fromLog?: true): Feed => ({
      runId: this.#runId(),
      sender: this.#sender,
      seq: ++s.seq,
      segments,
      drafts: head.drafts,
      state: head.state,
      ...(fromLog && { fromLog }),
    });
    if (s.pending.length > 0 && (s.last === null || s.last === s.pendingFrom)) {
      const segments = s.pending;
      s.pending = [];
      s.pendingChars = 0;
      return feed(segments);
    }
    if (s.last !== null && s.last >= head.lastId) return null;
    s.pending = []; // behind: what it misses comes from the log, entries only
    s.pendingChars = 0;
    if (s.last === null) return feed([]); // it answers its last id
    const entries = this.host.log.read(s.last, Math.min(CATCH_UP_ROWS, head.lastId - s.last));
    // The feed that brings it up to the head also brings the drafts again (the log holds no deltas).
    const whole = entries.at(-1)?.id === head.lastId;
    return whole ? feed([{ entries }], true) : feed(entries.length > 0 ? [{ entries }] : []);
  }

  #headId(): number {
    return (this.#head ?? this.#startHead()).lastId;
  }

  #startHead() {
    const state = this.host.state();
    return (this.#head = { lastId: state.lastId, drafts: this.host.drafts(), state });
  }

  #runId(): string {
    return this.host.runId() ?? this.#routedRun ?? "";
  }

  #all(): Map<number, Shard> {
    if (this.#shards) return this.#shards;
    this.#shards = new Map();
    if (!this.host.env.FANOUT) return this.#shards;
    const sql = this.host.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS fanout_shards (k INTEGER PRIMARY KEY, sse INTEGER NOT NULL, ws INTEGER NOT NULL, session INTEGER NOT NULL)");
    for (const r of sql.exec<{ k: number } & ShardCounts>("SELECT k, sse, ws, session FROM fanout_shards ORDER BY k")) {
      this.#shards.set(r.k, this.#shard(r.k, { sse: r.sse, ws: r.ws, session: r.session }));
    }
    return this.#shards;
  }

  #shard(k: number, counts: ShardCounts): Shard {
    return { k, counts, stub: null, last: null, pending: [], pendingFrom: -1, pendingChars: 0, retry: null, seq: 0, routedAt: 0, running: null };
  }

  #stubOf(s: Shard): DurableObjectStub<RunFanout> {
    const ns = this.host.env.FANOUT!;
    return (s.stub ??= ns.get(ns.idFromName(shardName(this.#runId(), s.k))));
  }

  /** The shard's own count, unless viewers sent there lately may not have arrived yet (then the higher of both). */
  #counted(s: Shard, reported: ShardCounts): void {
    const settled = total(reported) >= total(s.counts) || Date.now() - s.routedAt > ROUTE_GRACE_MS;
    const next = settled ? reported : { sse: Math.max(reported.sse, s.counts.sse), ws: Math.max(reported.ws, s.counts.ws), session: Math.max(reported.session, s.counts.session) };
    if ((["sse", "ws", "session"] as const).every((t) => next[t] === s.counts[t])) return;
    s.counts = next;
    this.#save(s);
  }

  #save(s: Shard): void {
    const c = s.counts;
    this.host.ctx.storage.sql.exec("INSERT OR REPLACE INTO fanout_shards (k, sse, ws, session) VALUES (?, ?, ?, ?)", s.k, c.sse, c.ws, c.session);
  }
}
