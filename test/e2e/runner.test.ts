/**
 * The runner end to end: the real Claude Code binary (from the Agent SDK's
 * platform package) against a fake Messages API on loopback, relaying into a
 * real `wrangler dev`, watched by a real EventSource.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic";
import { conversation, newRunId, relayApi, startRunner, tempDir } from "./runner-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
const env = (runId: string) => ({ ...fake.env, RUNRELAY_URL: inject("relayUrl"), RUNRELAY_RUN_ID: runId });

describe("runrelay sdk", () => {
  it("relays a turn with a tool use: exactly the SDK's messages, in order, then completed; a viewer saw them live", async () => {
    const runId = newRunId("sdk-tool");
    const cwd = await tempDir("sdk-tool");
    const viewer = relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["sdk", "--prompt", "please [tool]", "--bare", "--allowed-tools", "Bash", "--cwd", cwd, "--spool-dir", cwd], env(runId));
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
