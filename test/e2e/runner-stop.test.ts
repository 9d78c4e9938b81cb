/**
 * Stop and late messages. Stop pressed while the agent is idle changes no
 * later turn; stop during a slow `exec claude` turn stops that turn (Claude
 * Code's interrupt control request) and the session goes on. A message that
 * arrives once the session has closed is reported undelivered, never left
 * queued.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunInfo } from "../../src/protocol/index.ts";
import { claudeExecutable, startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic";
import { ADMIN } from "./auth";
import { conversation, LINES, newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
const env = (runId: string) => runnerEnv(runId, fake.env);
const claudeArgs = async () => [await claudeExecutable(), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", "--bare"];
const notable = (c: string[]) => c.filter((x) => x !== "system:init");

describe.concurrent("stop and late messages", () => {
  it("stop while the agent is idle is acknowledged and changes nothing: the next message's turn completes, and so does the run", async (ctx) => {
    const runId = newRunId("stop-idle");
    const cwd = await tempDir("stop-idle");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["sdk", "--prompt", "a first question", "--bare", "--idle-timeout", "6", "--cwd", cwd, "--spool-dir", cwd], await env(runId), undefined, ctx);
    await viewer.seen.until((s) => s.some((x) => x.data.type === "result"), "the first result");
    const stop = (await (await relay().post(runId, "/interrupt")).json()) as { id: number };
    await viewer.seen.until((s) => s.some((x) => x.data.kind === "delivered" && (x.data.inputIds as number[]).includes(stop.id)), "the stop to be delivered");
    expect((await relay().post(runId, "/messages", { message: `then a question (${runId})` })).status).toBe(202);
    expect(await runner.exit, runner.stderr()).toBe(0);

    expect(runner.stderr()).toContain("interrupt 1: no turn in flight, nothing to stop");
    const log = await relay().log(runId);
    expect(notable(conversation(log)).filter((x) => x !== "input:delivered")).toEqual([
      "assistant:text",
      "result:success",
      "input:interrupt",
      "input:message",
      "assistant:text",
      "result:success",
      "status:completed",
    ]);
    expect(log.filter((e) => e.data.kind === "delivered").map((e) => e.data.inputIds)).toEqual([[1], [2]]);
    expect(fake.requests.items.filter((r) => r.lastUserText === `then a question (${runId})`)).toHaveLength(1);
  });

  it("exec claude: stop during a slow turn interrupts it, the session goes on, and the next message gets its answer", async (ctx) => {
    const runId = newRunId("stop-exec");
    const cwd = await tempDir("stop-exec");
    const prompt = `a slow one [hang] ${runId}`;
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["exec", "--prompt", prompt, "--idle-timeout", "6", "--spool-dir", cwd, "--", ...(await claudeArgs())], await env(runId), cwd, ctx);
    const held = (await fake.requests.until((r) => r.some((x) => x.lastUserText === prompt), "the slow request")).find((x) => x.lastUserText === prompt)!;
    expect((await relay().post(runId, "/interrupt")).status).toBe(202);
    await fake.abandoned.until((a) => a.includes(held.n), "the slow reply to be abandoned");
    await viewer.seen.until((s) => s.some((x) => x.data.type === "result"), "the interrupted turn's result");
    const after = `after the stop (${runId})`;
    expect((await relay().post(runId, "/messages", { message: after })).status).toBe(202);
    expect(await runner.exit, runner.stderr()).toBe(0);

    const log = await relay().log(runId);
    const results = log.filter((e) => e.data.type === "result").map((e) => [e.data.subtype, e.data.is_error]);
    expect(results).toEqual([["error_during_execution", true], ["success", false]]);
    expect(log.some((e) => e.data.type === "user" && JSON.stringify(e.data).includes("Request interrupted by user"))).toBe(true);
    expect(log.filter((e) => e.data.type === "assistant" && JSON.stringify(e.data).includes(after))).toHaveLength(1);
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
  });

  it("a message that arrives once the session has closed is reported undelivered (session_closed), and nothing stays queued", async (ctx) => {
    const runId = newRunId("late-message");
    const dir = await tempDir("late-message");
    const release = join(dir, "release");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    // One turn; once the runner closes its input the command says so, and exits only when released.
    const runner = startRunner(
      ["exec", "--spool-dir", dir, "--exit-grace", "60", "--", process.execPath, LINES, "2", "0", "late", "--result", "--hold", release],
      await env(runId),
      undefined,
      ctx,
    );
    await viewer.seen.until((s) => s.some((x) => x.data.type === "stdin_closed"), "the session to close");
    const late = (await (await relay().post(runId, "/messages", { message: "too late" })).json()) as { id: number };
    await viewer.seen.until((s) => s.some((x) => x.data.kind === "undelivered"), "the undelivered report");
    await writeFile(release, "");
    expect(await runner.exit, runner.stderr()).toBe(0);

    const log = await relay().log(runId);
    expect(log.filter((e) => e.type === "input").map((e) => e.data)).toEqual([
      { kind: "message", inputId: late.id, message: { role: "user", content: "too late" }, uuid: expect.any(String) },
      { kind: "undelivered", inputIds: [late.id], reason: "session_closed" },
    ]);
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    const info = (await (await fetch(relay().url(runId), { headers: ADMIN })).json()) as RunInfo;
    expect(info.pendingInputs).toBe(0);
  });
});
