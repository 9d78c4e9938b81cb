/**
 * The shipper: gathers lines into batches (bounded in lines, bytes and age),
 * spools each batch, then sends them one request at a time as an idempotent
 * producer: producer id `runner`, the epoch the runner claimed, seqs from 0.
 * Network errors, 5xx and 429 are retried with backoff and jitter, forever.
 * A 403 stale_producer_epoch means another runner claimed a newer epoch: the
 * shipper stops with TookOverError. Any other refusal stops it with a clear
 * error. Lines are never dropped.
 */
import { statSync } from "node:fs";
import { FatalError, retrying, SeqGapError, type RelayClient } from "./relay.ts";
import type { Reporter } from "./report.ts";
import type { Batch, Spool } from "./spool.ts";

export interface ShipperOptions {
  /** The relay's limit for one line (MAX_LINE_BYTES); a longer line is relayed as a diagnostic. */
  maxLineBytes: number;
  maxBatchLines: number;
  maxBatchBytes: number;
  /** How long a line may wait for others to join its batch. */
  maxDelayMs: number;
  /** How long a live delta (a `stream_event` line) may wait: a batch holding one is cut by then. */
  maxDeltaDelayMs: number;
  /**
   * How far the runner reads ahead of the relay: once this many bytes of lines
   * are spooled and not yet acknowledged, `room()` waits (the agent's output
   * waits in its pipe) until the relay has caught up.
   */
  maxBacklogBytes: number;
  retry: { baseMs: number; maxMs: number };
}

export const DEFAULT_SHIPPER: ShipperOptions = {
  maxLineBytes: 1024 * 1024,
  maxBatchLines: 500,
  maxBatchBytes: 4 * 1024 * 1024,
  maxDelayMs: 20,
  maxDeltaDelayMs: 20,
  maxBacklogBytes: 256 * 1024,
  retry: { baseMs: 250, maxMs: 10_000 },
};

/** Another runner claimed a newer epoch of the run's producer: this one must stop. */
export class TookOverError extends Error {
  constructor(runId: string) {
    super(`another runner took over run ${runId}`);
    this.name = "TookOverError";
  }
}

/** With -v, a line with the runner's memory and spool size every this many lines. */
const STATS_EVERY = 10_000;

export class Shipper {
  readonly #client: RelayClient;
  readonly #spool: Spool;
  readonly #report: Reporter;
  readonly #opts: ShipperOptions;
  readonly #onFailure: (err: Error) => void;
  #open: string[] = [];
  #openBytes = 0;
  #openOffset: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the open batch is cut. */
  #cutAt = 0;
  /** Spooled batches waiting to be sent, in order. */
  #queue: Batch[];
  #queuedBytes = 0;
  #pump: Promise<void> | null = null;
  #failed: Error | null = null;
  #roomWaiters: (() => void)[] = [];
  /** Lines the relay has acknowledged in this process. */
  shipped = 0;

