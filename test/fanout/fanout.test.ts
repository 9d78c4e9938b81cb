/**
 * The fan-out tier (src/run/shards.ts, src/run/shard.ts), with FANOUT_SHARD_SIZE = 2
 * (vitest.config.ts, project "fanout"): the run object holds two viewers, and
 * each shard `runId#k` two more.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../src/protocol/index.ts";
import {
  appendOk,
  call,
  complete,
  info,
  newRunId,
  openSse,
  openWs,
  range,
  sdkLine,
  sseIds,
  stubOf,
  wsIds,
  type SseClient,
  type WsClient,
} from "../worker/support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);
const se = (event: object) => ({ type: "stream_event", event, parent_tool_use_id: null, session_id: "s-1" });
const init = { type: "system", subtype: "init", session_id: "s-1" };
const start = (id: string) => se({ type: "message_start", message: { id, type: "message", role: "assistant", content: [] } });
const blockStart = (index: number) => se({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
const text = (index: number, t: string) => se({ type: "content_block_delta", index, delta: { type: "text_delta", text: t } });
const assistant = (id: string, t: string) => ({ type: "assistant", message: { id, role: "assistant", content: [{ type: "text", text: t }] }, session_id: "s-1" });
const shardOf = (runId: string, k: number) => env.FANOUT!.get(env.FANOUT!.idFromName(`${runId}#${k}`));

/** Where each viewer landed, by transport: the run object's own and each shard's. */
async function countsOn(runId: string, shards: number) {
  const run = await runInDurableObject(stubOf(runId), (_: unknown, state) => ({
    sse: state.getWebSockets("sse").length,
    ws: state.getWebSockets("ws").length,
  }));
  const each = await Promise.all(range(1, shards).map((k) => shardOf(runId, k).counts()));
  return [run, ...each.map((c) => ({ sse: c.sse, ws: c.ws }))];
}

/** Six viewers, one at a time so their places are known: SSE then WS on the run, on shard 1, on shard 2. */
async function sixViewers(runId: string, after: number) {
  const sse: SseClient[] = [];
  const ws: WsClient[] = [];
  for (let i = 0; i < 3; i++) {
    sse.push(await openSse(runId, { after }));
    ws.push(await openWs(runId, after));
  }
  for (const v of sse) expect(v.res.status).toBe(200);
  return { sse, ws };
}

async function burst(runId: string, from: number, batches: number, size: number, during?: (b: number) => Promise<void>) {
  let next = from;
  for (let b = 0; b < batches; b++) {
    await appendOk(runId, lines(next, next + size - 1));
    next += size;
    await during?.(b);
  }
  return next - 1;
}

const MARK = Symbol.for("runrelay.test.shard");

async function evictShard(runId: string, k: number) {
  const stub = shardOf(runId, k);
  await runInDurableObject(stub, (o: object) => void ((o as Record<symbol, boolean>)[MARK] = true));
  await evictDurableObject(stub);
  expect(await runInDurableObject(stub, (o: object) => (o as Record<symbol, boolean>)[MARK] === true)).toBe(false);
}

async function expectEveryId(viewers: { sse: SseClient[]; ws: WsClient[] }, first: number, last: number) {
  for (const v of viewers.sse) {
    const frames = await v.frames.ended();
    expect(sseIds(frames)).toEqual(range(first, last));
    expect(frames.at(-1)).toMatchObject({ event: "end" });
  }
  for (const v of viewers.ws) {
    const frames: ServerFrame[] = await v.frames.ended();
    expect(wsIds(frames)).toEqual(range(first, last));
    expect(frames.at(-1)).toEqual({ type: "end", status: "completed", lastEventId: last });
    expect(await v.closeCode).toBe(1000);
  }
}

