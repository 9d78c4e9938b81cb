/**
 * The spool: an append-only file that holds every batch before it is sent,
 * and notes each one the relay acknowledged. A runner restarted on the same
 * spool resends exactly the unacknowledged batches, as the same producer with
 * the same seqs, so the relay stores every line once.
 *
 * One JSON object a line:
 *   {"spool":1,"runId":"…","producer":"…","epoch":0}   the first line
 *   {"seq":3,"lines":["…"],"offset":1234}              a batch (offset: where a tailed file was read up to)
 *   {"ack":3}                                          the relay has batch 3
 *   {"input":5}                                        inputs up to 5 were injected
 */
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { dirname } from "node:path";

export interface Batch {
  seq: number;
  lines: string[];
  /** For a tailed file: the byte offset just after the batch's last line. */
  offset?: number;
}

type Header = { spool: 1; runId: string; producer: string; epoch: number };
type Record = Header | Batch | { ack: number } | { input: number };

export class Spool {
  readonly path: string | null;
  readonly producer: { id: string; epoch: number };
  #batches: Batch[] = [];
  #acked = -1;
  #inputCursor = 0;

  private constructor(path: string | null, header: Header, records: Record[]) {
    this.path = path;
    this.producer = { id: header.producer, epoch: header.epoch };
    for (const r of records) {
      if ("seq" in r) this.#batches.push(r);
      else if ("ack" in r) this.#acked = Math.max(this.#acked, r.ack);
      else if ("input" in r) this.#inputCursor = Math.max(this.#inputCursor, r.input);
    }
  }

  /**
   * Opens the spool at `path` for `runId` (creating it), or an in-memory one
   * when `path` is null. A spool written for another run is refused.
   */
  static open(path: string | null, runId: string): Spool {
    if (path === null || !existsSync(path)) {
      const header: Header = { spool: 1, runId, producer: `runner-${randomUUID()}`, epoch: 0 };
      if (path !== null) {
        mkdirSync(dirname(path), { recursive: true });
        appendFileSync(path, JSON.stringify(header) + "\n");
      }
      return new Spool(path, header, []);
    }
    let text = readFileSync(path, "utf8");
    if (text.length > 0 && !text.endsWith("\n")) {
      // A crash cut the last record short: that batch was never sent. Drop the fragment, so
      // that what is written next starts on a line of its own.
      text = text.slice(0, text.lastIndexOf("\n") + 1);
      truncateSync(path, Buffer.byteLength(text));
    }
    const records: Record[] = [];
    for (const [i, line] of text.split("\n").entries()) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as Record);
      } catch {
        throw new Error(`the spool ${path} is damaged at line ${i + 1}; move it aside to start the run's shipping afresh`);
      }
    }
    const header = records.shift();
    if (!header || !("spool" in header)) throw new Error(`${path} is not a runrelay spool`);
    if (header.runId !== runId) throw new Error(`the spool ${path} belongs to run ${header.runId}, not ${runId}`);
    return new Spool(path, header, records);
  }

  /** The seq the next batch gets. */
  get nextSeq(): number {
    return (this.#batches.at(-1)?.seq ?? -1) + 1;
  }

  /** Where a tailed file was read up to, as of the last batch. */
  get offset(): number | undefined {
    return this.#batches.findLast((b) => b.offset !== undefined)?.offset;
  }

  get inputCursor(): number {
    return this.#inputCursor;
  }

  /** Batches written but not acknowledged, in order. */
  unacknowledged(): Batch[] {
    return this.#batches.filter((b) => b.seq > this.#acked);
  }

  /** Every batch from `seq` on (to resend after the relay lost some). */
  from(seq: number): Batch[] {
    return this.#batches.filter((b) => b.seq >= seq);
  }

  /** Records a batch before it is sent. */
  write(batch: Batch): void {
    this.#batches.push(batch);
    this.#append(batch);
  }

  acknowledge(seq: number): void {
    this.#acked = Math.max(this.#acked, seq);
    this.#append({ ack: seq });
  }

  injected(inputId: number): void {
    this.#inputCursor = Math.max(this.#inputCursor, inputId);
    this.#append({ input: inputId });
  }

  /** Removes the spool once the run is complete: nothing is left to resend. */
  discard(): void {
    if (this.path) rmSync(this.path, { force: true });
  }

  #append(record: Record): void {
    if (this.path) appendFileSync(this.path, JSON.stringify(record) + "\n");
  }
}