  constructor(client: RelayClient, spool: Spool, report: Reporter, opts: ShipperOptions = DEFAULT_SHIPPER, onFailure: (err: Error) => void = () => {}) {
    this.#client = client;
    this.#spool = spool;
    this.#report = report;
    this.#opts = opts;
    this.#onFailure = onFailure;
    this.#queue = spool.unacknowledged();
    for (const b of this.#queue) this.#queuedBytes += bytesOf(b);
  }

  /**
   * Sends the batches an earlier runner spooled and the relay did not
   * acknowledge, each under its own epoch and seq, before this runner claims
   * a new epoch. Throws what stopped it.
   */
  async resend(): Promise<number> {
    const count = this.#queue.length;
    if (count === 0) return 0;
    this.#report.info(`resending ${count} unacknowledged batch(es) from the spool`);
    this.#kick();
    while (this.#pump) await this.#pump;
    if (this.#failed) throw this.#failed;
    return count;
  }

  /** Adds one line; `offset` is where a tailed file has been read up to after it. */
  push(text: string, offset?: number): void {
    if (this.#failed) return;
    let line = text;
    let bytes = Buffer.byteLength(line);
    if (bytes > this.#opts.maxLineBytes) {
      // The relay would refuse the whole batch for it: say what it was instead of losing the run.
      this.#report.info(`a line of ${bytes} bytes is over the relay's limit; relaying a diagnostic in its place`);
      line = JSON.stringify({ type: "runrelay_diagnostic", subtype: "line_too_large", bytes, head: text.slice(0, 2000) });
      bytes = Buffer.byteLength(line);
    }
    if (this.#open.length > 0 && this.#openBytes + bytes > this.#opts.maxBatchBytes) this.#cut();
    this.#open.push(line);
    this.#openBytes += bytes + 1;
    if (offset !== undefined) this.#openOffset = offset;
    if (this.#open.length >= this.#opts.maxBatchLines) return this.#cut();
    const delay = isDelta(line) ? Math.min(this.#opts.maxDelayMs, this.#opts.maxDeltaDelayMs) : this.#opts.maxDelayMs;
    if (this.#timer && this.#cutAt <= Date.now() + delay) return;
    clearTimeout(this.#timer);
    this.#cutAt = Date.now() + delay;
    this.#timer = setTimeout(() => this.#cut(), delay);
  }

  /** Resolves when the backlog (lines not yet acknowledged) is under its bound again. */
  room(): Promise<void> {
    if (this.#queuedBytes + this.#openBytes < this.#opts.maxBacklogBytes || this.#failed) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Sends everything pushed so far; resolves once the relay has acknowledged it all. */
  async flush(): Promise<void> {
    this.#cut();
    while (this.#pump) await this.#pump;
    if (this.#failed) throw this.#failed;
  }

  /** The error that stopped the shipper, if any. */
  get failed(): Error | null {
    return this.#failed;
  }

  #cut(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#open.length === 0 || this.#failed) return;
    let batch: Batch;
    try {
      batch = this.#spool.add(this.#open, this.#openOffset); // on disk before it is sent
    } catch (err) {
      this.#fail(new Error(`cannot write the spool: ${(err as Error).message}`));
      return;
    }
    this.#open = [];
    this.#openBytes = 0;
    this.#openOffset = undefined;
    this.#queue.push(batch);
    this.#queuedBytes += bytesOf(batch);
    this.#kick();
  }

  #kick(): void {
    this.#pump ??= this.#drain().finally(() => {
      this.#pump = null;
      if (this.#queue.length > 0 && !this.#failed) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failed) {
      const batch = this.#queue[0]!;
      try {
        await this.#send(batch);
        this.#queue.shift();
        this.#queuedBytes -= bytesOf(batch);
        this.#wakeRoom();
      } catch (err) {
        if (err instanceof SeqGapError && err.expected < batch.seq) {
          // Batches the relay acknowledged are durable there and gone from the spool: a gap
          // can only be refilled from batches it never acknowledged.
          const refill = this.#spool.unacknowledged().filter((b) => b.epoch === batch.epoch && b.seq >= err.expected && b.seq < batch.seq);
          if (refill.length === batch.seq - err.expected) {
            this.#report.info(`the relay expects batch ${err.expected}; resending from there`);
            this.#queue.unshift(...refill);
            for (const b of refill) this.#queuedBytes += bytesOf(b);
            continue;
          }
          this.#fail(new Error(`the relay expects batch ${err.expected} of epoch ${batch.epoch}, which it had already acknowledged; it has lost lines`));
          return;
        }
        this.#fail(this.#describe(err));
      }
    }
  }

  async #send(batch: Batch): Promise<void> {
    const producer = { id: this.#spool.producerId, epoch: batch.epoch, seq: batch.seq };
    const result = await retrying(() => this.#client.append(batch.lines, producer), this.#opts.retry, this.#report);
    this.#spool.acknowledge(batch);
    const before = this.shipped;
    if (result === "appended") this.shipped += batch.lines.length;
    this.#report.verbose(`batch ${batch.epoch}:${batch.seq}: ${batch.lines.length} line(s) ${result}`);
    if (Math.floor(this.shipped / STATS_EVERY) > Math.floor(before / STATS_EVERY)) this.#stats();
  }

  /** -v: memory and spool size, so a long run can be watched for growth. */
  #stats(): void {
    const spool = this.#spool.path ? (statSync(this.#spool.path, { throwIfNoEntry: false })?.size ?? 0) : 0;
    this.#report.verbose(`${this.shipped} line(s) shipped; rss ${process.memoryUsage.rss()} bytes; spool ${spool} bytes`);
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    this.#wakeRoom(true);
    this.#onFailure(err);
  }

  #wakeRoom(all = false): void {
    if (!all && this.#queuedBytes + this.#openBytes >= this.#opts.maxBacklogBytes) return;
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  #describe(err: unknown): Error {
    if (err instanceof FatalError && err.code === "stale_producer_epoch") return new TookOverError(this.#client.opts.runId);
    if (err instanceof FatalError && err.code === "run_ended") {
      return new Error("the run has already ended on the relay; it takes no more lines");
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** A live delta: Claude Code and the SDK write `type` first. */
const isDelta = (line: string) => line.startsWith('{"type":"stream_event"');

const bytesOf = (b: Batch) => b.lines.reduce((n, l) => n + l.length + 1, 0);
