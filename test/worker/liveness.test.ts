/**
 * A dead runner is noticed. Time is driven by moving the run's `last_seen` /
 * `stalled_at` back in its meta row, then running the object's alarm.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { pollWaitCap } from "../../src/protocol/index.ts";
import {
  append,
  appendOk,
  call,
  complete,
  expectError,
  info,
  newRunId,
  openSse,
  openWs,
  poll,
  postJson,
  readAll,
  sdkLine,
  stubOf,
  wsIds,
} from "./support";

const STALLED = { status: "stalled", reason: "no runner heard from for 90 s" };
const BACK = { status: "running", reason: "runner_back" };

/** Moves a column of the meta row `seconds` into the past; the object restarts, since it remembers the row it last read. */
const agoIn = (column: "last_seen" | "stalled_at") => async (runId: string, seconds: number) => {
  await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
    state.storage.sql.exec(`UPDATE run SET ${column} = ?`, Date.now() - seconds * 1000);
  });
  await evictDurableObject(stubOf(runId));
};
const silentFor = agoIn("last_seen");
const stalledFor = agoIn("stalled_at");
const alarmAt = (runId: string) => runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => state.storage.getAlarm());
const heartbeat = (runId: string) => call(runId, "/heartbeat", { method: "POST" });
const statuses = async (runId: string) => (await readAll(runId)).filter((e) => e.type === "status").map((e) => e.data);

async function stall(runId: string) {
  await silentFor(runId, 91);
  expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
  expect(await info(runId)).toMatchObject({ status: "stalled", reason: STALLED.reason });
}

