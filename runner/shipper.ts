/**
 * The shipper: gathers lines into batches (bounded in lines, bytes and age),
 * spools each batch, then sends them one request at a time as an idempotent
 * producer. Network errors, 5xx and 429 are retried with backoff and jitter,
 * forever; a 409 resends from the batch the relay expects; any other refusal
 * stops the shipper with a clear error. Lines are never dropped.
 */
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
  retry: { baseMs: number; maxMs: number };
}

export const DEFAULT_SHIPPER: ShipperOptions = {
  maxLineBytes: 1024 * 1024,
  maxBatchLines: 500,
  maxBatchBytes: 4 * 1024 * 1024,
  maxDelayMs: 20,
  retry: { baseMs: 250, maxMs: 10_000 },
};

export class Shipper {
  readonly #client: RelayClient;
  readonly #spool: Spool;
  readonly #report: Reporter;
  readonly #opts: ShipperOptions;
  #open: string[] = [];
  #openBytes = 0;
  #openOffset: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Spooled batches waiting to be sent, in seq order. */
  #queue: Batch[];
  #pump: Promise<void> | null = null;
  #failed: Error | null = null;
  /** Lines the relay has acknowledged in this process. */
  shipped = 0;

  constructor(client: RelayClient, spool: Spool, report: Reporter, opts: ShipperOptions = DEFAULT_SHIPPER) {
    this.#client = client;
    this.#spool = spool;
    this.#report = report;
    this.#opts = opts;
    this.#queue = spool.unacknowledged();
    if (this.#queue.length > 0) {
      report.info(`resending ${this.#queue.length} unacknowledged batch(es) from the spool`);
      this.#kick();
    }
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
    if (this.#open.length >= this.#opts.maxBatchLines) this.#cut();
    else this.#timer ??= setTimeout(() => this.#cut(), this.#opts.maxDelayMs);
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
    if (this.#open.length === 0) return;
    const batch: Batch = { seq: this.#spool.nextSeq, lines: this.#open, ...(this.#openOffset !== undefined && { offset: this.#openOffset }) };
    this.#open = [];
    this.#openBytes = 0;
    this.#openOffset = undefined;
    try {
      this.#spool.write(batch); // on disk before it is sent
    } catch (err) {
      this.#failed = new Error(`cannot write the spool: ${(err as Error).message}`);
      this.#report.error(this.#failed.message);
      return;
    }
    this.#queue.push(batch);
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
      } catch (err) {
        if (err instanceof SeqGapError && err.expected < batch.seq) {
          // The relay lost batches it had acknowledged: resend from the one it expects.
          this.#report.info(`the relay expects batch ${err.expected}; resending from there`);
          const resend = this.#spool.from(err.expected).filter((b) => b.seq < batch.seq);
          this.#queue.unshift(...resend);
          continue;
        }
        this.#failed = describe(err);
        this.#report.error(this.#failed.message);
      }
    }
  }

  async #send(batch: Batch): Promise<void> {
    const producer = { ...this.#spool.producer, seq: batch.seq };
    const result = await retrying(() => this.#client.append(batch.lines, producer), this.#opts.retry, this.#report);
    this.#spool.acknowledge(batch.seq);
    if (result === "appended") this.shipped += batch.lines.length;
    this.#report.verbose(`batch ${batch.seq}: ${batch.lines.length} line(s) ${result}`);
  }
}

function describe(err: unknown): Error {
  if (err instanceof FatalError && err.code === "stale_producer_epoch") {
    return new Error("another runner has taken over this run (a newer producer epoch); stopping");
  }
  if (err instanceof FatalError && err.code === "run_ended") {
    return new Error("the run has already ended on the relay; it takes no more lines");
  }
  return err instanceof Error ? err : new Error(String(err));
}
