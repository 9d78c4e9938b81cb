/**
 * The spool: a file that holds every batch before it is sent, notes each one
 * the relay acknowledged, and what a restarted runner needs to carry on: the
 * producer epochs it used, the Claude session id, how far inputs were injected
 * and (for a tailed file) how far it was read. A runner restarted on the same
 * spool resends exactly the unacknowledged batches, each under its own epoch
 * and seq, so the relay stores every line once.
 *
 * Acknowledged batches are durable on the relay: they leave memory at once,
 * and the file is compacted (rewritten with only what is still needed, through
 * a temporary file and a rename, so a crash leaves the old or the new file,
 * never half of one) once the acknowledged part passes COMPACT_BYTES or
 * COMPACT_BATCHES. A run of any length keeps a spool of bounded size.
 *
 * The file's records, one JSON object a line, are listed in spool-file.ts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, appendFileSync } from "node:fs";
import { dirname } from "node:path";
import { after, readSpoolFile, rewriteSpoolFile, type Header, type SpoolRecord } from "./spool-file.ts";

export interface Batch {
  epoch: number;
  seq: number;
  lines: string[];
  /** For a tailed file: the byte offset just after the batch's last line. */
  offset?: number;
}

/** The producer id every runner of a run uses: fencing (epochs), not ids, tells runners apart. */
export const PRODUCER_ID = "runner";

/** Compact once the acknowledged part of the file passes this many bytes … */
export const COMPACT_BYTES = 256 * 1024;
/** … or this many batches. */
export const COMPACT_BATCHES = 100;

export interface SpoolOptions {
  compactBytes?: number;
  compactBatches?: number;
}

export class Spool {
  readonly path: string | null;
  readonly runId: string;
  readonly producerId: string;
  /** Epochs claimed, oldest first. */
  readonly epochs: number[] = [];
  #pending: Batch[] = [];
  #acked: { epoch: number; seq: number } | null = null;
  #nextSeq = 0;
  #inputCursor = 0;
  #session: string | undefined;
  #offset: number | undefined;
  #agent: number | undefined;
  /** Bytes and batches in the file that are no longer needed (acknowledged, superseded). */
  #garbageBytes = 0;
  #garbageBatches = 0;
  readonly #compactBytes: number;
  readonly #compactBatches: number;
  /** Times the file was compacted (for tests and -v). */
  compactions = 0;

