/**
 * Stalled runs, on a relay of their own with a 3 s runner lease: a runner
 * SIGKILLed mid-run makes its run `stalled` (viewers see the status); a runner
 * restarted on its spool brings it back to `running` and it ends `completed`;
 * with no restart the run ends `failed` / `runner_lost`.
 */
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, type onTestFinished } from "vitest";
import { startRelay, type Relay } from "../support/wrangler";
import { RELAY_VARS, tokenFor } from "./auth";
import { newRunId, relayApi, startRunner, tempDir } from "./runner-support";

let server: Relay;
beforeAll(async () => {
  server = await startRelay({ vars: { ...RELAY_VARS, RUNNER_LEASE_SECONDS: "3", STALLED_FAIL_AFTER_SECONDS: "6" } });
});
afterAll(() => server?.stop());

const relay = () => relayApi(server.url);
const line = (n: number) => JSON.stringify({ type: "assistant", n }) + "\n";
const RESULT = JSON.stringify({ type: "result", subtype: "success", is_error: false }) + "\n";

/** A tail runner on a file the test writes; killed with SIGKILL once its lines are on the relay. */
async function killedMidRun(name: string, ctx: { onTestFinished: typeof onTestFinished }) {
  const runId = newRunId(name);
  const dir = await tempDir(name);
  const file = join(dir, "_stream.jsonl");
  await writeFile(file, line(1) + line(2));
  const viewer = await relay().watch(runId);
  await viewer.opened;
  const args = ["tail", "--file", file, "--url", server.url, "--run", runId, "--token", await tokenFor(runId, "runner"), "--spool-dir", dir];
  const runner = startRunner(args, {}, undefined, ctx);
  await viewer.seen.until((s) => s.filter((x) => x.event === "message").length === 2, "both lines");
  runner.kill("SIGKILL");
  expect(await runner.exit).toBe(-9);
  return { runId, file, args, viewer };
}

const statuses = (seen: { event: string; data: Record<string, unknown> }[]) => seen.filter((s) => s.event === "status").map((s) => s.data);

// Both wait for the relay's alarms, side by side.
describe.concurrent("stalled runs", () => {
  it("a runner that disappears makes its run stalled; a runner restarted on the spool brings it back, and it completes", async (ctx) => {
    const { runId, file, args, viewer } = await killedMidRun("stall-back", ctx);
    await viewer.seen.until((s) => statuses(s).some((d) => d.status === "stalled"), "the stalled status");
    const restarted = startRunner(args, {}, undefined, ctx);
    await viewer.seen.until((s) => statuses(s).some((d) => d.status === "running"), "the run running again");
    await appendFile(file, line(3) + RESULT);
    expect(await restarted.exit, restarted.stderr()).toBe(0);
    const seen = await viewer.seen.ended();
    expect(statuses(seen)).toEqual([{ status: "stalled", reason: expect.any(String) }, { status: "running", reason: "runner_back" }, { status: "completed" }]);
    expect(seen.filter((s) => s.event === "message").map((s) => s.data.n ?? s.data.type)).toEqual([1, 2, 3, "result"]);
    expect(seen.map((s) => s.id)).toEqual((await relay().log(runId)).map((e) => e.id));
  });

  it("a runner that never comes back: stalled, then failed with runner_lost", async (ctx) => {
    const { runId, viewer } = await killedMidRun("stall-lost", ctx);
    const seen = await viewer.seen.ended();
    expect(statuses(seen)).toEqual([{ status: "stalled", reason: expect.any(String) }, { status: "failed", reason: "runner_lost" }]);
    expect((await relay().log(runId)).at(-1)!.data).toEqual({ status: "failed", reason: "runner_lost" });
  });
});
