/** No input lost in silence: inputs that will never reach the agent are logged `undelivered` and leave the queue. */
import { describe, expect, it } from "vitest";
import {
  appendOk,
  complete,
  expectError,
  info,
  newRunId,
  openSse,
  poll,
  postJson,
  range,
  readAll,
  sdkLine,
  sseIds,
} from "./support";

async function messages(runId: string, n: number) {
  for (const i of range(1, n)) expect((await postJson(runId, "/messages", { message: `m${i}` })).status).toBe(202);
}

const undeliver = (runId: string, body: unknown) => postJson(runId, "/inputs/undelivered", body);

describe("POST /complete", () => {
  it("first marks every still-queued input undelivered: one entry just before the status, in the same write; they leave the queue", async () => {
    const runId = newRunId("complete-undelivered");
    await appendOk(runId, [sdkLine(1)]);
    await messages(runId, 3); // inputs 1–3, entries 2–4
    expect((await poll(runId, 1)).inputs.map((i) => i.id)).toEqual([2, 3]); // 1 acknowledged: entry 5
    const sse = await openSse(runId, { after: 5 });

    expect(await (await complete(runId, "completed", "done")).json()).toEqual({ lastEventId: 7 });
    const log = await readAll(runId);
    expect(log.slice(-2).map((e) => [e.id, e.type, e.data])).toEqual([
      [6, "input", { kind: "undelivered", inputIds: [2, 3], reason: "run_ended" }],
      [7, "status", { status: "completed", reason: "done" }],
    ]);
    expect(log[5]!.ts).toBe(log[6]!.ts); // one transaction
    expect(await info(runId)).toMatchObject({ status: "completed", pendingInputs: 0 });
    expect(await poll(runId, 0)).toEqual({ inputs: [], ended: true, leaseSeconds: 90 });

    // A viewer sees both, then the end.
    const frames = await sse.frames.ended();
    expect(sseIds(frames)).toEqual([6, 7]);
    expect(frames.map((f) => f.event)).toEqual(["input", "status", "end"]);

    // Completing again changes nothing.
    expect(await (await complete(runId, "completed")).json()).toEqual({ lastEventId: 7 });
    expect((await readAll(runId)).length).toBe(7);
  });

  it("adds no undelivered entry when nothing is queued", async () => {
    const runId = newRunId("complete-empty-queue");
    await messages(runId, 1);
    await poll(runId, 1);
    await complete(runId);
    expect((await readAll(runId)).map((e) => e.data.kind ?? e.data.status)).toEqual(["message", "delivered", "completed"]);
  });
});

describe("POST /inputs/undelivered", () => {
  it("marks the still-queued ones undelivered in one entry, ignores the rest, and is safe to repeat", async () => {
    const runId = newRunId("undelivered-route");
    await messages(runId, 4); // inputs 1–4, entries 1–4
    await poll(runId, 1); // 1 acknowledged: entry 5

    const res = await undeliver(runId, { inputIds: [4, 1, 3, 3, 99], reason: "session_closed" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ lastEventId: 6 });
    expect((await readAll(runId)).at(-1)).toMatchObject({ id: 6, type: "input", data: { kind: "undelivered", inputIds: [3, 4], reason: "session_closed" } });
    expect((await poll(runId, 0)).inputs.map((i) => i.id)).toEqual([2]);
    expect((await info(runId)).pendingInputs).toBe(1);

    // Again: nothing is queued among them any more, so nothing is logged.
    expect(await (await undeliver(runId, { inputIds: [3, 4], reason: "session_closed" })).json()).toEqual({ lastEventId: 6 });
    // An acknowledged input stays delivered; input 2 is still handed out, then the end gives it up.
    await complete(runId);
    expect((await readAll(runId)).slice(-2).map((e) => e.data)).toEqual([
      { kind: "undelivered", inputIds: [2], reason: "run_ended" },
      { status: "completed" },
    ]);
    expect(await (await undeliver(runId, { inputIds: [2], reason: "late" })).json()).toEqual({ lastEventId: 8 });
  });

  it("refuses a bad body and changes nothing", async () => {
    const runId = newRunId("undelivered-bad");
    await messages(runId, 1);
    for (const body of [
      {},
      { inputIds: [], reason: "x" },
      { inputIds: range(1, 1001), reason: "x" },
      { inputIds: [1.5], reason: "x" },
      { inputIds: ["1"], reason: "x" },
      { inputIds: [1], reason: "" },
      { inputIds: [1], reason: "r".repeat(201) },
      { inputIds: [1], reason: "x", extra: true },
    ]) {
      await expectError(await undeliver(runId, body), 400, "bad_body");
    }
    await expectError(await undeliver(runId, "{"), 400, "invalid_json");
    expect(await (await undeliver(runId, { inputIds: range(1, 1000), reason: "r".repeat(200) })).json()).toEqual({ lastEventId: 2 });
    expect((await info(runId)).pendingInputs).toBe(0);
  });
});
