/**
 * RunObject: one Durable Object per run, the only place a run's state lives.
 * The Worker calls its typed RPC methods; expected failures come back as
 * `Failure` values. Only WebSocket upgrades (viewers and the Worker's SSE
 * bridges) arrive through `fetch`, since a 101 cannot travel over RPC.
 *
 * Every write is synchronous SQL in one transaction, followed at once by the
 * fan-out: no `await` between them, so no other request sees the log between
 * the write and the send, and the output gate holds the sends until the write
 * is durable.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CLOSE_RUN_DELETED,
  PING_FRAME,
  PONG_FRAME,
  type CompleteBody,
  type EntryType,
  type EventsPage,
  type InputAccepted,
  type InputsReply,
  type NewInput,
  type Producer,
  type RunInfo,
  type StatusData,
} from "../protocol/index.ts";
import { InputQueue } from "./inputs.ts";
import { Intake } from "./intake.ts";
import { limits, type LimitVars } from "./limits.ts";
import { EventLog, type StoredEntry } from "./log.ts";
import { logLine } from "./logline.ts";
import { isEnded, RunMeta } from "./meta.ts";
import { Producers } from "./producers.ts";
import { endedFailure, fail, utf8Length, type Result } from "./result.ts";
import { Retention } from "./retention.ts";
import { cursorPastEnd, onFrame, upgrade, type SocketHost } from "./sockets.ts";
import { Subscribers, type RunState } from "./subscribers.ts";

export type AppendResult = Result<{ duplicate: boolean; lastEventId: number; producer?: { epoch: number; seq: number } }>;

/** The vars the run object reads. */
export type RunEnv = LimitVars;

