/**
 * RunObject: one Durable Object per run, the only place a run's state lives.
 * The Worker calls its typed RPC methods; expected failures come back as
 * `Failure` values. Only WebSocket upgrades (viewers and the Worker's SSE
 * bridges) arrive through `fetch`, since a 101 cannot travel over RPC.
 *
 * Every write is synchronous SQL in one transaction, then handed to the
 * fan-out (publisher.ts) with no `await` in between: batches are published in
 * write order, to the viewers here and to the run's fan-out shards
 * (shards.ts), and the output gate holds the sends until the write is durable.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CLOSE_RUN_DELETED,
  PING_FRAME,
  PONG_FRAME,
  type CompleteBody,
  type EventsPage,
  type InputAccepted,
  type InputText,
  type NewInput,
  type Producer,
  type RunInfo,
} from "../protocol/index.ts";
import { AlarmClock, earliest, retentionDue } from "./alarm.ts";
import { ControlRequests, type ControlMark } from "./controls.ts";
import { Drafts, segmentsOf, splitBatch, type LineMark, type Segment } from "./drafts.ts";
import { InputQueue } from "./inputs.ts";
import { Intake } from "./intake.ts";
import { limits, type LimitVars } from "./limits.ts";
import { Lifecycle, type Heard } from "./liveness.ts";
import { EventLog, type StoredEntry, type Write } from "./log.ts";
import { logLine } from "./logline.ts";
import { isEnded, RunMeta } from "./meta.ts";
import { Producers } from "./producers.ts";
import { RowCounter } from "./rows.ts";
import { addCounts, readPage, runInfo, type ReadParts } from "./reads.ts";
import { endedFailure, fail, utf8Length, type Failure, type Result } from "./result.ts";
import { Publisher } from "./publisher.ts";
import type { FanoutEnv } from "./shard.ts";
import { Shards } from "./shards.ts";
import { onFrame, upgrade, type SocketHost } from "./sockets.ts";
import { Subscribers, type RunState } from "./subscribers.ts";

export type AppendResult = Result<{ duplicate: boolean; lastEventId: number; producer?: { epoch: number; seq: number } }>;

/** The vars the run object reads, and its fan-out shards' binding (optional; shards.ts). */
export type RunEnv = LimitVars & FanoutEnv;

