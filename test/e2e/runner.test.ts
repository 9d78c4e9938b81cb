/**
 * The runner end to end: the real Claude Code binary (from the Agent SDK's
 * platform package) against a fake Messages API on loopback, relaying into a
 * real `wrangler dev`, watched by a real EventSource.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { claudeExecutable, startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic";
import { conversation, newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
const env = (runId: string) => runnerEnv(runId, fake.env);

describe("runrelay sdk", () => {
  it("relays a turn with a tool use: exactly the SDK's messages, in order, then completed; a viewer saw them live", async () => {
    const runId = newRunId("sdk-tool");
    const cwd = await tempDir("sdk-tool");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["sdk", "--prompt", "please [tool]", "--bare", "--allowed-tools", "Bash", "--cwd", cwd, "--spool-dir", cwd], await env(runId));
    expect(await runner.exit, runner.stderr()).toBe(0);

    const log = await relay().log(runId);
    expect(conversation(log)).toEqual([
      "system:init",
      "assistant:tool_use",
      "user:tool_result",
      "assistant:text",
      "result:success",
      "status:completed",
    ]);
    const toolResult = log.find((e) => e.data.type === "user")!.data as { message: { content: { content: string }[] } };
    expect(toolResult.message.content[0]!.content).toBe("tool-ran");
    const sessionIds = new Set(log.filter((e) => e.type === "sdk" && e.data.session_id).map((e) => e.data.session_id));
    expect(sessionIds.size).toBe(1);
    expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));

    const seen = await viewer.seen.ended();
    expect(seen.map((s) => [s.id, s.data])).toEqual(log.map((e) => [e.id, e.data]));
    expect(runner.stderr()).toContain("run completed");
  });
});

/** Waits for the first `result` a viewer sees, then sends a message: it must start a second turn. */
async function secondTurn(runId: string, viewer: Awaited<ReturnType<ReturnType<typeof relayApi>["watch"]>>) {
  await viewer.seen.until((s) => s.some((x) => x.data.type === "result"), "the first result");
  const res = await relay().post(runId, "/messages", { message: `and a second question (${runId})` });
  expect(res.status).toBe(202);
}

const withoutDelivered = (c: string[]) => c.filter((x) => x !== "input:delivered" && x !== "system:init");

describe("talking to a running session", () => {
  it("sdk: a message posted while the session is open starts a second turn, with its own result", async () => {
    const runId = newRunId("sdk-turns");
    const cwd = await tempDir("sdk-turns");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["sdk", "--prompt", "a first question", "--bare", "--idle-timeout", "8", "--cwd", cwd, "--spool-dir", cwd], await env(runId));
    await secondTurn(runId, viewer);
    expect(await runner.exit, runner.stderr()).toBe(0);

    const asked = fake.requests.items.filter((r) => r.lastUserText === `and a second question (${runId})`);
    expect(asked).toHaveLength(1);
    const log = await relay().log(runId);
    expect(withoutDelivered(conversation(log))).toEqual([
      "assistant:text",
      "result:success",
      "input:message",
      "assistant:text",
      "result:success",
      "status:completed",
    ]);
    expect(log.filter((e) => e.type === "input" && e.data.kind === "delivered").map((e) => e.data.inputIds)).toEqual([[1]]);
    const texts = log.filter((e) => e.data.type === "assistant").map((e) => JSON.stringify(e.data));
    expect(texts[1]).toContain(`echo: and a second question (${runId})`);
    expect(runner.stderr()).toContain("message 1 injected");
  });

  it("sdk: an interrupt during a slow reply stops the turn; the SDK reports it, nothing is lost, the run ends cancelled", async () => {
    const runId = newRunId("sdk-interrupt");
    const cwd = await tempDir("sdk-interrupt");
    const runner = startRunner(["sdk", "--prompt", `take your time [hang] ${runId}`, "--bare", "--cwd", cwd, "--spool-dir", cwd], await env(runId));
    const mine = (r: { lastUserText: string }) => r.lastUserText.includes(runId);
    const hanging = (await fake.requests.until((r) => r.some(mine), "the slow request")).find(mine)!;
    expect((await relay().post(runId, "/interrupt")).status).toBe(202);
    expect(await runner.exit, runner.stderr()).toBe(1);
    await fake.abandoned.until((a) => a.includes(hanging.n), "the slow reply to be abandoned");

    const log = await relay().log(runId);
    const lines = conversation(log);
    expect(lines.at(-1)).toBe("status:cancelled");
    expect(lines).toContain("input:interrupt");
    expect(lines.filter((l) => l.startsWith("result:"))).toHaveLength(1);
    const interruptedNote = log.find((e) => e.data.type === "user" && JSON.stringify(e.data).includes("interrupted by user"));
    expect(interruptedNote).toBeDefined();
    expect(log.at(-1)!.data).toEqual({ status: "cancelled", reason: "interrupted by a participant" });
    expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
  });
});

it("sdk: SIGTERM interrupts the agent, flushes every line, and ends the run cancelled with exit code 130", async () => {
  const runId = newRunId("sdk-sigterm");
  const cwd = await tempDir("sdk-sigterm");
  const runner = startRunner(["sdk", "--prompt", `slowly [hang] ${runId}`, "--bare", "--cwd", cwd, "--spool-dir", cwd], await env(runId));
  await fake.requests.until((r) => r.some((x) => x.lastUserText.includes(runId)), "the slow request");
  runner.kill("SIGTERM");
  expect(await runner.exit, runner.stderr()).toBe(130);
  const log = await relay().log(runId);
  expect(conversation(log)[0]).toBe("system:init");
  expect(log.at(-1)!.data).toEqual({ status: "cancelled", reason: "the runner was stopped" });
  expect(log.map((e) => e.id)).toEqual(log.map((_, i) => i + 1));
});

describe("runrelay exec", () => {
  it("runs the real claude -p with stream-json input: a tool use, then a second turn from a posted message", async () => {
    const runId = newRunId("exec");
    const cwd = await tempDir("exec");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const claude = await claudeExecutable();
    const runner = startRunner(
      ["exec", "--prompt", "please [tool]", "--idle-timeout", "8", "--spool-dir", cwd, "--",
        claude, "-p", "--output-format", "stream-json", "--input-format", "stream-json", "--verbose", "--bare", "--allowedTools", "Bash"],
      await env(runId),
      cwd,
    );
    await secondTurn(runId, viewer);
    expect(await runner.exit, runner.stderr()).toBe(0);

    const log = await relay().log(runId);
    expect(withoutDelivered(conversation(log))).toEqual([
      "assistant:tool_use",
      "user:tool_result",
      "assistant:text",
      "result:success",
      "input:message",
      "assistant:text",
      "result:success",
      "status:completed",
    ]);
    expect(conversation(log)[0]).toBe("system:init");
    expect(fake.requests.items.filter((r) => r.lastUserText === `and a second question (${runId})`)).toHaveLength(1);
    const seen = await viewer.seen.ended();
    expect(seen.map((s) => s.id)).toEqual(log.map((e) => e.id));
  });
});
