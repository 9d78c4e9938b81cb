/** The spool and its lock: what survives a crash, epochs, the session id, compaction. */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lockSpool, SpoolInUseError } from "./lock.ts";
import { PRODUCER_ID, Spool } from "./spool.ts";

const spoolPath = (name: string) => join(mkdtempSync(join(tmpdir(), `runrelay-spool-${name}-`)), "run.spool.jsonl");
const records = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("Spool", () => {
  it("a spool holding only its header is discarded after a refusal at start; one with anything more is kept", () => {
    const blank = spoolPath("blank");
    Spool.open(blank, "run-1");
    Spool.discardIfBlank(blank);
    expect(existsSync(blank)).toBe(false);
    const used = spoolPath("used");
    Spool.open(used, "run-1").claimed(0);
    Spool.discardIfBlank(used);
    expect(existsSync(used)).toBe(true);
  });

  it("numbers batches from 0 in each claimed epoch; batches carry their epoch; the producer id is `runner`", () => {
    const path = spoolPath("epochs");
    const spool = Spool.open(path, "run-1");
    expect(spool.producerId).toBe(PRODUCER_ID);
    expect(() => spool.add(["{}"])).toThrow(/no producer epoch/);
    spool.claimed(0);
    expect(spool.add(['{"n":1}'])).toEqual({ epoch: 0, seq: 0, lines: ['{"n":1}'] });
    expect(spool.add(['{"n":2}'])).toMatchObject({ epoch: 0, seq: 1 });
    expect(() => spool.claimed(1)).toThrow(/every earlier batch is acknowledged/);
    spool.acknowledge({ epoch: 0, seq: 1 });
    expect(() => spool.claimed(0)).toThrow(/not above/);
    spool.claimed(3);
    expect(spool.add(['{"n":3}'])).toMatchObject({ epoch: 3, seq: 0 });

    const again = Spool.open(path, "run-1");
    expect(again.epochs).toEqual([0, 3]);
    expect(again.unacknowledged()).toEqual([{ epoch: 3, seq: 0, lines: ['{"n":3}'] }]);
    expect(again.acknowledged).toEqual({ epoch: 0, seq: 1 });
  });

  it("drops a record cut short by a crash; records written after it start on a line of their own", () => {
    const path = spoolPath("torn");
    const first = Spool.open(path, "run-1");
    first.claimed(0);
    first.acknowledge(first.add(['{"n":1}']));
    first.add(['{"n":2}']);
    appendFileSync(path, '{"seq":2,"epoch":0,"lin'); // killed mid-write

    const second = Spool.open(path, "run-1");
    expect(second.unacknowledged()).toEqual([{ epoch: 0, seq: 1, lines: ['{"n":2}'] }]);
    second.acknowledge({ epoch: 0, seq: 1 });
    second.claimed(1);
    second.add(['{"n":3}']);

    const third = Spool.open(path, "run-1");
    expect(third.unacknowledged()).toEqual([{ epoch: 1, seq: 0, lines: ['{"n":3}'] }]);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
  });

  it("refuses a spool that is damaged before its end, or that belongs to another run", () => {
    const path = spoolPath("bad");
    const spool = Spool.open(path, "run-1");
    spool.claimed(0);
    spool.add(["{}"]);
    expect(() => Spool.open(path, "run-2")).toThrow(/belongs to run run-1, not run-2/);
    const lines = readFileSync(path, "utf8").split("\n");
    writeFileSync(path, [lines[0], "garbage", ...lines.slice(1)].join("\n"));
    expect(() => Spool.open(path, "run-1")).toThrow(/damaged at line 2/);
  });

  it("records the first session id and the input cursor, and keeps them through compaction", () => {
    const path = spoolPath("session");
    const spool = Spool.open(path, "run-1", { compactBatches: 2 });
    spool.recordSession("s-1");
    spool.recordSession("s-2"); // a later init line (a resumed or forked session) does not replace it
    spool.injected(4);
    spool.injected(3);
    spool.claimed(0);
    spool.acknowledge(spool.add(['{"n":1}'], 100));
    spool.acknowledge(spool.add(['{"n":2}'], 200));
    expect(spool.compactions).toBe(1);
    const again = Spool.open(path, "run-1");
    expect(again.session).toBe("s-1");
    expect(again.inputCursor).toBe(4);
    expect(again.offset).toBe(200);
    expect(again.epochs).toEqual([0]);
    expect(again.unacknowledged()).toEqual([]);
  });

  it("compacts: acknowledged batches leave memory and, past the threshold, the file; unacknowledged ones stay", () => {
    const path = spoolPath("compact");
    const spool = Spool.open(path, "run-1", { compactBytes: 4096, compactBatches: 1000 });
    spool.claimed(0);
    const line = JSON.stringify({ pad: "x".repeat(200) });
    let maxSize = 0;
    for (let i = 0; i < 500; i++) {
      const batch = spool.add([line, line]);
      if (i > 0) spool.acknowledge({ epoch: 0, seq: i - 1 }); // one batch always in flight
      maxSize = Math.max(maxSize, statSync(path).size);
      expect(spool.unacknowledged()).toEqual([batch]);
    }
    expect(spool.compactions).toBeGreaterThan(20);
    expect(maxSize).toBeLessThan(4096 + 3 * 1024); // the threshold, plus the batch in flight and a record or two
    const again = Spool.open(path, "run-1");
    expect(again.unacknowledged()).toEqual([{ epoch: 0, seq: 499, lines: [line, line] }]);
    expect(again.acknowledged).toEqual({ epoch: 0, seq: 498 });
    expect(existsSync(`${path}.compact`)).toBe(false);
  });

  it("compacts after COMPACT_BATCHES acknowledged batches even when they are small", () => {
    const path = spoolPath("compact-count");
    const spool = Spool.open(path, "run-1");
    spool.claimed(0);
    for (let i = 0; i < 250; i++) spool.acknowledge(spool.add(["{}"]));
    expect(spool.compactions).toBe(2);
    // What was acknowledged since the last compaction: 50 batches and their acks.
    expect(records(path).filter((r) => "seq" in r)).toHaveLength(50);
    expect(records(path).filter((r) => "ack" in r)).toHaveLength(51);
  });

  it("reads a version 1 spool: its producer id, epoch 0, batches without an epoch", () => {
    const path = spoolPath("v1");
    writeFileSync(
      path,
      ['{"spool":1,"runId":"run-1","producer":"runner-abc","epoch":0}', '{"seq":0,"lines":["{}"]}', '{"ack":0}', '{"seq":1,"lines":["{\\"n\\":2}"],"offset":9}', '{"input":2}', ""].join("\n"),
    );
    const spool = Spool.open(path, "run-1");
    expect(spool.producerId).toBe("runner-abc");
    expect(spool.epochs).toEqual([0]);
    expect(spool.unacknowledged()).toEqual([{ epoch: 0, seq: 1, lines: ['{"n":2}'], offset: 9 }]);
    expect(spool.inputCursor).toBe(2);
    expect(spool.offset).toBe(9);
  });

  it("an in-memory spool writes nothing", () => {
    const spool = Spool.open(null, "run-1");
    spool.claimed(0);
    spool.acknowledge(spool.add(["{}"]));
    spool.compact();
    expect(spool.path).toBeNull();
  });
});

