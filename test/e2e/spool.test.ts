/** The runner's spool as a library: what survives a crash in the middle of writing it. */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { Spool } from "../../runner/spool";
import { tempDir } from "./runner-support";

it("drops a record cut short by a crash, and records written after it start on a line of their own", async () => {
  const path = join(await tempDir("spool"), "run.spool.jsonl");
  const first = Spool.open(path, "run-1");
  first.write({ seq: 0, lines: ['{"n":1}'] });
  first.acknowledge(0);
  first.write({ seq: 1, lines: ['{"n":2}'] });
  appendFileSync(path, '{"seq":2,"lin'); // killed mid-write

  const second = Spool.open(path, "run-1");
  expect(second.producer).toEqual(first.producer);
  expect(second.unacknowledged()).toEqual([{ seq: 1, lines: ['{"n":2}'] }]);
  expect(second.nextSeq).toBe(2);
  second.write({ seq: 2, lines: ['{"n":3}'] });
  second.acknowledge(1);

  const third = Spool.open(path, "run-1");
  expect(third.unacknowledged()).toEqual([{ seq: 2, lines: ['{"n":3}'] }]);
  expect(third.nextSeq).toBe(3);
  expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
});

it("refuses a spool that is damaged before its end, or that belongs to another run", async () => {
  const dir = await tempDir("spool-bad");
  const path = join(dir, "run.spool.jsonl");
  Spool.open(path, "run-1").write({ seq: 0, lines: ["{}"] });
  expect(() => Spool.open(path, "run-2")).toThrow(/belongs to run run-1, not run-2/);
  const lines = readFileSync(path, "utf8").split("\n");
  writeFileSync(path, [lines[0], "garbage", lines[1], ""].join("\n"));
  expect(() => Spool.open(path, "run-1")).toThrow(/damaged at line 2/);
});
