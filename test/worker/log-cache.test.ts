/**
 * The event log remembers its last id (src/run/log.ts), and must never
 * remember one a rolled-back transaction wrote: the next append would then
 * skip ids.
 */
import { runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { EventLog } from "../../src/run/log.ts";
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
