/**
 * A batch is stored by as few statements as its size allows (src/run/log.ts):
 * whatever its size and contents, every line comes back byte for byte, with
 * dense ids, and the rows written count one row per line.
 */
import { describe, expect, it } from "vitest";
import { append, appendOk, call, complete, info, newRunId, postJson, readAll } from "./support";

/** Raw NDJSON, so lines keep their exact text (spacing, escapes, key order). */
const raw = (lines: readonly string[]) => lines.join("\n") + "\n";

describe("POST /events: storing a batch", () => {
  it("keeps every line's exact text: spacing, escapes, unicode, quotes, numbers as sent", async () => {
    const runId = newRunId("exact");
    const lines = [
      '{"type":"user","text":"plain"}',
      '{ "type" : "user",\t"spaced" : [ 1 , 2 ] }',
      '{"type":"user","esc":"quote \\" backslash \\\\ tab \\t nl \\n u \\u00e9 \\ud83d\\ude00"}',
      '{"type":"user","raw":"é ü 漢字 😀","n":1.50,"big":12345678901234567890,"neg":-0}',
      '{"type":"user","deep":{"a":[{"b":[{"c":null}]}]},"empty":{},"list":[]}',
    ];
    for (let copies = 1; copies <= 3; copies++) {
      const res = await append(runId, raw(Array(copies).fill(lines).flat()));
      expect(res.status).toBe(200);
    }
    const expected = [1, 2, 3].flatMap((copies) => Array(copies).fill(lines).flat() as string[]);
    // The page joins each entry's stored text as it is: every line comes back exactly as sent, with its id.
    const page = await (await call(runId, "/events?after=0")).text();
    for (let i = 0; i < expected.length; i++) expect(page).toContain(`{"id":${i + 1},"ts":`);
    const datas = [...page.matchAll(/"type":"sdk","data":/g)].length;
    expect(datas).toBe(expected.length);
    for (const line of lines) expect(page.split(`"data":${line}}`).length - 1).toBe(6);
    expect((await readAll(runId)).map((e) => e.id)).toEqual(expected.map((_, i) => i + 1));
  });

  it("stores a batch of large lines (several MiB in all) whole, each line exact", async () => {
    const runId = newRunId("large");
    const line = (i: number, size: number) => JSON.stringify({ type: "big", i, pad: `"${"z".repeat(size)}é` });
    const sizes = [900_000, 10, 700_000, 300_000, 5, 1_000_000, 64_000, 64_000, 64_000];
    const lines = sizes.map((size, i) => line(i, size));
    expect(await appendOk(runId, lines.map((l) => JSON.parse(l)))).toBe(sizes.length);
    const log = await readAll(runId);
    expect(log.map((e) => e.id)).toEqual(sizes.map((_, i) => i + 1));
    expect(log.map((e) => (e.data as { pad: string }).pad.length)).toEqual(sizes.map((s) => s + 2));
    expect(log.map((e) => JSON.stringify(e.data))).toEqual(lines);
  });

  it("stores many small lines, and counts one row per line plus the run's (which holds the producer's seq)", async () => {
    const runId = newRunId("many");
    await appendOk(runId, [{ type: "user", n: 0 }], { id: "p", epoch: 0, seq: 0 });
    const before = (await info(runId)).rowsWritten;
    const lines = Array.from({ length: 2500 }, (_, n) => ({ type: "user", n: n + 1, text: `line "${n + 1}"` }));
    expect(await appendOk(runId, lines, { id: "p", epoch: 0, seq: 1 })).toBe(2501);
    expect((await info(runId)).rowsWritten - before).toBe(2500 + 1);
    const log = await readAll(runId);
    expect(log.map((e) => e.id)).toEqual(Array.from({ length: 2501 }, (_, i) => i + 1));
    expect(log.slice(1).map((e) => e.data)).toEqual(lines);
  });

  it("stores entries of several types in one write: ending with queued inputs logs them undelivered, then the status", async () => {
    const runId = newRunId("mixed");
    await appendOk(runId, [{ type: "user", n: 1 }]);
    for (const message of ["one", "two \"quoted\""]) expect((await postJson(runId, "/messages", { message })).status).toBe(202);
    expect((await complete(runId, "failed", "gave up")).status).toBe(200);
    const log = await readAll(runId);
    expect(log.map((e) => [e.id, e.type])).toEqual([[1, "sdk"], [2, "input"], [3, "input"], [4, "input"], [5, "status"]]);
    expect(log[3]!.data).toMatchObject({ kind: "undelivered", inputIds: [1, 2] });
    expect(log[4]!.data).toEqual({ status: "failed", reason: "gave up" });
    expect(new Set(log.slice(3).map((e) => e.ts)).size).toBe(1);
  });
});
