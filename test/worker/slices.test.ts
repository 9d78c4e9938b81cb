/**
 * Publishing a slice of sockets at a time (src/run/publisher.ts): with more
 * viewers than a slice, batches written while earlier ones are still on their
 * way, viewers joining and leaving meanwhile, every viewer still gets every
 * id exactly once, in order, then the end.
 */
import { expect, it } from "vitest";
import { SLICE } from "../../src/run/publisher.ts";
import { append, appendOk, complete, newRunId, openSse, openWs, range, sdkLine, sseIds, wsIds } from "./support";

it("more viewers than several slices, writes landing mid-publish, viewers joining and leaving: every id once, in order", async () => {
  const runId = newRunId("slices");
  expect(await appendOk(runId, [sdkLine(1)])).toBe(1);
  const viewers = 3 * SLICE + 5;
  const ws = await Promise.all(range(1, viewers / 2).map(() => openWs(runId, 1)));
  const sse = await Promise.all(range(1, viewers - ws.length).map(() => openSse(runId, { after: 1 })));
  const leaving = await openWs(runId, 1);

  // 40 batches of 5 lines, sent without waiting for one another: the object takes them in turn while earlier ones are still being sent.
  const batches = range(0, 39).map((b) => range(2 + b * 5, 6 + b * 5).map(sdkLine));
  const late: Promise<Awaited<ReturnType<typeof openWs>>>[] = [];
  const writes = batches.map((lines, b) => {
    if (b === 20) {
      late.push(openWs(runId, 1));
      leaving.ws.close(1000, "bye");
    }
    return append(runId, lines);
  });
  for (const res of await Promise.all(writes)) expect(res.status).toBe(200);
  expect(await (await complete(runId)).json()).toEqual({ lastEventId: 202 });

  const expected = range(2, 202); // the 200 lines, then the `completed` status entry
  for (const c of [...ws, ...(await Promise.all(late))]) {
    const frames = await c.frames.ended();
    expect(wsIds(frames)).toEqual(expected);
    expect(frames.at(-1)).toMatchObject({ type: "end", lastEventId: 202 });
  }
  for (const c of sse) {
    const frames = await c.frames.ended();
    expect(sseIds(frames)).toEqual(expected);
    expect(frames.at(-1)?.event).toBe("end");
  }
});
