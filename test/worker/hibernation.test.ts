import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { appendOk, complete, newRunId, openSse, openWs, range, sdkLine, sseIds, stubOf, wsIds } from "./support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);

const MARK = Symbol.for("runrelay.test.instance");

/** Tags the live instance, so a test can tell that eviction really replaced it. */
async function markInstance(runId: string) {
  await runInDurableObject(stubOf(runId), (instance: object) => {
    (instance as Record<symbol, boolean>)[MARK] = true;
  });
}
async function sameInstance(runId: string) {
  return runInDurableObject(stubOf(runId), (instance: object) => (instance as Record<symbol, boolean>)[MARK] === true);
}

async function evict(runId: string) {
  await markInstance(runId);
  await evictDurableObject(stubOf(runId));
  expect(await sameInstance(runId)).toBe(false);
}

describe("eviction and hibernation", () => {
  it("WebSocket and SSE clients keep receiving, with correct ids and no repeat, across evictions; resume works", async () => {
    const runId = newRunId("evict");
    await appendOk(runId, lines(1, 3));
    const sse = await openSse(runId, { after: 1 });
    const ws = await openWs(runId, 0);
    await sse.frames.until((f) => sseIds(f).length === 2);
    await ws.frames.until((f) => wsIds(f).length === 3);

    await evict(runId);
    await appendOk(runId, lines(4, 6));
    await sse.frames.until((f) => sseIds(f).length === 5, "lines after the first eviction");
    await ws.frames.until((f) => wsIds(f).length === 6, "lines after the first eviction");

    await evict(runId);
    ws.send({ type: "resume", after: 2 });
    await ws.frames.until((f) => wsIds(f).length === 10, "the resumed replay");

    await evict(runId);
    await appendOk(runId, lines(7, 7));
    await complete(runId);

    const sseFrames = await sse.frames.ended();
    expect(sseIds(sseFrames)).toEqual(range(2, 8));
    expect(sseFrames.slice(0, 6).map((f) => JSON.parse(f.data))).toEqual(lines(2, 7));
    expect(sseFrames.at(-1)).toMatchObject({ event: "end" });
    const wsFrames = await ws.frames.ended();
    expect(wsIds(wsFrames)).toEqual([1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7, 8]);
    expect(wsFrames.at(-1)).toEqual({ type: "end", status: "completed", lastEventId: 8 });
    expect(await ws.closeCode).toBe(1000);
  });

  it("is evictable while only idle SSE viewers are connected: the Worker holds their streams", async () => {
    const runId = newRunId("evict-sse");
    await appendOk(runId, lines(1, 2));
    const viewers = await Promise.all([openSse(runId), openSse(runId, { after: 1 }), openSse(runId, { after: "live" })]);
    await viewers[0]!.frames.until((f) => f.length === 2);
    await viewers[1]!.frames.until((f) => f.length === 1);

    await evict(runId);
    await appendOk(runId, lines(3, 4));
    await evict(runId);
    await complete(runId);

    const ids = await Promise.all(viewers.map(async (v) => sseIds(await v.frames.ended())));
    expect(ids).toEqual([range(1, 5), range(2, 5), range(3, 5)]);
  });
});