describe("lockSpool", () => {
  it("refuses a second holder while the first is alive, and frees the spool on release", () => {
    const path = spoolPath("lock");
    const lock = lockSpool(path);
    expect(readFileSync(`${path}.lock`, "utf8").trim()).toBe(String(process.pid));
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      lock.release();
      const theirs = lockSpool(path, other.pid!);
      expect(() => lockSpool(path)).toThrow(SpoolInUseError);
      expect(() => lockSpool(path)).toThrow(`the spool ${path} is in use by process ${other.pid}`);
      theirs.release();
    } finally {
      other.kill("SIGKILL");
    }
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("takes over the lock of a process that is gone, and a lock with its own pid", async () => {
    const path = spoolPath("lock-stale");
    const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => gone.once("exit", resolve));
    writeFileSync(`${path}.lock`, `${gone.pid}\n`);
    const lock = lockSpool(path);
    expect(lock.tookOverFrom).toBe(gone.pid);
    lock.release();
    writeFileSync(`${path}.lock`, `${process.pid}\n`);
    lockSpool(path).release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("release leaves alone a lock that another runner holds by then", () => {
    const path = spoolPath("lock-theirs");
    const lock = lockSpool(path);
    writeFileSync(`${path}.lock`, "1\n");
    lock.release();
    expect(readFileSync(`${path}.lock`, "utf8")).toBe("1\n");
  });
});
