/**
 * Long runs. One outlives its tokens: the runner's token lives 4 s and the
 * backend rewrites the token file every 3 s; the runner renews it from the
 * file whenever the relay answers 401 token_expired, and loses nothing.
 * Another is big: 100,000 lines from a command that prints as fast as its
 * stdout is read; the runner's memory stays flat and its spool small
 * (acknowledged batches leave both). The two run side by side: the first
 * mostly waits.
 */
import { statSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { EventsPage } from "../../src/protocol/index.ts";
import { ADMIN, tokenFor } from "./auth";
import { LINES, newRunId, relayApi, startRunner, tempDir } from "./runner-support";

const relay = () => relayApi(inject("relayUrl"));
const LINES_COUNT = 230; // one every 200 ms: a run of 46 s, over eleven 4 s token lifetimes
const TOTAL = 100_000;

describe.concurrent("long runs", () => {
  it("a 46 s run with a 4 s token, renewed from --token-file: completed, every line once, in order", { timeout: 120_000 }, async (ctx) => {
    const runId = newRunId("token-renewal");
    const dir = await tempDir("token-renewal");
    const tokenFile = join(dir, "token");
    // What a backend does: write a fresh token now and then (atomically, so a reader never sees half of one).
    const writeToken = async () => {
      await writeFile(`${tokenFile}.tmp`, (await tokenFor(runId, "runner", 4)) + "\n");
      await rename(`${tokenFile}.tmp`, tokenFile);
    };
    await writeToken();
    // Every 3 s, just after a whole second: a token's `exp` is whole seconds, so it then lives a full 4 s.
    let rewriting = true;
    const rewriter = (async () => {
      while (rewriting) {
        await new Promise((resolve) => setTimeout(resolve, 3000 - (Date.now() % 1000) + 20));
        if (rewriting) await writeToken();
      }
    })();
    try {
      const runner = startRunner(
        ["exec", "--token-file", tokenFile, "--spool-dir", dir, "--", process.execPath, LINES, String(LINES_COUNT), "200", "t", "--result"],
        { RUNRELAY_URL: inject("relayUrl"), RUNRELAY_RUN_ID: runId, RUNRELAY_TOKEN: "" },
        undefined,
        ctx,
      );
      expect(await runner.exit, runner.stderr()).toBe(0);
      const renewals = Number(runner.stderr().match(/the token was renewed (\d+) time/)?.[1] ?? 0);
      console.log(`the runner renewed its token ${renewals} times`);
      expect(renewals, runner.stderr()).toBeGreaterThanOrEqual(10); // ten expiries at least (issue 10)
    } finally {
      rewriting = false;
      await rewriter;
    }
    const log = await relay().log(runId);
    expect(log.filter((e) => e.data.type === "assistant").map((e) => e.data.n)).toEqual(Array.from({ length: LINES_COUNT }, (_, i) => i + 1));
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
  });


  it(`${TOTAL.toLocaleString("en")} lines: the runner's RSS stays within 1.5× of its RSS at 10,000 lines, the spool under 1 MiB`, { timeout: 120_000 }, async (ctx) => {
    const runId = newRunId("volume");
    const dir = await tempDir("volume");
    const runner = startRunner(
      ["exec", "-v", "--spool-dir", dir, "--", process.execPath, LINES, String(TOTAL), "0", "v", "--result"],
      { RUNRELAY_URL: inject("relayUrl"), RUNRELAY_RUN_ID: runId, RUNRELAY_TOKEN: await tokenFor(runId, "runner") },
      undefined,
      ctx,
    );
    expect(await runner.exit, runner.stderr().slice(-2000)).toBe(0);

    // -v: "N line(s) shipped; rss R bytes; spool S bytes" every 10,000 lines.
    const stats = [...runner.stderr().matchAll(/(\d+) line\(s\) shipped; rss (\d+) bytes; spool (\d+) bytes/g)].map((m) => ({
      lines: Number(m[1]),
      rss: Number(m[2]),
      spool: Number(m[3]),
    }));
    expect(stats.map((s) => Math.floor(s.lines / 10_000)), JSON.stringify(stats)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const at10k = stats[0]!;
    const at100k = stats.at(-1)!;
    console.log(`runner RSS: ${(at10k.rss / 2 ** 20).toFixed(1)} MiB at ${at10k.lines} lines, ${(at100k.rss / 2 ** 20).toFixed(1)} MiB at ${at100k.lines}; max spool ${Math.max(...stats.map((s) => s.spool))} bytes`);
    expect(Math.max(...stats.map((s) => s.rss))).toBeLessThan(at10k.rss * 1.5);
    expect(Math.max(...stats.map((s) => s.spool))).toBeLessThan(1024 * 1024);
    expect(statSync(join(dir, `${runId}.spool.jsonl`), { throwIfNoEntry: false })).toBeUndefined(); // removed once complete

    // Every line once, in order: read the log in pages, checking as it goes (not holding 100,000 entries).
    let after = 0;
    let expected = 1;
    for (;;) {
      const res = await fetch(relay().url(runId, `/events?after=${after}`), { headers: ADMIN });
      const page = (await res.json()) as EventsPage;
      if (page.events.length === 0) break;
      for (const e of page.events) {
        if (e.type !== "sdk" || e.data.type !== "assistant") continue;
        if (e.data.n !== expected) throw new Error(`entry ${e.id}: line ${String(e.data.n)}, expected ${expected}`);
        expected++;
      }
      after = page.events.at(-1)!.id;
    }
    expect(expected - 1).toBe(TOTAL);
    expect((await relay().log(runId).then((l) => l.slice(-2))).map((e) => e.data.type ?? e.data.status)).toEqual(["result", "completed"]);
  });
});
