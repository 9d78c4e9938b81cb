/** The runner's tail source, its behaviour under faults, and its answers to bad input. */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, inject, it, vi } from "vitest";
import type { Entry } from "../../src/protocol/index.ts";
import { range, EVENTUALLY } from "../support/inbox";
import { startProxy } from "../support/proxy";
import { freePort } from "../support/wrangler";
import { tokenFor } from "./auth";
import { newRunId, relayApi, startRunner, tempDir } from "./runner-support";

const WRITER = fileURLToPath(new URL("../support/write-lines.mjs", import.meta.url));
const write = (file: string, from: number, to: number, result = false) =>
  promisify(execFile)(process.execPath, [WRITER, file, String(from), String(to), ...(result ? ["result"] : [])]);

const relay = () => relayApi(inject("relayUrl"));
const ns = (log: Entry[]) => log.filter((e) => e.type === "sdk").map((e) => (e.data.type === "result" ? "result" : e.data.n));
const lineCount = async (runId: string) => (await relay().log(runId)).length;

describe("runrelay tail", () => {
  it("relays a file written line by line by another process, including what it held before; messages go to the inbox", async () => {
    const runId = newRunId("tail");
    const dir = await tempDir("tail");
    const file = join(dir, "_stream.jsonl");
    await write(file, 1, 3);
    // A message already waiting when the runner starts is delivered too.
    expect((await relay().post(runId, "/messages", { message: "read this too" })).status).toBe(202);
    const runner = startRunner(["tail", "--file", file, "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir]);
    await vi.waitFor(async () => expect(await lineCount(runId)).toBe(5), EVENTUALLY); // 3 lines, the message, its delivery
    await vi.waitFor(async () => expect(await readFile(join(dir, "_messages.jsonl"), "utf8").catch(() => "")).toContain("read this too"), EVENTUALLY);
    await write(file, 4, 40, true);
    expect(await runner.exit, runner.stderr()).toBe(0);

    const log = await relay().log(runId);
    expect(ns(log)).toEqual([...range(1, 40), "result"]);
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
    expect(log.filter((e) => e.type === "input").map((e) => e.data.kind)).toEqual(["message", "delivered"]);
    const inbox = (await readFile(join(dir, "_messages.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(inbox).toEqual([{ id: 1, kind: "message", message: { role: "user", content: "read this too" }, createdAt: expect.any(Number) }]);
  });
});

it("tail starts on a file that does not exist yet, and follows it through truncation", async () => {
  const runId = newRunId("tail-late");
  const dir = await tempDir("tail-late");
  const file = join(dir, "_stream.jsonl");
  const runner = startRunner(["tail", "--file", file, "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir]);
  await vi.waitFor(() => expect(runner.stderr()).toContain("connected"), EVENTUALLY);
  await write(file, 1, 6);
  await vi.waitFor(async () => expect(await lineCount(runId)).toBe(6), EVENTUALLY);
  await writeFile(file, ""); // the workflow starts its file again
  await write(file, 7, 8, true);
  expect(await runner.exit, runner.stderr()).toBe(0);
  expect(ns(await relay().log(runId))).toEqual([...range(1, 8), "result"]);
});

it("tail: an interrupt while the agent is idle does not keep the session open", async () => {
  const runId = newRunId("tail-idle-interrupt");
  const dir = await tempDir("tail-idle-interrupt");
  const file = join(dir, "_stream.jsonl");
  await write(file, 1, 2, true);
  const runner = startRunner(["tail", "--file", file, "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir, "--idle-timeout", "5"]);
  await vi.waitFor(async () => expect(await lineCount(runId)).toBe(3), EVENTUALLY);
  expect((await relay().post(runId, "/interrupt")).status).toBe(202);
  expect(await runner.exit, runner.stderr()).toBe(0);
  expect((await relay().log(runId)).at(-1)!.data).toEqual({ status: "completed" });
});

it("a line over the relay's limit is relayed as a diagnostic in its place, and the run goes on", async () => {
  const runId = newRunId("tail-huge");
  const dir = await tempDir("tail-huge");
  const file = join(dir, "_stream.jsonl");
  await writeFile(file, `{"n":1}\n${JSON.stringify({ n: 2, pad: "x".repeat(1_100_000) })}\n{"n":3}\n{"type":"result","subtype":"success","is_error":false}\n`);
  const runner = startRunner(["tail", "--file", file, "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool"]);
  expect(await runner.exit, runner.stderr()).toBe(0);
  const log = await relay().log(runId);
  expect(log.map((e) => e.data.n ?? e.data.subtype ?? e.data.status)).toEqual([1, "line_too_large", 3, "success", "completed"]);
  expect(log[1]!.data).toMatchObject({ type: "runrelay_diagnostic", head: expect.stringMatching(/^\{"n":2,"pad":"xxx/) });
  expect(log[1]!.data.bytes).toBeGreaterThan(1024 * 1024);
});

describe("faults", () => {
  it("delivers every line exactly once, in order, when responses are lost and the relay is unreachable for a while", async () => {
    const runId = newRunId("lossy");
    const dir = await tempDir("lossy");
    const file = join(dir, "_stream.jsonl");
    await writeFile(file, "");
    const proxy = await startProxy(inject("relayUrl"));
    try {
      const runner = startRunner(["tail", "--file", file, "--url", proxy.url, "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir, "--retry-max", "1"]);
      await vi.waitFor(() => expect(runner.stderr()).toContain("connected"), EVENTUALLY);
      proxy.dropResponses(3); // stored by the relay, never acknowledged to the runner
      await write(file, 1, 30);
      await vi.waitFor(async () => expect(await lineCount(runId)).toBe(30), EVENTUALLY);
      proxy.refuse(6); // then the relay cannot be reached at all for a while
      await write(file, 31, 60, true);
      expect(await runner.exit, runner.stderr()).toBe(0);
      expect(proxy.stats.dropped).toBe(3);
      expect(proxy.stats.refused).toBe(6);
      expect(runner.stderr()).toMatch(/retrying in/);
    } finally {
      await proxy.stop();
    }
    expect(ns(await relay().log(runId))).toEqual([...range(1, 60), "result"]);
  });

  it("a runner killed with SIGKILL and restarted on the same spool delivers every line exactly once", async () => {
    const runId = newRunId("sigkill");
    const dir = await tempDir("sigkill");
    const file = join(dir, "_stream.jsonl");
    await writeFile(file, "");
    const proxy = await startProxy(inject("relayUrl"));
    try {
      const args = ["tail", "--file", file, "--url", proxy.url, "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir];
      const first = startRunner(args);
      await write(file, 1, 20);
      await vi.waitFor(async () => expect(await lineCount(runId)).toBe(20), EVENTUALLY);
      // From now on the relay stores a batch but the runner never hears so (it retries that batch,
      // one request in flight): killed now, its spool holds batches the relay has and ones it has not.
      proxy.dropResponses(Number.POSITIVE_INFINITY);
      await write(file, 21, 30);
      await vi.waitFor(() => expect(proxy.stats.dropped).toBeGreaterThan(0), EVENTUALLY);
      expect(await lineCount(runId)).toBeGreaterThan(20);
      first.kill("SIGKILL");
      expect(await first.exit).toBe(-9);

      proxy.dropResponses(0);
      await write(file, 31, 40, true);
      const second = startRunner(args);
      expect(await second.exit, second.stderr()).toBe(0);
      expect(second.stderr()).toMatch(/resending \d+ unacknowledged batch/);
    } finally {
      await proxy.stop();
    }
    const log = await relay().log(runId);
    expect(ns(log)).toEqual([...range(1, 40), "result"]);
    expect(log.at(-1)!.data).toEqual({ status: "completed" });
  });
});

describe("bad input", () => {
  const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("runrelay: error:"));

  it("an unreachable relay, a malformed URL, a missing prompt or run id: one clear error line, non-zero exit", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: [string[], number, RegExp][] = [
      [["sdk", "--prompt", "hi", "--url", closed, "--run", "r1", "--no-spool"], 1, /cannot reach the relay at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
      [["sdk", "--prompt", "hi", "--url", "relay.example", "--run", "r1", "--no-spool"], 1, /not a valid URL/],
      [["sdk", "--prompt", "hi", "--url", "ftp://x", "--run", "r1", "--no-spool"], 1, /must start with http/],
      [["sdk", "--url", closed, "--run", "r1"], 2, /no prompt/],
      [["tail", "--file", "x", "--url", closed], 2, /no run id/],
      [["tail", "--file", "x", "--url", closed, "--run", "bad id!"], 1, /run id "bad id!"/],
      [["exec", "--url", closed, "--run", "r1"], 2, /exec needs a command/],
      [["sdk", "--prompt", "hi", "--idle-timeout", "soon", "--url", closed, "--run", "r1"], 2, /--idle-timeout/],
      [["launch"], 2, /unknown command/],
    ];
    for (const [args, code, message] of cases) {
      const runner = startRunner(args, { RUNRELAY_URL: "", RUNRELAY_RUN_ID: "" });
      expect(await runner.exit, args.join(" ")).toBe(code);
      const errors = errorLines(runner.stderr());
      expect(errors, runner.stderr()).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    }
  });

  it("a run that has already ended is refused at start", async () => {
    const runId = newRunId("ended");
    expect((await relay().post(runId, "/complete", { status: "completed" })).status).toBe(200);
    const runner = startRunner(["tail", "--file", "/nonexistent", "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool"]);
    expect(await runner.exit).toBe(1);
    expect(errorLines(runner.stderr())).toEqual([`runrelay: error: run ${runId} has already ended on the relay`]);
  });

  it("exec relays a stdout line that is not a JSON object as a diagnostic entry, and a failing command fails the run", async () => {
    const runId = newRunId("exec-text");
    const script = "console.log('plain text'); console.log('[1,2]'); console.log(JSON.stringify({type:'result',subtype:'success',is_error:false}))";
    const ok = startRunner(["exec", "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool", "--", process.execPath, "-e", script]);
    expect(await ok.exit, ok.stderr()).toBe(0);
    expect((await relay().log(runId)).map((e) => e.data)).toEqual([
      { type: "runrelay_diagnostic", subtype: "non_json_output", text: "plain text" },
      { type: "runrelay_diagnostic", subtype: "non_json_output", text: "[1,2]" },
      { type: "result", subtype: "success", is_error: false },
      { status: "completed" },
    ]);

    const failing = newRunId("exec-fail");
    const bad = startRunner(["exec", "--url", inject("relayUrl"), "--run", failing, "--token", await tokenFor(failing, "runner"), "--no-spool", "--", process.execPath, "-e", "console.log('{\"type\":\"x\"}'); process.exit(3)"]);
    expect(await bad.exit).toBe(1);
    const log = await relay().log(failing);
    expect(log.map((e) => e.data)).toEqual([{ type: "x" }, { status: "failed", reason: expect.stringContaining("exited with code 3") }]);
  });

  it("exec ships what a command printed even when it exits without reading its prompt", async () => {
    const runId = newRunId("exec-early");
    const result = JSON.stringify({ type: "result", subtype: "success", is_error: false });
    const runner = startRunner(["exec", "--prompt", "y".repeat(120_000), "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool", "--", "sh", "-c", `echo '${result}'`]);
    expect(await runner.exit, runner.stderr()).toBe(0);
    expect((await relay().log(runId)).map((e) => e.data.subtype ?? e.data.status)).toEqual(["success", "completed"]);
  });

  it("exec stops a command that ignores the end of its input (SIGTERM after --exit-grace), and the run still ends", async () => {
    const runId = newRunId("exec-stubborn");
    const result = JSON.stringify({ type: "result", subtype: "success", is_error: false });
    const script = `console.log('${result}'); process.stdin.resume(); process.stdin.on('end', () => {}); setInterval(() => {}, 1000)`;
    const runner = startRunner(["exec", "--exit-grace", "0.2", "--url", inject("relayUrl"), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool", "--", process.execPath, "-e", script]);
    // The turn succeeded and the runner closed the session: the forced stop is not the run's failure.
    expect(await runner.exit, runner.stderr()).toBe(0);
    expect((await relay().log(runId)).map((e) => e.data.subtype ?? e.data.status)).toEqual(["success", "completed"]);
  });

  it("every command has --help", async () => {
    for (const command of ["sdk", "exec", "tail"]) {
      const help = startRunner([command, "--help"]);
      expect(await help.exit).toBe(0);
    }
  });
});
