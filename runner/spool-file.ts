/**
 * The spool's file (spool.ts): its records, how the file is read back, and
 * how it is rewritten whole when compacted.
 *
 * One JSON object a line:
 *   {"spool":2,"runId":"…","producer":"runner"}      the first line
 *   {"epoch":1}                                      an epoch this runner claimed; its batches follow
 *   {"seq":3,"epoch":1,"lines":["…"],"offset":1234}  a batch (offset: where a tailed file was read up to)
 *   {"ack":3,"epoch":1}                              the relay has every batch up to (epoch 1, seq 3)
 *   {"input":5}                                      inputs up to 5 were handed to the agent
 *   {"session":"…"}                                  the Claude session id (from the first system/init line)
 *   {"offset":1234}                                  where a tailed file was read up to (written by compaction)
 *   {"agent":4321}                                   the pid of the agent process this runner started
 * Version 1 spools (a random producer id, epoch 0 in the header, batches without an epoch) are read too.
 */
import { closeSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from "node:fs";

export type Header = { spool: 1 | 2; runId: string; producer: string; epoch?: number };
type BatchRecord = { seq: number; epoch?: number; lines: string[]; offset?: number };
export type SpoolRecord =
  | Header
  | BatchRecord
  | { ack: number; epoch?: number }
  | { epoch: number }
  | { input: number }
  | { session: string }
  | { offset: number }
  | { agent: number };

/** (epoch, seq) in order: epochs first. */
export const after = (a: { epoch: number; seq: number }, b: { epoch: number; seq: number } | null) =>
  b === null || a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);

/**
 * Reads the spool at `path` for `runId`: its header, its other records, and the
 * file's size in bytes. A spool written for another run is refused; a record cut
 * short by a crash at the end of the file is dropped.
 */
export function readSpoolFile(path: string, runId: string): { header: Header; records: SpoolRecord[]; bytes: number } {
  let text = readFileSync(path, "utf8");
  if (text.length > 0 && !text.endsWith("\n")) {
    // A crash cut the last record short: that batch was never sent. Drop the fragment, so
    // that what is written next starts on a line of its own.
    text = text.slice(0, text.lastIndexOf("\n") + 1);
    truncateSync(path, Buffer.byteLength(text));
  }
  const records: SpoolRecord[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as SpoolRecord);
    } catch {
      throw new Error(`the spool ${path} is damaged at line ${i + 1}; move it aside to start the run's shipping afresh`);
    }
  }
  const header = records.shift();
  if (!header || !("spool" in header)) throw new Error(`${path} is not a runrelay spool`);
  if (header.runId !== runId) throw new Error(`the spool ${path} belongs to run ${header.runId}, not ${runId}`);
  return { header, records, bytes: Buffer.byteLength(text) };
}

/** Replaces the file at `path` with `records`, through a temporary file and a rename. */
export function rewriteSpoolFile(path: string, records: SpoolRecord[]): void {
  const temp = `${path}.compact`;
  const fd = openSync(temp, "w");
  try {
    // No fsync, like every other write to the spool: it is there for a runner that dies, which
    // the page cache survives, not for a machine that loses power.
    writeSync(fd, records.map((r) => JSON.stringify(r) + "\n").join(""));
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path); // atomic: a crash leaves the old file or the new one
}