export class RunObject extends DurableObject<RunEnv> {
  #log!: EventLog;
  #meta!: RunMeta;
  #producers!: Producers;
  #inputs!: InputQueue;
  #controls!: ControlRequests;
  #subscribers!: Subscribers;
  #intake!: Intake;
  #life!: Lifecycle;
  #drafts!: Drafts;
  #rows!: RowCounter;
  #shards!: Shards;
  #publisher!: Publisher;
  readonly #alarm: AlarmClock;
  /** What the socket side (sockets.ts) sees of this object. */
  readonly #sockets: SocketHost = {
    subscribers: () => this.#subscribers,
    gone: () => this.#gone(),
    state: () => this.#state(),
    limits: () => limits(this.env),
    postInput: (runId, input) => this.postInput(runId, input),
    route: (sub, truncated) => this.#shards.route(sub, truncated),
  };

  constructor(ctx: DurableObjectState, env: RunEnv) {
    super(ctx, env);
    this.#alarm = new AlarmClock(ctx);
    this.#open();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /** The run's storage parts (their tables are created on first use). */
  #open(): void {
    this.#rows = new RowCounter(this.ctx.storage.sql);
    const sql = this.#rows.sql;
    const write: Write = (...args) => this.#write(...args);
    const parts = { log: (this.#log = new EventLog(sql)), inputs: (this.#inputs = new InputQueue(sql)), limits: () => limits(this.env), write };
    this.#meta = new RunMeta(sql);
    this.#producers = new Producers(sql, this.#meta);
    this.#drafts = new Drafts(() => this.#meta.draft());
    const run = { ctx: this.ctx, drafts: () => this.#drafts.list(), state: () => this.#state() };
    const fanout = this.env.FANOUT && { shards: () => this.#shards, hot: () => this.#shards.hot() };
    this.#publisher = new Publisher({ ...run, subscribers: () => this.#subscribers, ...fanout });
    this.#shards = new Shards({ ...run, env: this.env, log: this.#log, runId: () => this.#meta.get()?.runId ?? null, feedAll: () => this.#publisher.feedShards() });
    const sseBuffer = () => limits(this.env).sseMaxBufferBytes;
    this.#subscribers = new Subscribers(this.ctx, this.#log, () => this.#state(), (at) => this.#alarm.by(at), () => this.#drafts.list(), sseBuffer, (ws, c) => this.#publisher.horizon(ws, c));
    this.#controls = new ControlRequests(sql);
    this.#intake = new Intake({ ...parts, controls: this.#controls, storage: this.ctx.storage, publisher: this.#publisher, state: () => this.#state(), gone: () => this.#gone() });
    this.#life = new Lifecycle({ ...parts, meta: this.#meta, alarm: this.#alarm });
  }

  /**
   * Appends a batch of stream-json lines (already checked by the Worker):
   * its `stream_event` lines (`marks`, drafts.ts) are fanned out, not stored.
   */
  append(runId: string, lines: string[], bytes: number, producer?: Producer, marks?: LineMark[], controls?: ControlMark[]): AppendResult {
    const gone = this.#heard("append");
    if (gone) return gone;
    const verdict = producer ? this.#producers.check(producer) : null;
    if (verdict && !verdict.ok) return verdict;
    if (verdict?.duplicate) return { ok: true, duplicate: true, lastEventId: this.#log.lastId(), producer: verdict.duplicate };
    const ended = endedFailure(this.#state());
    if (ended) return ended;
    const live = splitBatch(lines, marks) ?? undefined;
    const entries = live?.entries ?? lines.map((data) => ({ type: "sdk" as const, data }));
    const alongside = controls?.length ? () => this.#controls.record(controls) : undefined;
    const batch = this.#write(runId, entries, { bytes, runner: true, ...(alongside && { alongside }), ...(live && { live }), ...(producer && { producer }) });
    const lastEventId = batch.at(-1)?.id ?? this.#log.lastId();
    return { ok: true, duplicate: false, lastEventId, ...(producer && { producer: { epoch: producer.epoch, seq: producer.seq } }) };
  }

  /** Ends the run with a final status; still-queued inputs become undelivered (liveness.ts). */
  complete(runId: string, body: CompleteBody): Result<{ lastEventId: number }> {
    return this.#heard("request") ?? this.#life.end(runId, body.status, body.reason);
  }

  /** Fences a producer's current epoch and hands out the next one (producers.ts). */
  claim(producerId: string): Result<{ producerId: string; epoch: number }> {
    const refused = this.#heard("request") ?? endedFailure(this.#state());
    if (refused) return refused;
    return { ok: true, producerId, epoch: this.#producers.claim(producerId, Date.now()) };
  }

  /** The runner will never deliver these inputs (intake.ts). */
  undelivered(runId: string, inputIds: number[], reason: string): Result<{ lastEventId: number }> {
    return this.#heard("request") ?? this.#intake.undeliver(runId, inputIds, reason);
  }

  /** A runner is alive (liveness.ts). */
  heartbeat(): Result<{ heard: true }> {
    return this.#heard("heartbeat") ?? { ok: true, heard: true };
  }

  /** Queues a message or interrupt for the runner (intake.ts). */
  postInput(runId: string, input: NewInput, key?: string): Result<InputAccepted> {
    return this.#gone() ?? this.#intake.post(runId, input, key);
  }

  /** Queues what a remote-session client posted, all or nothing (intake.ts). */
  postSession(runId: string, items: { input: NewInput; key: string }[]): Result<{ accepted: InputAccepted[] }> {
    return this.#gone() ?? this.#intake.postAll(runId, items);
  }

  /**
   * The runner's long-poll for inputs (intake.ts); it is heard from when it arrives and when it returns.
   * `fence`: the producer epoch the runner claimed; once a newer runner claimed the next one, this runner's
   * polls are refused (403) and acknowledge nothing, so no input goes to a runner that was taken over.
   */
  async pollInputs(after: number, waitMs: number, fence?: { id: string; epoch: number }): Promise<Result<{ inputs: InputText[]; ended: boolean }>> {
    const refused = this.#gone() ?? (fence ? this.#producers.fenced(fence.id, fence.epoch) : null);
    if (refused) return refused;
    const gone = this.#heard("poll");
    if (gone) return gone;
    const reply = await this.#intake.poll(after, waitMs);
    try {
      this.#heard("poll");
    } catch {
      // Best effort: nothing may stand between an acknowledgement and its answer.
    }
    return reply;
  }

  /** A page of entries after `after`, as stored (reads.ts). */
  page(after: number, limit: number): Result<Omit<EventsPage, "events"> & { entries: StoredEntry[] }> {
    return this.#gone() ?? readPage(this.#reads(), after, limit);
  }

  /** The run's status, viewer counts (here and on its shards) and producers (reads.ts). */
  async info(): Promise<Result<RunInfo>> {
    const info = this.#gone() ?? runInfo(this.#reads());
    return info.ok ? { ...info, clients: addCounts(info.clients, await this.#shards.counts()) } : info;
  }

  /** Deletes the run's data now and closes its viewers (they see close code 4410). */
  async erase(): Promise<Result<{ erased: true }>> {
    if (!this.#meta.get()) return fail(404, "run_not_found", "nothing has been written to this run");
    await this.#erase("request");
    return { ok: true, erased: true };
  }

  /** The one alarm (alarm.ts): retention, then expired viewer tokens, then liveness; then it is set again. */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    const days = limits(this.env).retentionDays;
    const before = this.#meta.get();
    if (before && now >= retentionDue(before.updatedAt, days)) return this.#erase("retention");
    const tokens = this.#subscribers.expireTokens(now);
    this.#life.check(now);
    const meta = this.#meta.get();
    const next = earliest(tokens, meta && retentionDue(meta.updatedAt, days), meta && this.#life.deadline(meta));
    if (next !== null) this.#alarm.by(next);
  }

  async #erase(cause: "request" | "retention"): Promise<void> {
    const runId = this.#meta.get()?.runId;
    this.#publisher.clear();
    await this.#shards.erase();
    this.#subscribers.closeAll(CLOSE_RUN_DELETED, "run deleted");
    const waiting = this.#inputs;
    await this.#alarm.clear();
    await this.ctx.storage.deleteAll();
    this.#open();
    this.#meta.bury(Date.now()); // a tombstone: a live runner cannot bring the run back
    waiting.wake();
    logLine({ type: "run", event: "deleted", runId, cause });
  }

  /** The one write (log.ts, `Write`): one transaction, then, with no await in between, handed to the fan-out. */
  #write(...[runId, entries, opts = {}]: Parameters<Write>): StoredEntry[] {
    const now = Date.now();
    let segments: Segment[] | undefined;
    const batch = this.ctx.storage.transactionSync(() => {
      const list = typeof entries === "function" ? entries(now) : entries;
      if (list.length === 0 && !opts.live) return [];
      const bytes = opts.bytes ?? list.reduce((n, e) => n + utf8Length(e.data), 0);
      const before = this.#log.lastId();
      const folded = opts.live && this.#drafts.fold(opts.live, before);
      const producer = opts.producer && this.#producers.commit(opts.producer, now);
      // The count of rows written so far, plus this row and the entries' rows (rows.ts); the drafts, if the batch has live lines; the producer's seq.
      this.#meta.touch(runId, now, bytes, {
        runner: opts.runner,
        rows: this.#rows.take(1 + list.length),
        ...(folded && { draft: folded.stored }),
        ...(producer && { producer }),
      });
      const rows = this.#log.append(list, now);
      opts.alongside?.(before + 1, now);
      segments = folded ? segmentsOf(folded.order, rows) : undefined;
      return rows;
    });
    this.#publisher.publish(batch, segments);
    if (batch.length > 0 || segments) this.#alarm.by(retentionDue(now, limits(this.env).retentionDays));
    return batch;
  }

  /** A runner request: the deleted run's failure, or null once it is recorded (liveness.ts). */
  #heard(how: Heard): Failure | null {
    const gone = this.#gone();
    if (!gone) this.#life.heard(how);
    return gone;
  }

  /** A deleted run reads as not found, for every request, for good. */
  #gone() {
    return this.#meta.deletedAt() === null ? null : fail(404, "run_not_found", "this run was deleted");
  }

  /** WebSocket upgrades, for viewers and the Worker's SSE bridges (sockets.ts). */
  override async fetch(request: Request): Promise<Response> {
    return upgrade(this.#sockets, request);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    onFrame(this.#sockets, ws, message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closing
    }
  }

  #reads(): ReadParts {
    return { log: this.#log, meta: this.#meta, inputs: this.#inputs, producers: this.#producers, subscribers: this.#subscribers, state: () => this.#state(), unstoredRows: () => this.#rows.peek() };
  }

  #state(): RunState {
    const status = this.#meta.status();
    return { lastId: this.#log.lastId(), ended: isEnded(status) ? status : null };
  }
}
