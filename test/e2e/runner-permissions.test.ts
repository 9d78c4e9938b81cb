/**
 * Permission prompts and control messages end to end: the real Claude Code
 * binary (without --bare, so it has its Write tool; with a config dir of its
 * own) against the fake Messages API, relayed into a real `wrangler dev`.
 * The agent writes a file outside its working directory, so it asks; a
 * participant answers through the remote-session endpoint
 * (`POST …/session/events`), as `@anthropic-ai/claude-agent-sdk/browser` does.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Entry } from "../../src/protocol/index.ts";
import { claudeExecutable, startFakeAnthropic, WRITTEN, type FakeAnthropic } from "../support/fake-anthropic";
import { tokenFor } from "./auth";
import { newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";

type Json = Record<string, unknown>;
type Viewer = Awaited<ReturnType<ReturnType<typeof relayApi>["watch"]>>;

let fake: FakeAnthropic;
let claude: string[];
beforeAll(async () => {
  fake = await startFakeAnthropic();
  claude = [await claudeExecutable(), "-p", "--output-format", "stream-json", "--input-format", "stream-json", "--verbose"];
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
/** Claude Code's own config dir per run: no settings of the machine's user can allow or deny a tool. */
const env = async (runId: string) => runnerEnv(runId, { ...fake.env, CLAUDE_CONFIG_DIR: await tempDir("claude-config") });

/** A run's working dir, and a file outside it that the agent will be asked to write. */
async function dirs(name: string) {
  const cwd = await tempDir(`${name}-cwd`);
  return { cwd, target: join(await tempDir(`${name}-out`), "written.txt") };
}

/** Posts payloads as a participant, through the remote-session endpoint; each gets a uuid. */
async function post(runId: string, ...payloads: Json[]): Promise<Response> {
  return fetch(relay().url(runId, "/session/events"), {
    method: "POST",
    headers: { Authorization: `Bearer ${await tokenFor(runId, "write")}`, "Content-Type": "application/json" },
    body: JSON.stringify({ session_id: runId, events: payloads.map((p) => ({ payload: { ...p, uuid: crypto.randomUUID() } })) }),
  });
}
const answer = (requestId: string, response: Json) => ({ type: "control_response", response: { subtype: "success", request_id: requestId, response } });

/** The data of the first line the viewer sees that matches. */
async function line(viewer: Viewer, what: string, ok: (d: Json) => boolean): Promise<Json> {
  const seen = await viewer.seen.until((s) => s.some((x) => x.event === "message" && ok(x.data)), what);
  return seen.find((x) => x.event === "message" && ok(x.data))!.data;
}
const isPrompt = (d: Json) => d.type === "control_request" && (d.request as Json).subtype === "can_use_tool";
const responseTo = (id: string) => (d: Json) => d.type === "control_response" && (d.response as Json).request_id === id;
const responseIn = (e: Entry, id: string) => e.type === "sdk" && responseTo(id)(e.data);

/** The tool_result block of the run's Write. */
function toolResult(log: Entry[]): Json {
  const user = log.find((e) => e.data.type === "user" && JSON.stringify(e.data).includes('"tool_result"'))!;
  return ((user.data.message as Json).content as Json[])[0]!;
}

type Ctx = Parameters<typeof startRunner>[3];

async function start(name: string, args: string[], ctx: Ctx) {
  const runId = newRunId(name);
  const { cwd, target } = await dirs(name);
  const viewer = await relay().watch(runId);
  await viewer.opened;
  const runner = startRunner(["exec", "--prompt", `please [write ${target}]`, "--spool-dir", cwd, ...args, "--", ...claude], await env(runId), cwd, ctx);
  const prompt = await line(viewer, "the permission prompt", isPrompt);
  return { runId, target, viewer, runner, prompt, requestId: prompt.request_id as string, request: prompt.request as Json };
}