export class RunObject extends DurableObject<RunEnv> {
  #log!: EventLog;
  #meta!: RunMeta;
  #producers!: Producers;
  #inputs!: InputQueue;
  #subscribers!: Subscribers;
  #intake!: Intake;
  readonly #retention: Retention;
  /** What the socket side (sockets.ts) sees of this object. */
  readonly #sockets: SocketHost = {
    subscribers: () => this.#subscribers,
    gone: () => this.#gone(),
    state: () => this.#state(),
    postInput: (runId, input) => this.postInput(runId, input),
  };

  constructor(ctx: DurableObjectState, env: RunEnv) {
    super(ctx, env);
    this.#retention = new Retention(ctx.storage, () => limits(this.env).retentionDays);
    this.#open();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /** The run's storage parts (their tables are created on first use). */
  #open(): void {
    const sql = this.ctx.storage.sql;
    this.#log = new EventLog(sql);
    this.#meta = new RunMeta(sql);
    this.#producers = new Producers(sql);
    this.#inputs = new InputQueue(sql);
    this.#subscribers = new Subscribers(this.ctx, this.#log, () => this.#state());
    this.#intake = new Intake({
      inputs: this.#inputs,
      log: this.#log,
      storage: this.ctx.storage,
      subscribers: this.#subscribers,
      limits: () => limits(this.env),
      state: () => this.#state(),
      gone: () => this.#gone(),
      write: (...args) => this.#write(...args),
    });
  }

  /** Appends a batch of stream-json lines (already checked by the Worker). */
  append(runId: string, lines: string[], bytes: number, producer?: Producer): AppendResult {
    const gone = this.#gone();
    if (gone) return gone;
    const verdict = producer ? this.#producers.check(producer) : null;
    if (verdict && !verdict.ok) return verdict;
    if (verdict?.duplicate) return { ok: true, duplicate: true, lastEventId: this.#log.lastId(), producer: verdict.duplicate };
    const ended = this.#endedFailure();
    if (ended) return ended;
    const batch = this.#write(runId, "sdk", lines, bytes, (_, now) => producer && this.#producers.commit(producer, now));
    const lastEventId = batch.at(-1)!.id;
    return { ok: true, duplicate: false, lastEventId, ...(producer && { producer: { epoch: producer.epoch, seq: producer.seq } }) };
  }

  /** Ends the run with a final status. Repeating the same status is a no-op. */
  complete(runId: string, body: CompleteBody): Result<{ lastEventId: number }> {
    const gone = this.#gone();
    if (gone) return gone;
    const meta = this.#meta.get();
    if (meta && isEnded(meta.status)) {
      if (meta.status === body.status) return { ok: true, lastEventId: this.#log.lastId() };
      return fail(409, "run_ended", `the run already ended as ${meta.status}`);
    }
    const data = JSON.stringify({ status: body.status, ...(body.reason !== undefined && { reason: body.reason }) } satisfies StatusData);
    const batch = this.#write(runId, "status", [data], utf8Length(data), (_, now) => this.#meta.end(body.status, body.reason, now));
    this.#inputs.wake(); // waiting long-polls answer `ended`
    logLine({ type: "run", event: "ended", runId, status: body.status, ...(body.reason !== undefined && { reason: body.reason }) });
    return { ok: true, lastEventId: batch[0]!.id };
  }

  /** Queues a message or interrupt for the runner (intake.ts). */
  postInput(runId: string, input: NewInput, key?: string): Result<InputAccepted> {
    return this.#gone() ?? this.#intake.post(runId, input, key);
  }

  /** The runner's long-poll for inputs (intake.ts). */
  async pollInputs(after: number, waitMs: number): Promise<Result<InputsReply>> {
    return this.#gone() ?? this.#intake.poll(after, waitMs);
  }

  /** A page of entries after `after`, as stored (the Worker joins their JSON text). */
  page(after: number, limit: number): Result<Omit<EventsPage, "events"> & { entries: StoredEntry[] }> {
    const gone = this.#gone();
    if (gone) return gone;
    const { lastId, ended } = this.#state();
    const outOfRange = cursorPastEnd(after, lastId);
    if (outOfRange) return outOfRange;
    const entries = this.#log.read(after, limit);
    return { ok: true, entries, lastEventId: lastId, status: this.#meta.status(), ended: ended !== null };
  }

  /** The run's status and viewer counts. */
  info(): Result<RunInfo> {
    const gone = this.#gone();
    if (gone) return gone;
    const meta = this.#meta.get();
    if (!meta) return fail(404, "run_not_found", "nothing has been written to this run");
    const lastEventId = this.#log.lastId();
    return {
      ok: true,
      runId: meta.runId,
      status: meta.status,
      ...(meta.reason !== null && { reason: meta.reason }),
      createdAt: meta.createdAt,
      updatedAt: meta.updatedAt,
      lastEventId,
      events: lastEventId,
      bytes: meta.bytes,
      clients: { sse: this.#subscribers.count("sse"), ws: this.#subscribers.count("ws"), runners: this.#inputs.waiting },
      pendingInputs: this.#inputs.pending(),
    };
  }

  /** Deletes the run's data now and closes its viewers (they see close code 4410). */
  async erase(): Promise<Result<{ erased: true }>> {
    if (!this.#meta.get()) return fail(404, "run_not_found", "nothing has been written to this run");
    await this.#erase("request");
    return { ok: true, erased: true };
  }

  /** Retention: a run is deleted RETENTION_DAYS after its last activity (its end counts). */
  override async alarm(): Promise<void> {
    const meta = this.#meta.get();
    if (meta && (await this.#retention.due(meta.updatedAt))) await this.#erase("retention");
  }

  async #erase(cause: "request" | "retention"): Promise<void> {
    const runId = this.#meta.get()?.runId;
    this.#subscribers.closeAll(CLOSE_RUN_DELETED, "run deleted");
    const waiting = this.#inputs;
    await this.#retention.disarm();
    await this.ctx.storage.deleteAll();
    this.#open();
    this.#meta.bury(Date.now()); // a tombstone: a live runner cannot bring the run back
    waiting.wake();
    logLine({ type: "run", event: "deleted", runId, cause });
  }

  /**
   * One write: entries of `type` and whatever `alongside` records (given the
   * first new id), in one transaction; then, with no await in between, the
   * fan-out, which the output gate holds until the write is durable.
   */
  #write(runId: string, type: EntryType, data: readonly string[], bytes: number, alongside?: (firstId: number, now: number) => void): StoredEntry[] {
    const now = Date.now();
    const batch = this.ctx.storage.transactionSync(() => {
      this.#meta.touch(runId, now, bytes);
      const rows = this.#log.append(type, data, now);
      alongside?.(rows[0]!.id, now);
      return rows;
    });
    this.#subscribers.publish(batch);
    this.#retention.arm(now);
    return batch;
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
      // already closed
    }
  }

  #state(): RunState {
    const status = this.#meta.status();
    return { lastId: this.#log.lastId(), ended: isEnded(status) ? status : null };
  }

  #endedFailure() {
    return endedFailure(this.#state());
  }
}
