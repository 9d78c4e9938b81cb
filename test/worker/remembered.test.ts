/**
 * The event log remembers its last id, and the run's row is remembered too
 * (src/run/remembered.ts): neither may remember what a rolled-back
 * transaction wrote. The next append would then skip ids, or take a
 * producer's batch for a retry.
 */
import { runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { EventLog } from "../../src/run/log.ts";
import { RunMeta } from "../../src/run/meta.ts";
import { appendOk, newRunId, readAll, sdkLine, stubOf } from "./support";

it("an insert that is rolled back leaves the last id as it was, even if it was read inside the transaction", async () => {
  const runId = newRunId("log-cache");
  expect(await appendOk(runId, [sdkLine(1), sdkLine(2)])).toBe(2);
  await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
    const log = new EventLog(state.storage.sql);
    expect(log.lastId()).toBe(2);
    expect(() =>
      state.storage.transactionSync(() => {
        log.append([{ type: "sdk", data: "{}" }], Date.now());
        expect(log.lastId()).toBe(3); // read inside: the transaction's own view
        throw new Error("roll back");
      }),
    ).toThrow("roll back");
    expect(log.lastId()).toBe(2);
  });
  // And the run's own log goes on densely.
  expect(await appendOk(runId, [sdkLine(3)])).toBe(3);
  expect((await readAll(runId)).map((e) => e.id)).toEqual([1, 2, 3]);
});

it("a write to the run's row that is rolled back leaves the row as it was, even if it was read inside the transaction", async () => {
  const runId = newRunId("meta-cache");
  const producer = { id: "runner", epoch: 0, seq: 0 };
  expect(await appendOk(runId, [sdkLine(1)], producer)).toBe(1);
  await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
    const meta = new RunMeta(state.storage.sql);
    const before = meta.get();
    expect(before).toMatchObject({ runId, status: "running", producer });
    expect(() =>
      state.storage.transactionSync(() => {
        meta.touch(runId, Date.now(), 10, { producer: { ...producer, seq: 1 } });
        meta.end("failed", "test", Date.now());
        expect(meta.get()).toMatchObject({ status: "failed", producer: { seq: 1 } }); // the transaction's own view
        throw new Error("roll back");
      }),
    ).toThrow("roll back");
    expect(meta.get()).toEqual(before);
  });
  // The run goes on: still running, and the producer's next batch is seq 1.
  expect(await appendOk(runId, [sdkLine(2)], { ...producer, seq: 1 })).toBe(2);
  expect((await readAll(runId)).map((e) => e.id)).toEqual([1, 2]);
});
