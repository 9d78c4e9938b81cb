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
  type EventsPage,
  type InputAccepted,
  type InputEntryData,
  type InputsReply,
  type NewInput,
  type Producer,
  type RunInfo,
  type StatusData,
} from "../protocol/index.ts";
import { InputQueue } from "./inputs.ts";
import { limits, type LimitVars } from "./limits.ts";
import { EventLog, type StoredEntry } from "./log.ts";
import { logLine } from "./logline.ts";
import { isEnded, RunMeta } from "./meta.ts";
import { Producers } from "./producers.ts";
import { fail, type Result } from "./result.ts";
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

    const now = Date.now();
    const batch = this.ctx.storage.transactionSync(() => {
      this.#meta.touch(runId, now, bytes);
      const rows = this.#log.append("sdk", lines, now);
      if (producer) this.#producers.commit(producer, now);
      return rows;
    });
    this.#subscribers.publish(batch);
    this.#retention.arm(now);
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
    const now = Date.now();
    const data = JSON.stringify({ status: body.status, ...(body.reason !== undefined && { reason: body.reason }) } satisfies StatusData);
    const batch = this.ctx.storage.transactionSync(() => {
      this.#meta.touch(runId, now, utf8Length(data));
      this.#meta.end(body.status, body.reason, now);
      return this.#log.append("status", [data], now);
    });
    this.#subscribers.publish(batch);
    this.#retention.arm(now);
    this.#inputs.wake(); // waiting long-polls answer `ended`
    logLine({ type: "run", event: "ended", runId, status: body.status, ...(body.reason !== undefined && { reason: body.reason }) });
    return { ok: true, lastEventId: batch[0]!.id };
  }

  /**
   * Queues a message or interrupt for the runner and logs it as an `input`
   * entry, so every viewer sees it at once. The same idempotency key always
   * answers the same input.
   */
  postInput(runId: string, input: NewInput, key?: string): Result<InputAccepted> {
    const gone = this.#gone();
    if (gone) return gone;
    const known = key === undefined ? null : this.#inputs.byKey(key);
    if (known) return { ok: true, ...known };
    const ended = this.#endedFailure();
    if (ended) return ended;
    const limit = limits(this.env);
    if (input.kind === "message") {
      const size = utf8Length(JSON.stringify(input.message));
      if (size > limit.maxMessageBytes) {
        return fail(413, "message_too_large", `the message is ${size} bytes; a message may be at most ${limit.maxMessageBytes}`);
      }
    }
    if (this.#inputs.pending() >= limit.maxPendingInputs) {
      return fail(429, "too_many_inputs", `${limit.maxPendingInputs} inputs are already waiting for the runner`);
    }
    const now = Date.now();
    const id = this.#inputs.lastId() + 1;
    const data: InputEntryData = { ...input, inputId: id };
    const json = JSON.stringify(data);
    const batch = this.ctx.storage.transactionSync(() => {
      this.#meta.touch(runId, now, utf8Length(json));
      const rows = this.#log.append("input", [json], now);
      this.#inputs.add({ ...input, id }, rows[0]!.id, key, now);
      return rows;
    });
    this.#subscribers.publish(batch);
    this.#retention.arm(now);
    this.#inputs.wake();
    return { ok: true, id, eventId: batch[0]!.id };
  }

  /**
   * The runner's long-poll. Acknowledges every input up to `after` (viewers see
   * a `delivered` entry), then answers at once with the inputs after it, or
   * with `ended`, or waits up to `waitMs` for one to arrive.
   */
  async pollInputs(after: number, waitMs: number): Promise<Result<InputsReply>> {
    const gone = this.#gone();
    if (gone) return gone;
    if (after > this.#inputs.lastId()) {
      return fail(400, "cursor_out_of_range", `input ${after} does not exist (last input ${this.#inputs.lastId()})`);
    }
    this.#acknowledge(after);
    for (let waited = false; ; waited = true) {
      const deleted = this.#gone();
      if (deleted) return deleted;
      if (this.#state().ended) return { ok: true, inputs: [], ended: true };
      const inputs = this.#inputs.after(after, limits(this.env).maxPendingInputs);
      if (inputs.length > 0 || waited || waitMs === 0) return { ok: true, inputs, ended: false };
      await this.#inputs.wait(waitMs);
    }
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

  #acknowledge(upTo: number): void {
    if (upTo === 0) return;
    const ended = this.#state().ended;
    const now = Date.now();
    const batch = this.ctx.storage.transactionSync(() => {
      const ids = this.#inputs.acknowledge(upTo, now);
      // After the end the log is closed; the acknowledgement is only recorded.
      if (ids.length === 0 || ended) return [];
      const data: InputEntryData = { kind: "delivered", inputIds: ids };
      return this.#log.append("input", [JSON.stringify(data)], now);
    });
    this.#subscribers.publish(batch);
  }

  #state(): RunState {
    const status = this.#meta.status();
    return { lastId: this.#log.lastId(), ended: isEnded(status) ? status : null };
  }

  #endedFailure() {
    const status = this.#meta.status();
    return isEnded(status) ? fail(409, "run_ended", `the run has ended (${status}); it takes no more events`) : null;
  }
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;