  private constructor(path: string | null, header: Header, records: SpoolRecord[], opts: SpoolOptions) {
    this.path = path;
    this.runId = header.runId;
    this.producerId = header.producer;
    this.#compactBytes = opts.compactBytes ?? COMPACT_BYTES;
    this.#compactBatches = opts.compactBatches ?? COMPACT_BATCHES;
    const baseEpoch = header.epoch ?? 0;
    if (header.spool === 1) this.epochs.push(baseEpoch);
    const batches: Batch[] = [];
    for (const r of records) {
      if ("seq" in r) {
        const batch: Batch = { epoch: r.epoch ?? baseEpoch, seq: r.seq, lines: r.lines, ...(r.offset !== undefined && { offset: r.offset }) };
        batches.push(batch);
        if (batch.offset !== undefined) this.#offset = batch.offset;
      } else if ("ack" in r) {
        const ack = { epoch: r.epoch ?? baseEpoch, seq: r.ack };
        if (after(ack, this.#acked)) this.#acked = ack;
      } else if ("epoch" in r && typeof r.epoch === "number") {
        if (!this.epochs.includes(r.epoch)) this.epochs.push(r.epoch);
      } else if ("input" in r) this.#inputCursor = Math.max(this.#inputCursor, r.input);
      else if ("session" in r) this.#session ??= r.session;
      else if ("offset" in r) this.#offset = r.offset;
      else if ("agent" in r) this.#agent = r.agent;
    }
    this.#pending = batches.filter((b) => after(b, this.#acked));
    // Everything else in the file is garbage as far as compaction goes.
    this.#garbageBatches = batches.length - this.#pending.length;
  }

  /**
   * Opens the spool at `path` for `runId` (creating it), or an in-memory one
   * when `path` is null. A spool written for another run is refused; a record
   * cut short by a crash at the end of the file is dropped.
   */
  static open(path: string | null, runId: string, opts: SpoolOptions = {}): Spool {
    if (path === null || !existsSync(path)) {
      const header: Header = { spool: 2, runId, producer: PRODUCER_ID };
      if (path !== null) {
        mkdirSync(dirname(path), { recursive: true });
        appendFileSync(path, JSON.stringify(header) + "\n");
      }
      return new Spool(path, header, [], opts);
    }
    const { header, records, bytes } = readSpoolFile(path, runId);
    const spool = new Spool(path, header, records, opts);
    spool.#garbageBytes = bytes; // compact at the first occasion if it is big
    return spool;
  }

  /** The epoch new batches are sent under (the last one claimed), if any. */
  get epoch(): number | undefined {
    return this.epochs.at(-1);
  }

  /** Where a tailed file was read up to, as of the last batch. */
  get offset(): number | undefined {
    return this.#offset;
  }

  get inputCursor(): number {
    return this.#inputCursor;
  }

  /** The Claude session id the run's agent reported first, if any. */
  get session(): string | undefined {
    return this.#session;
  }

  /** The pid of the agent process a runner on this spool started last, if any. */
  get agent(): number | undefined {
    return this.#agent;
  }

  /** The highest batch the relay acknowledged. */
  get acknowledged(): { epoch: number; seq: number } | null {
    return this.#acked;
  }

  /** Batches written but not acknowledged, in order (epoch, then seq). */
  unacknowledged(): Batch[] {
    return [...this.#pending];
  }

  /** Records an epoch claimed from the relay: new batches are numbered from 0 in it. */
  claimed(epoch: number): void {
    if (this.epoch !== undefined && epoch <= this.epoch) throw new Error(`epoch ${epoch} is not above ${this.epoch}, the last one this spool used`);
    if (this.#pending.length > 0) throw new Error("claim a new epoch only once every earlier batch is acknowledged");
    this.epochs.push(epoch);
    this.#nextSeq = 0;
    this.#append({ epoch });
  }

  /** Records a batch of lines before it is sent, as the next seq of the current epoch. */
  add(lines: string[], offset?: number): Batch {
    const epoch = this.epoch;
    if (epoch === undefined) throw new Error("no producer epoch claimed yet");
    const batch: Batch = { epoch, seq: this.#nextSeq, lines, ...(offset !== undefined && { offset }) };
    this.#append({ seq: batch.seq, epoch, lines, ...(offset !== undefined && { offset }) });
    this.#nextSeq++;
    this.#pending.push(batch);
    if (offset !== undefined) this.#offset = offset;
    return batch;
  }

  /** The relay has `batch` (and every one before it): it leaves memory, and in time the file. */
  acknowledge(batch: { epoch: number; seq: number }): void {
    if (!after(batch, this.#acked)) return;
    this.#acked = { epoch: batch.epoch, seq: batch.seq };
    let bytes = 0;
    while (this.#pending.length > 0 && !after(this.#pending[0]!, this.#acked)) {
      const done = this.#pending.shift()!;
      bytes += done.lines.reduce((n, l) => n + Buffer.byteLength(l) + 3, 40);
      this.#garbageBatches++;
    }
    this.#garbageBytes += bytes + this.#append({ ack: batch.seq, epoch: batch.epoch });
    this.#maybeCompact();
  }

  /** Inputs up to `inputId` were handed to the agent. */
  injected(inputId: number): void {
    if (inputId <= this.#inputCursor) return;
    this.#inputCursor = inputId;
    this.#garbageBytes += this.#append({ input: inputId });
  }

  /** Records the run's Claude session id (the first one only: that is the session a restart resumes). */
  recordSession(id: string): void {
    if (this.#session !== undefined) return;
    this.#session = id;
    this.#append({ session: id });
  }

  /** Records the pid of the agent process this runner started. */
  recordAgent(pid: number): void {
    this.#agent = pid;
    this.#garbageBytes += this.#append({ agent: pid });
  }

  /** Rewrites the file with only what is still needed. */
  compact(): void {
    this.#garbageBytes = 0;
    this.#garbageBatches = 0;
    if (!this.path) return;
    const records: SpoolRecord[] = [
      { spool: 2, runId: this.runId, producer: this.producerId },
      ...this.epochs.map((epoch) => ({ epoch })),
      ...(this.#session !== undefined ? [{ session: this.#session }] : []),
      ...(this.#inputCursor > 0 ? [{ input: this.#inputCursor }] : []),
      ...(this.#offset !== undefined ? [{ offset: this.#offset }] : []),
      ...(this.#agent !== undefined ? [{ agent: this.#agent }] : []),
      ...(this.#acked ? [{ ack: this.#acked.seq, epoch: this.#acked.epoch }] : []),
      ...this.#pending.map((b) => ({ seq: b.seq, epoch: b.epoch, lines: b.lines, ...(b.offset !== undefined && { offset: b.offset }) })),
    ];
    rewriteSpoolFile(this.path, records);
    this.compactions++;
  }

  /**
   * Removes a spool that holds nothing but its header: a runner refused before it spooled
   * anything (a wrong token, an ended run) leaves no file behind.
   */
  static discardIfBlank(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return;
    }
    if (text.trim().split("\n").length <= 1) rmSync(path, { force: true });
  }

  /** Removes the spool once the run is complete: nothing is left to resend. */
  discard(): void {
    if (this.path) rmSync(this.path, { force: true });
  }

  #maybeCompact(): void {
    if (this.#garbageBytes >= this.#compactBytes || this.#garbageBatches >= this.#compactBatches) this.compact();
  }

  /** Appends a record; returns its size in bytes. */
  #append(record: SpoolRecord): number {
    const text = JSON.stringify(record) + "\n";
    if (this.path) appendFileSync(this.path, text);
    return Buffer.byteLength(text);
  }
}