describe("liveness", () => {
  it("a run fed only by plain appends never stalls", async () => {
    const runId = newRunId("no-runner");
    await appendOk(runId, [sdkLine(1)], { id: "p", epoch: 0, seq: 0 });
    await appendOk(runId, [sdkLine(2)], { id: "p", epoch: 0, seq: 1 });
    const lastSeen = await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) =>
      state.storage.sql.exec<{ at: number | null }>("SELECT last_seen AS at FROM run").one().at,
    );
    expect(lastSeen).toBeNull(); // no runner has shown itself with a long-poll or heartbeat
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    expect((await info(runId)).status).toBe("running");
    expect(await statuses(runId)).toEqual([]);
  });

  it("a runner silent past its lease stalls the run, which every viewer sees; not before", async () => {
    const runId = newRunId("stall");
    await appendOk(runId, [sdkLine(1)]);
    expect(await poll(runId, 0)).toEqual({ inputs: [], ended: false, leaseSeconds: 90 });
    const sse = await openSse(runId);
    const ws = await openWs(runId, 0);
    await silentFor(runId, 89);
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    expect((await info(runId)).status).toBe("running");

    await stall(runId);
    const frames = await sse.frames.until((f) => f.length === 2);
    expect(frames[1]).toMatchObject({ id: "2", event: "status" });
    expect(JSON.parse(frames[1]!.data)).toEqual(STALLED);
    await ws.frames.until((f) => wsIds(f).length === 2);
    expect(await statuses(runId)).toEqual([STALLED]);

    // A stalled run still takes messages; viewers stay connected.
    expect((await postJson(runId, "/messages", { message: "are you there?" })).status).toBe(202);
    expect(await info(runId)).toMatchObject({ status: "stalled", clients: { sse: 1, ws: 1 } });
    await sse.cancel();
  });

  it("any runner request brings a stalled run back: append, poll, heartbeat, claim, undelivered, complete", async () => {
    const runId = newRunId("back");
    await appendOk(runId, [sdkLine(1)]);
    expect((await heartbeat(runId)).status).toBe(204);
    const requests: [string, () => Promise<Response>][] = [
      ["append", () => append(runId, [sdkLine(2)], { id: "p", epoch: 0, seq: 0 })],
      ["poll", () => call(runId, "/inputs?wait=0")],
      ["heartbeat", () => heartbeat(runId)],
      ["claim", () => call(runId, "/producers/p/claim", { method: "POST" })],
      ["undelivered", () => postJson(runId, "/inputs/undelivered", { inputIds: [1], reason: "x" })],
    ];
    for (const [what, request] of requests) {
      await stall(runId);
      expect((await request()).status, what).toBeLessThan(300);
      expect(await info(runId), what).toMatchObject({ status: "running" });
      expect((await info(runId)).reason, what).toBeUndefined();
    }
    const log = await readAll(runId);
    expect(log.filter((e) => e.type === "status").map((e) => e.data)).toEqual(requests.flatMap(() => [STALLED, BACK]));
    // The appended line comes right after the run came back.
    expect(log.slice(2, 4).map((e) => e.data)).toEqual([BACK, sdkLine(2)]);

    // Completing a stalled run brings it back and ends it.
    await stall(runId);
    await complete(runId, "completed");
    expect((await statuses(runId)).slice(-3)).toEqual([STALLED, BACK, { status: "completed" }]);
  });

  it("stalled for STALLED_FAIL_AFTER_SECONDS: the run ends failed, runner_lost, exactly as POST /complete would", async () => {
    const runId = newRunId("lost");
    await appendOk(runId, [sdkLine(1)]);
    expect((await heartbeat(runId)).status).toBe(204);
    for (const m of ["one", "two"]) expect((await postJson(runId, "/messages", { message: m })).status).toBe(202);
    const sse = await openSse(runId);
    const ws = await openWs(runId, 0);
    await stall(runId);
    await stalledFor(runId, 3599);
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    expect((await info(runId)).status).toBe("stalled");

    await stalledFor(runId, 3601);
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    expect(await info(runId)).toMatchObject({ status: "failed", reason: "runner_lost", pendingInputs: 0 });
    expect((await readAll(runId)).slice(-2).map((e) => e.data)).toEqual([
      { kind: "undelivered", inputIds: [1, 2], reason: "run_ended" },
      { status: "failed", reason: "runner_lost" },
    ]);
    const end = (await sse.frames.ended()).at(-1)!;
    expect(end.event).toBe("end");
    expect(JSON.parse(end.data)).toEqual({ status: "failed", lastEventId: 6 });
    expect((await ws.frames.ended()).at(-1)).toEqual({ type: "end", status: "failed", lastEventId: 6 });
    expect(await ws.closeCode).toBe(1000);
    await expectError(await append(runId, [sdkLine(9)]), 409, "run_ended");
    expect(await poll(runId, 0)).toEqual({ inputs: [], ended: true, leaseSeconds: 90 });
  });

  it("arms the alarm once for the lease (appends do not move it); an evicted object still knows when it last heard", async () => {
    const runId = newRunId("lease-alarm");
    await appendOk(runId, [sdkLine(1)]);
    const before = Date.now();
    await poll(runId, 0);
    const armed = (await alarmAt(runId))!;
    expect(armed).toBeGreaterThanOrEqual(before + 90_000);
    expect(armed).toBeLessThanOrEqual(Date.now() + 90_000);
    await appendOk(runId, [sdkLine(2)]);
    expect(await alarmAt(runId)).toBe(armed);

    await evictDurableObject(stubOf(runId));
    await silentFor(runId, 91);
    expect(await runDurableObjectAlarm(stubOf(runId))).toBe(true);
    expect((await info(runId)).status).toBe("stalled");
    // Stalled: the alarm is set for the stall's limit.
    expect(await alarmAt(runId)).toBeGreaterThan(Date.now() + 3500_000);
  });

  it("upgrades a run stored before liveness and undelivered inputs existed (their columns are added)", async () => {
    const runId = newRunId("old-schema");
    await appendOk(runId, [sdkLine(1)]);
    expect((await postJson(runId, "/messages", { message: "old" })).status).toBe(202);
    await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
      for (const [table, column] of [["run", "last_seen"], ["run", "stalled_at"], ["inputs", "undelivered_at"]]) {
        state.storage.sql.exec(`ALTER TABLE ${table} DROP COLUMN ${column}`);
      }
    });
    await evictDurableObject(stubOf(runId));
    expect((await heartbeat(runId)).status).toBe(204);
    await stall(runId);
    await complete(runId, "cancelled");
    expect((await readAll(runId)).slice(-2).map((e) => e.data)).toEqual([
      { kind: "undelivered", inputIds: [1], reason: "run_ended" },
      { status: "cancelled" },
    ]);
  });

  it("caps a long-poll's wait at a third of the lease (at least 1 s)", () => {
    expect(pollWaitCap({ maxWaitSeconds: 30, runnerLeaseSeconds: 90 })).toBe(30);
    expect(pollWaitCap({ maxWaitSeconds: 30, runnerLeaseSeconds: 30 })).toBe(10);
    expect(pollWaitCap({ maxWaitSeconds: 30, runnerLeaseSeconds: 2 })).toBe(1);
    expect(pollWaitCap({ maxWaitSeconds: 30, runnerLeaseSeconds: 600 })).toBe(30);
  });
});
