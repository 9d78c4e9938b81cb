/**
 * Anthropic's browser SDK (`@anthropic-ai/claude-agent-sdk/browser`'s `query()`, unchanged, in Node)
 * against a run on a real `wrangler dev`, whose runner drives the real Claude Code binary against the
 * fake Messages API. The agent asks to write a file outside its directory; whoever answers through
 * the SDK's `canUseTool` decides.
 */
import { getCcrEvent, getSseLastSequenceNum, resumeSseStream, suspendSseStream, type CanUseTool } from "@anthropic-ai/claude-agent-sdk/browser";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Entry } from "../../src/protocol/index.ts";
import { claudeExecutable, startFakeAnthropic, WRITTEN, type FakeAnthropic } from "../support/fake-anthropic";
import { EVENTUALLY } from "../support/inbox";
import { newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";
import { nthResult, sessionConsumer, toolResults } from "./session-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
/** Claude Code's own config dir per run (not --bare, which has no Write tool): no setting of the machine's user allows or denies a tool. */
const env = async (runId: string) => runnerEnv(runId, { ...fake.env, CLAUDE_CONFIG_DIR: await tempDir("claude-config") });
const claudeArgs = async () => [await claudeExecutable(), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"];
type Ctx = Parameters<typeof startRunner>[3];

/** A run whose agent is asked to write `target` (outside its directory), by `exec` + `claude` or by `sdk`. */
async function writingRun(name: string, mode: "exec" | "sdk", ctx: Ctx, extra: string[] = []) {
  const runId = newRunId(name);
  const cwd = await tempDir(name);
  const target = join(await tempDir(`${name}-out`), "file.txt");
  const prompt = `please [write ${target}]`;
  const args =
    mode === "exec"
      ? ["exec", "--prompt", prompt, ...extra, "--spool-dir", cwd, "--", ...(await claudeArgs())]
      : ["sdk", "--prompt", prompt, "--cwd", cwd, ...extra, "--spool-dir", cwd];
  const runner = startRunner(args, await env(runId), cwd, ctx);
  return { runId, target, runner };
}

/** A `canUseTool` that records its calls and answers with `decide`. */
function recorder(decide: (input: Record<string, unknown>) => Promise<Awaited<ReturnType<CanUseTool>>> | Awaited<ReturnType<CanUseTool>>) {
  const calls: { tool: string; input: Record<string, unknown> }[] = [];
  const canUseTool: CanUseTool = async (tool, input) => {
    calls.push({ tool, input });
    return decide(input);
  };
  return { calls, canUseTool };
}

/** The participants' answers to control requests in the log. */
const answers = (log: Entry[]) =>
  log.filter((e) => e.type === "input" && e.data.kind === "control" && (e.data.payload as { type: string }).type === "control_response");

describe.concurrent("a permission prompt answered through the browser SDK", () => {
  for (const mode of ["exec", "sdk"] as const) {
    it(`${mode}: allow → the file is written, the tool result is no error, a result is yielded, the run completes`, async (ctx) => {
      const { runId, target, runner } = await writingRun(`perm-allow-${mode}`, mode, ctx);
      const rec = recorder((input) => ({ behavior: "allow", updatedInput: input }));
      const consumer = await sessionConsumer(runId, { canUseTool: rec.canUseTool });
      const result = await nthResult(consumer);
      expect(rec.calls).toEqual([{ tool: "Write", input: { file_path: target, content: WRITTEN } }]);
      expect(result).toMatchObject({ type: "result", subtype: "success", is_error: false });
      expect(readFileSync(target, "utf8")).toBe(WRITTEN);
      const results = toolResults(consumer.messages.items);
      expect(results).toHaveLength(1);
      expect(results[0]!.is_error).not.toBe(true);
      consumer.close();
      expect(await runner.exit).toBe(0);
      const log = await relay().log(runId);
      expect(answers(log)).toHaveLength(1);
      expect(log.at(-1)!.data).toMatchObject({ status: "completed" });
    });
  }

  it("exec: deny → the tool result is an error and no file exists", async (ctx) => {
    const { runId, target, runner } = await writingRun("perm-deny", "exec", ctx);
    const rec = recorder(() => ({ behavior: "deny", message: "not in that folder" }));
    const consumer = await sessionConsumer(runId, { canUseTool: rec.canUseTool });
    await nthResult(consumer);
    expect(rec.calls.map((c) => c.tool)).toEqual(["Write"]);
    const results = toolResults(consumer.messages.items);
    expect(results).toHaveLength(1);
    expect(results[0]!.is_error).toBe(true);
    expect(JSON.stringify(results[0]!.content)).toContain("not in that folder");
    expect(existsSync(target)).toBe(false);
    consumer.close();
    expect(await runner.exit).toBe(0);
  });

  it("two consumers: both are asked; the first answer decides, the other's is refused; both see the outcome", async (ctx) => {
    const { runId, target, runner } = await writingRun("perm-two", "exec", ctx);
    let firstAnswered!: () => void;
    const answered = new Promise<void>((r) => (firstAnswered = r));
    const a = recorder(async (input) => {
      await vi.waitFor(() => expect(b.calls).toHaveLength(1), EVENTUALLY); // both were asked
      firstAnswered();
      return { behavior: "allow", updatedInput: input };
    });
    const b = recorder(async () => {
      await answered;
      // B answers once A's answer is in the log: the relay refuses it (409), whatever B says.
      await vi.waitFor(async () => expect(answers(await relay().log(runId))).toHaveLength(1), EVENTUALLY);
      return { behavior: "deny", message: "B says no" };
    });
    const [ca, cb] = await Promise.all([sessionConsumer(runId, { canUseTool: a.canUseTool }), sessionConsumer(runId, { canUseTool: b.canUseTool })]);
    await Promise.all([nthResult(ca), nthResult(cb)]);
    expect(readFileSync(target, "utf8")).toBe(WRITTEN);
    for (const c of [ca, cb]) {
      const results = toolResults(c.messages.items);
      expect(results).toHaveLength(1);
      expect(results[0]!.is_error).not.toBe(true);
    }
    const log = await relay().log(runId);
    const stored = answers(log);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.data.payload).toMatchObject({ response: { response: { behavior: "allow" } } });
    ca.close();
    cb.close();
    expect(await runner.exit).toBe(0);
  });
});

describe.concurrent("the browser SDK's stream", () => {
  it("a consumer suspended while a prompt is asked still gets it on resume, and its answer takes effect; fromSequenceNum: k yields exactly the durable messages after k", async (ctx) => {
    const runId = newRunId("perm-suspend");
    const cwd = await tempDir("perm-suspend");
    const target = join(await tempDir("perm-suspend-out"), "file.txt");
    const runner = startRunner(["exec", "--prompt", "hello first", "--idle-timeout", "30", "--spool-dir", cwd, "--", ...(await claudeArgs())], await env(runId), cwd, ctx);
    const rec = recorder((input) => ({ behavior: "allow", updatedInput: input }));
    const consumer = await sessionConsumer(runId, { canUseTool: rec.canUseTool });
    await nthResult(consumer, 1);
    expect(suspendSseStream(consumer.q)).toBe(true);
    expect((await relay().post(runId, "/messages", { message: `now [write ${target}]` })).status).toBe(202);
    await vi.waitFor(async () => {
      const log = await relay().log(runId);
      expect(log.some((e) => e.type === "sdk" && e.data.type === "control_request")).toBe(true);
    }, EVENTUALLY);
    expect(rec.calls).toEqual([]);
    expect(resumeSseStream(consumer.q)).toBe(true);
    await nthResult(consumer, 2);
    expect(rec.calls.map((c) => c.tool)).toEqual(["Write"]);
    expect(readFileSync(target, "utf8")).toBe(WRITTEN);

    // Every durable message it was given carries its sequence_num; a new query from k gets exactly those after k.
    const given = consumer.messages.items.map((m) => getCcrEvent(consumer.q, m)?.sequence_num).filter((n) => n !== undefined);
    expect(given).toEqual([...given].sort((x, y) => x - y));
    const k = given[Math.floor(given.length / 2)]!;
    const last = given.at(-1)!;
    expect(getSseLastSequenceNum(consumer.q)).toBeGreaterThanOrEqual(last); // the SDK's own resume cursor covers what it yielded
    const later = await sessionConsumer(runId, { fromSequenceNum: k });
    const got = await later.messages.until((m) => m.some((x) => getCcrEvent(later.q, x)?.sequence_num === last), `message ${last}`);
    const laterNums = got.map((m) => getCcrEvent(later.q, m)?.sequence_num).filter((n) => n !== undefined);
    // (the run goes on: what came after `last` the first consumer had not been given yet)
    expect(laterNums.filter((n) => n <= last)).toEqual(given.filter((n) => n > k));
    expect(laterNums).toEqual([...new Set(laterNums)].sort((x, y) => x - y));
    consumer.close();
    later.close();
    runner.kill("SIGTERM");
    await runner.exit;
  });

  it("a user message sent through the prompt iterable starts a new turn; its delivery updates arrive", async (ctx) => {
    const runId = newRunId("session-prompt");
    const cwd = await tempDir("session-prompt");
    const runner = startRunner(["exec", "--prompt", "hello first", "--idle-timeout", "30", "--spool-dir", cwd, "--", ...(await claudeArgs())], await env(runId), cwd, ctx);
    const consumer = await sessionConsumer(runId);
    await nthResult(consumer, 1);
    const uuid = consumer.prompt.push("a second question");
    const second = await nthResult(consumer, 2);
    expect(second).toMatchObject({ subtype: "success", result: "echo: a second question" });
    const mine = await consumer.deliveries.until((d) => d.filter((u) => u.event_id === uuid).length >= 3, "three delivery updates");
    expect(mine.filter((u) => u.event_id === uuid).map((u) => u.status)).toEqual([
      "DELIVERY_STATUS_RECEIVED",
      "DELIVERY_STATUS_PROCESSING",
      "DELIVERY_STATUS_PROCESSED",
    ]);
    // Its own message came back as a durable event, with its uuid as the event id.
    const echo = consumer.messages.items.find((m) => m.type === "user" && (m as { uuid?: string }).uuid === uuid);
    expect(echo && getCcrEvent(consumer.q, echo)).toMatchObject({ event_id: uuid, source: "client" });
    consumer.close();
    runner.kill("SIGTERM");
    await runner.exit;
  });
});