describe.concurrent("runrelay exec with claude: a tool that needs permission asks the participants", () => {
  it("allowed: the file is written, the tool result is no error, the run completes; a second answer is refused", async (ctx) => {
    const { runId, target, runner, requestId, request } = await start("perm-allow", [], ctx);
    expect(request).toMatchObject({ subtype: "can_use_tool", tool_name: "Write", input: { file_path: target, content: WRITTEN } });
    const res = await post(runId, answer(requestId, { behavior: "allow", updatedInput: request.input as Json }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { events: unknown[] }).events).toEqual([{ event_id: expect.any(String), sequence_num: expect.any(Number) }]);
    const again = await post(runId, answer(requestId, { behavior: "deny", message: "too late" }));
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([409, "request_settled"]);
    expect(await runner.exit, runner.stderr()).toBe(0);

    expect(readFileSync(target, "utf8")).toBe(WRITTEN);
    const log = await relay().log(runId);
    expect(toolResult(log).is_error).toBeUndefined();
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    expect(log.filter((e) => e.type === "input" && e.data.kind === "control")).toHaveLength(1);
    expect(runner.stderr()).toContain(`answer to ${requestId} passed to the agent`);
  });

  it("denied: no file, the tool result is an error with the participant's message, the run completes", async (ctx) => {
    const { runId, target, runner, requestId } = await start("perm-deny", [], ctx);
    expect((await post(runId, answer(requestId, { behavior: "deny", message: "not in that folder" }))).status).toBe(200);
    expect(await runner.exit, runner.stderr()).toBe(0);

    expect(existsSync(target)).toBe(false);
    const log = await relay().log(runId);
    expect(toolResult(log)).toMatchObject({ is_error: true, content: "not in that folder" });
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
  });

  it("--permission-timeout: a prompt no one answers is denied by the runner, and the denial is in the log", async (ctx) => {
    const { runId, target, runner, requestId } = await start("perm-timeout", ["--permission-timeout", "2"], ctx);
    expect(await runner.exit, runner.stderr()).toBe(0);

    expect(existsSync(target)).toBe(false);
    const log = await relay().log(runId);
    const denials = log.filter((e) => responseIn(e, requestId));
    const message = "no one answered the permission prompt within 2 s";
    expect(denials.map((e) => e.data)).toEqual([answer(requestId, { behavior: "deny", message })]);
    expect(toolResult(log)).toMatchObject({ is_error: true, content: message });
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
  });

  it("two initialize requests: the first goes to Claude Code, the second is answered from its reply", async (ctx) => {
    const { runId, viewer, runner, requestId } = await start("perm-init", [], ctx);
    const inits = [crypto.randomUUID(), crypto.randomUUID()].map((id) => ({
      type: "control_request",
      request_id: id,
      request: { subtype: "initialize", hooks: { PreToolUse: [{ matcher: "*", hookCallbackIds: ["h1"] }] } },
    }));
    expect((await post(runId, ...inits)).status).toBe(200);
    const first = await line(viewer, "the first initialize's reply", responseTo(inits[0]!.request_id));
    const second = await line(viewer, "the second initialize's reply", responseTo(inits[1]!.request_id));
    expect((first.response as Json).subtype).toBe("success");
    expect(((first.response as Json).response as Json).commands).toEqual(expect.any(Array));
    expect(second).toEqual({ type: "control_response", response: { subtype: "success", request_id: inits[1]!.request_id, response: (first.response as Json).response } });

    expect((await post(runId, answer(requestId, { behavior: "deny", message: "no" }))).status).toBe(200);
    expect(await runner.exit, runner.stderr()).toBe(0);
    const log = await relay().log(runId);
    expect(inits.map((i) => log.filter((e) => responseIn(e, i.request_id)).length)).toEqual([1, 1]);
  });

  it("an interrupt control request stops the turn; Claude Code answers it; the run ends cancelled", async (ctx) => {
    const runId = newRunId("perm-interrupt");
    const { cwd } = await dirs("perm-interrupt");
    const runner = startRunner(["exec", "--prompt", `slowly [hang] ${runId}`, "--spool-dir", cwd, "--", ...claude], await env(runId), cwd, ctx);
    await fake.requests.until((r) => r.some((x) => x.lastUserText.includes(runId)), "the slow request");
    const stop = { type: "control_request", request_id: crypto.randomUUID(), request: { subtype: "interrupt" } };
    expect((await post(runId, stop)).status).toBe(200);
    expect(await runner.exit, runner.stderr()).toBe(1);

    const log = await relay().log(runId);
    expect(log.filter((e) => responseIn(e, stop.request_id)).map((e) => (e.data.response as Json).subtype)).toEqual(["success"]);
    expect(log.at(-1)!.data).toEqual({ status: "cancelled", reason: "interrupted by a participant" });
  });
});

describe("runrelay sdk: canUseTool asks the participants in the same wire form", () => {
  it("the prompt follows the tool use; two initializes are answered alike; allowed, the file is written", async (ctx) => {
    const runId = newRunId("perm-sdk");
    const { cwd, target } = await dirs("perm-sdk");
    const viewer = await relay().watch(runId);
    await viewer.opened;
    const runner = startRunner(["sdk", "--prompt", `please [write ${target}]`, "--cwd", cwd, "--spool-dir", cwd], await env(runId), undefined, ctx);
    const prompt = await line(viewer, "the permission prompt", isPrompt);
    const requestId = prompt.request_id as string;
    const request = prompt.request as Json;
    const toolUse = await line(viewer, "the tool use", (d) => d.type === "assistant" && JSON.stringify(d).includes('"tool_use"'));
    const block = ((toolUse.message as Json).content as Json[]).find((b) => b.type === "tool_use")!;
    expect(request).toMatchObject({ subtype: "can_use_tool", tool_name: "Write", input: { file_path: target, content: WRITTEN }, tool_use_id: block.id });
    expect(Object.keys(request).filter((k) => !["subtype", "tool_name", "input", "tool_use_id", "permission_suggestions", "decision_reason", "blocked_path"].includes(k))).toEqual([]);

    const inits = [crypto.randomUUID(), crypto.randomUUID()].map((id) => ({ type: "control_request", request_id: id, request: { subtype: "initialize" } }));
    expect((await post(runId, ...inits)).status).toBe(200);
    const first = await line(viewer, "the first initialize's reply", responseTo(inits[0]!.request_id));
    const second = await line(viewer, "the second initialize's reply", responseTo(inits[1]!.request_id));
    expect((first.response as Json).subtype).toBe("success");
    expect((second.response as Json).response).toEqual((first.response as Json).response);

    expect((await post(runId, answer(requestId, { behavior: "allow", updatedInput: request.input as Json }))).status).toBe(200);
    expect(await runner.exit, runner.stderr()).toBe(0);

    expect(readFileSync(target, "utf8")).toBe(WRITTEN);
    const log = await relay().log(runId);
    const at = (ok: (e: Entry) => boolean) => log.findIndex(ok);
    expect(at((e) => e.data.type === "assistant" && JSON.stringify(e.data).includes('"tool_use"'))).toBeLessThan(at((e) => e.type === "sdk" && isPrompt(e.data)));
    expect(toolResult(log).is_error).toBeUndefined();
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
  });
});