describe("the fan-out tier", () => {
  it("puts viewers past the size on shards; each SSE and WebSocket viewer, here or there, gets every id once, in order, through a burst, then the end", async () => {
    const runId = newRunId("fanout");
    await appendOk(runId, lines(1, 3));
    const viewers = await sixViewers(runId, 1);
    expect(await countsOn(runId, 2)).toEqual([
      { sse: 1, ws: 1 },
      { sse: 1, ws: 1 },
      { sse: 1, ws: 1 },
    ]);
    expect((await info(runId)).clients).toMatchObject({ sse: 3, ws: 3, session: 0 });

    const last = await burst(runId, 4, 25, 8);
    expect(last).toBe(203);
    await complete(runId);
    await expectEveryId(viewers, 2, 204);
  });

  it("loses and repeats nothing when a shard is evicted mid-burst, or the run object is", async () => {
    const runId = newRunId("fanout-evict");
    await appendOk(runId, lines(1, 2));
    const viewers = await sixViewers(runId, 0);
    const last = await burst(runId, 3, 30, 5, async (b) => {
      if (b === 5 || b === 17) await evictShard(runId, 1);
      if (b === 11) await evictShard(runId, 2);
      if (b === 23) await evictDurableObject(stubOf(runId));
    });
    await complete(runId);
    await expectEveryId(viewers, 1, last + 1);
  });

  it("gives viewers who join while batches wait for the hot run's tick each id once, in order", async () => {
    const runId = newRunId("fanout-tick");
    await appendOk(runId, lines(1, 2));
    const viewers = await sixViewers(runId, 0); // viewers on shards: the run is hot
    let next = 3;
    for (let b = 0; b < 6; b++) {
      await appendOk(runId, lines(next, next + 4)); // published a tick later (src/run/publisher.ts, HOT_TICK_MS)
      next += 5;
      if (b % 2 === 0) viewers.ws.push(await openWs(runId, 0));
      else viewers.sse.push(await openSse(runId, { after: 0 }));
    }
    await complete(runId);
    await expectEveryId(viewers, 1, next);
  });

  it("catches a late viewer on a shard up from 0, then goes on live; counts in GET / add up", async () => {
    const runId = newRunId("fanout-late");
    await appendOk(runId, lines(1, 40));
    const early = [await openWs(runId, "live"), await openWs(runId, "live")];
    await burst(runId, 41, 10, 10);
    const late = await openWs(runId, 0);
    const lateSse = await openSse(runId, { after: 0 });
    expect(await countsOn(runId, 1)).toEqual([
      { sse: 0, ws: 2 },
      { sse: 1, ws: 1 },
    ]);
    expect((await info(runId)).clients).toMatchObject({ sse: 1, ws: 3 });
    await late.frames.until((f) => wsIds(f).length === 140, "the catch-up");
    await burst(runId, 141, 3, 10);
    await complete(runId);
    await expectEveryId({ sse: [lateSse], ws: [late] }, 1, 171);
    for (const v of early) expect(wsIds(await v.frames.ended())).toEqual(range(41, 171));
  });

  it("gives a shard's viewers the draft and the live deltas as the run object's viewers get them", async () => {
    const runId = newRunId("fanout-deltas");
    await appendOk(runId, [init, start("m1"), blockStart(0), text(0, "Hel")]);
    const here = [await openWs(runId, 0), await openWs(runId, 0)];
    const there = await openWs(runId, 0);
    expect((await countsOn(runId, 1))[1]).toEqual({ sse: 0, ws: 1 });
    for (const v of [...here, there]) await v.frames.until((f) => f.some((x) => x.type === "draft"), "the draft");
    await appendOk(runId, [text(0, "lo")]);
    await appendOk(runId, [text(0, " there"), assistant("m1", "Hello there")]);
    await complete(runId);
    const seen = await Promise.all([...here, there].map((v) => v.frames.ended()));
    for (const frames of seen) {
      expect(frames.map((f) => f.type)).toEqual(["events", "draft", "delta", "delta", "events", "events", "end"]);
      expect(frames.filter((f) => f.type === "delta").map((f) => JSON.stringify(f))).toEqual(seen[0]!.filter((f) => f.type === "delta").map((f) => JSON.stringify(f)));
      expect(frames.find((f) => f.type === "draft")).toEqual(seen[0]!.find((f) => f.type === "draft"));
      expect(wsIds(frames)).toEqual([1, 2, 3]);
    }
  });

  it("serves the remote-session stream from a shard, catch_up_truncated included", async () => {
    const runId = newRunId("fanout-session");
    await appendOk(runId, lines(1, 4));
    await openWs(runId, "live");
    await openWs(runId, "live");
    const resumed = await openSse(runId, { path: "/session/events/stream", lastEventId: 2 });
    const ahead = await openSse(runId, { path: "/session/events/stream", lastEventId: 99 });
    expect((await countsOn(runId, 1))[1]).toEqual({ sse: 0, ws: 0 });
    expect(await shardOf(runId, 1).counts()).toEqual({ sse: 0, ws: 0, session: 2 });
    await appendOk(runId, lines(5, 5));
    const got = await resumed.frames.until((f) => f.length >= 3);
    expect(got.slice(0, 3).map((f) => [f.event, f.id])).toEqual([
      ["client_event", "3"],
      ["client_event", "4"],
      ["client_event", "5"],
    ]);
    const past = await ahead.frames.until((f) => f.length >= 2);
    expect(past.slice(0, 2).map((f) => [f.event, f.id ?? ""])).toEqual([
      ["catch_up_truncated", ""],
      ["client_event", "5"],
    ]);
    await resumed.cancel();
    await ahead.cancel();
  });

  it("sends a message from a WebSocket viewer on a shard to the run", async () => {
    const runId = newRunId("fanout-input");
    await appendOk(runId, lines(1, 1));
    await openWs(runId, 1);
    await openWs(runId, 1);
    const viewer = await openWs(runId, 1);
    expect((await countsOn(runId, 1))[1]).toEqual({ sse: 0, ws: 1 });
    viewer.send({ type: "message", text: "from a shard", clientId: "c1" });
    const ack = (await viewer.frames.until((f) => f.some((x) => x.type === "ack"))).find((x) => x.type === "ack");
    expect(ack).toEqual({ type: "ack", id: 1, eventId: 2, clientId: "c1" });
    const entries = await viewer.frames.until((f) => wsIds(f).includes(2), "the input entry");
    expect(wsIds(entries)).toEqual([2]);
  });

  it("closes the shards' viewers with 4410 when the run is deleted, and deletes their copies", async () => {
    const runId = newRunId("fanout-delete");
    await appendOk(runId, lines(1, 2));
    const viewers = await sixViewers(runId, 0);
    await viewers.ws[2]!.frames.until((f) => wsIds(f).length === 2);
    await viewers.sse[2]!.frames.until((f) => sseIds(f).length === 2);
    expect((await call(runId, "/", { method: "DELETE" })).status).toBe(204);
    for (const v of viewers.ws) expect(await v.closeCode).toBe(4410);
    for (const v of viewers.sse) await v.frames.ended();
    for (const k of [1, 2]) {
      expect(await runInDurableObject(shardOf(runId, k), (_: unknown, state) => state.storage.sql.exec("SELECT count(*) AS n FROM events").one().n)).toBe(0);
    }
  });
});
