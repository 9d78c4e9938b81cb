/**
 * Restarts and takeovers. A runner SIGKILLed mid-turn and restarted on the
 * same spool resumes the same Claude session (the real Claude Code binary,
 * against the fake Messages API) without sending the prompt again, and
 * injects a message posted during the outage exactly once. A second runner on
 * the same run fences the first; a second runner on the same spool is refused.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Entry } from "../../src/protocol/index.ts";
import { claudeExecutable, startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic";
import { tokenFor } from "./auth";
import { LINES, newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
const env = (runId: string) => runnerEnv(runId, fake.env);
const sessionIds = (log: Entry[]) =>
  new Set(log.filter((e) => e.type === "sdk" && e.data.type === "system" && e.data.subtype === "init").map((e) => e.data.session_id));

describe.concurrent("restarts and takeovers", () => {
  const cases: [string, (runId: string, prompt: string, cwd: string) => Promise<string[]>][] = [
    ["sdk", async (_runId, prompt, cwd) => ["sdk", "--prompt", prompt, "--bare", "--cwd", cwd, "--spool-dir", cwd]],
    [
      "exec claude",
      async (_runId, prompt, cwd) => [
        "exec", "--prompt", prompt, "--cwd", cwd, "--spool-dir", cwd, "--",
        await claudeExecutable(), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", "--bare",
      ],
    ],
  ];

  for (const [name, args] of cases) {
    it(`restarted mid-turn, ${name}: one session, the prompt sent once, the outage's message injected once, completed`, async (ctx) => {
      const runId = newRunId(`resume-${name.replace(" ", "-")}`);
      const cwd = await tempDir(`resume-${name.replace(" ", "-")}`);
      const prompt = `a long task [hang] ${runId}`;
      const viewer = await relay().watch(runId);
      await viewer.opened;
      const first = startRunner(await args(runId, prompt, cwd), await env(runId), undefined, ctx);
      // The turn is in flight (the fake API holds its reply) and the session's init line is on the relay.
      const hanging = await fake.requests.until((r) => r.some((x) => x.lastUserText === prompt), "the held request");
      const held = hanging.find((x) => x.lastUserText === prompt)!;
      await viewer.seen.until((s) => s.some((x) => x.data.type === "system" && x.data.subtype === "init"), "the init line");
      first.kill("SIGKILL");
      expect(await first.exited).toBe(-9);

      const outage = `posted while no runner ran (${runId})`;
      expect((await relay().post(runId, "/messages", { message: outage })).status).toBe(202);
      const second = startRunner(await args(runId, prompt, cwd), await env(runId), undefined, ctx);
      expect(await second.exit, second.stderr()).toBe(0);
      expect(second.stderr()).toMatch(/resuming session [0-9a-f-]{36}/);
      // The agent the killed runner left behind was stopped: its held request was given up.
      await fake.abandoned.until((a) => a.includes(held.n), `the orphaned agent's request to be abandoned: ${second.stderr()}`);

      const log = await relay().log(runId);
      expect(sessionIds(log).size).toBe(1);
      expect(fake.requests.items.filter((r) => r.lastUserText.includes(prompt))).toHaveLength(1);
      const answered = fake.requests.items.filter((r) => r.lastUserText === outage);
      expect(answered).toHaveLength(1);
      // What the resumed session sent: the prompt of the turn in flight, closed by Claude Code, then the message.
      expect(answered[0]!.body.messages!.filter((m) => m.role !== "system").map((m) => m.role)).toEqual(["user", "assistant", "user"]);
      const inputs = log.filter((e) => e.type === "input").map((e) => [e.data.kind, e.data.inputId ?? e.data.inputIds]);
      expect(inputs).toEqual([["message", 1], ["delivered", [1]]]);
      expect(log.filter((e) => e.data.type === "assistant" && JSON.stringify(e.data).includes(`echo: ${outage}`))).toHaveLength(1);
      expect(log.at(-1)!.data).toEqual({ status: "completed" });
      expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
      const seen = await viewer.seen.ended();
      expect(seen.map((s) => s.id)).toEqual(log.map((e) => e.id));
    });
  }

  it("two runners: a second runner (fresh spool) fences the first, which stops on its next batch; a second runner on the same spool is refused", async (ctx) => {
    const runId = newRunId("takeover");
    const [dirA, dirB] = [await tempDir("takeover-a"), await tempDir("takeover-b")];
    const base = { RUNRELAY_URL: inject("relayUrl"), RUNRELAY_RUN_ID: runId, RUNRELAY_TOKEN: await tokenFor(runId, "runner") };
    const viewer = await relay().watch(runId);
    await viewer.opened;
    // The first runner: a line every 50 ms, for longer than the test.
    const first = startRunner(["exec", "-v", "--spool-dir", dirA, "--", process.execPath, LINES, "100000", "50", "first"], base, undefined, ctx);
    await viewer.seen.until((s) => s.filter((x) => x.data.tag === "first").length >= 10, "the first runner's lines");

    // Same spool: refused before it sends anything.
    const sameSpool = startRunner(["exec", "--spool-dir", dirA, "--", process.execPath, LINES, "3", "0", "never", "--result"], base, undefined, ctx);
    expect(await sameSpool.exit).toBe(2);
    expect(sameSpool.stderr().trim().split("\n")).toEqual([`runrelay: error: the spool ${join(dirA, `${runId}.spool.jsonl`)} is in use by process ${first.pid}`]);

    // Fresh spool: it claims the next epoch, and the first runner's next batch is refused.
    const file = join(dirB, "_stream.jsonl");
    await writeFile(file, "");
    const second = startRunner(["tail", "--file", file, "--spool-dir", dirB], base, undefined, ctx);
    expect(await first.exit).toBe(1);
    expect(first.stderr()).toContain(`runrelay: error: another runner took over run ${runId}\n`);
    expect(first.stderr()).not.toMatch(/run (completed|failed|cancelled)/);
    await writeFile(file, [1, 2, 3].map((n) => JSON.stringify({ type: "assistant", n, tag: "second" })).concat(JSON.stringify({ type: "result", subtype: "success", is_error: false })).join("\n") + "\n");
    expect(await second.exit, second.stderr()).toBe(0);

    const log = await relay().log(runId);
    // Every line the first runner had acknowledged, in order, once; none of the batch it was refused.
    const acknowledged = [...first.stderr().matchAll(/batch \d+:\d+: (\d+) line\(s\) appended/g)].reduce((n, m) => n + Number(m[1]), 0);
    const firstLines = log.filter((e) => e.data.tag === "first").map((e) => e.data.n);
    expect(firstLines).toEqual(Array.from({ length: acknowledged }, (_, i) => i + 1));
    expect(log.filter((e) => e.data.tag === "second").map((e) => e.data.n)).toEqual([1, 2, 3]);
    expect(log.filter((e) => e.data.tag === "never")).toEqual([]);
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
  });
});
