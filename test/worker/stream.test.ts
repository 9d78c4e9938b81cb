import { describe, expect, it, vi } from "vitest";
import { EVENTUALLY } from "../support/inbox";
import {
  appendOk,
  call,
  complete,
  expectError,
  info,
  newRunId,
  openSse,
  openWs,
  page,
  range,
  readAll,
  sdkLine,
  sseIds,
  wsIds,
} from "./support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);

describe("GET /stream (SSE)", () => {
  for (const how of ["Last-Event-ID", "?after"] as const) {
    it(`with ${how}: k replays exactly k+1..N, then goes live, each once, in order`, async () => {
      const runId = newRunId("sse-cursor");
      await appendOk(runId, lines(1, 10));
      const sse = await openSse(runId, how === "?after" ? { after: 4 } : { lastEventId: 4 });
      expect(sse.res.status).toBe(200);
      expect(sse.res.headers.get("Content-Type")).toBe("text/event-stream; charset=utf-8");
      await sse.frames.until((f) => f.length === 6, "the replay");
      await appendOk(runId, lines(11, 13));
      await appendOk(runId, lines(14, 15));
      await sse.frames.until((f) => f.length === 11, "the live lines");
      await complete(runId, "completed", "done");
      const frames = await sse.frames.ended();

      expect(sseIds(frames)).toEqual(range(5, 16));
      // SDK entries are unnamed events whose data is the stream-json line.
      expect(frames.slice(0, 11).map((f) => f.event)).toEqual(Array(11).fill(undefined));
      expect(frames.slice(0, 11).map((f) => JSON.parse(f.data))).toEqual(lines(5, 15));
      expect(frames[11]).toMatchObject({ id: "16", event: "status" });
      expect(JSON.parse(frames[11]!.data)).toEqual({ status: "completed", reason: "done" });
      expect(frames[12]).toMatchObject({ event: "end", id: undefined });
      expect(JSON.parse(frames[12]!.data)).toEqual({ status: "completed", lastEventId: 16 });
      expect(frames).toHaveLength(13);
    });
  }

  it("Last-Event-ID wins over ?after (an EventSource reconnecting keeps its original URL)", async () => {
    const runId = newRunId("sse-precedence");
    await appendOk(runId, lines(1, 5));
    const sse = await openSse(runId, { after: 1, lastEventId: 3 });
    await sse.frames.until((f) => f.length === 2);
    await complete(runId);
    expect(sseIds(await sse.frames.ended())).toEqual([4, 5, 6]);
  });

  it("?after=live delivers only what is appended after connecting", async () => {
    const runId = newRunId("sse-live");
    await appendOk(runId, lines(1, 5));
    const sse = await openSse(runId, { after: "live" });
    await appendOk(runId, lines(6, 8));
    await sse.frames.until((f) => f.length === 3);
    await complete(runId);
    const frames = await sse.frames.ended();
    expect(sseIds(frames)).toEqual([6, 7, 8, 9]);
    expect(frames.slice(0, 3).map((f) => JSON.parse(f.data))).toEqual(lines(6, 8));
  });

  it("waits for a run that has not started, from the start by default", async () => {
    const runId = newRunId("sse-early");
    const sse = await openSse(runId);
    await appendOk(runId, lines(1, 2));
    await complete(runId, "failed", "boom");
    const frames = await sse.frames.ended();
    expect(sseIds(frames)).toEqual([1, 2, 3]);
    expect(frames.at(-1)).toMatchObject({ event: "end" });
  });

  it("after the end, a client that has everything gets 204 and one that is behind gets the rest", async () => {
    const runId = newRunId("sse-after-end");
    await appendOk(runId, lines(1, 3));
    await complete(runId, "cancelled");
    expect((await openSse(runId, { lastEventId: 4 })).res.status).toBe(204);
    const behind = await openSse(runId, { lastEventId: 2 });
    const frames = await behind.frames.ended();
    expect(sseIds(frames)).toEqual([3, 4]);
    expect(JSON.parse(frames.at(-1)!.data)).toEqual({ status: "cancelled", lastEventId: 4 });
  });

  it("sends keep-alive comments on an idle stream", async () => {
    const runId = newRunId("sse-keepalive");
    const sse = await openSse(runId);
    await sse.comments.until((c) => c.includes("keep-alive"), "a keep-alive comment");
    await sse.cancel();
  });

  it("drops a reader that stops reading, past the buffer bound; it resumes from its last id", async () => {
    const runId = newRunId("sse-slow");
    const res = await call(runId, "/stream");
    // ~4 MiB arrive while the client reads nothing; the bridge buffers at most 1 MiB of it.
    const pad = "x".repeat(100_000);
    for (let i = 0; i < 40; i++) await appendOk(runId, [{ type: "big", i, pad }]);
    await complete(runId);
    // Having read nothing for two keep-alive intervals while text waits for it, it is dropped (its socket to the object closes).
    await vi.waitFor(async () => expect((await info(runId)).clients.sse).toBe(0), EVENTUALLY);
    const text = await res.text(); // what was buffered for it before it was dropped
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(range(1, ids.length));
    expect(ids.length).toBeLessThan(41);
    expect(text).not.toContain("event: end");
    const again = await openSse(runId, { lastEventId: ids.at(-1)! });
    expect(sseIds(await again.frames.ended())).toEqual(range(ids.length + 1, 41));
  });
});

describe("large entries", () => {
  it("pages and replays ~1 MiB lines in bounded pieces, every id once, in order", async () => {
    const runId = newRunId("large");
    const big = (i: number) => ({ type: "big", i, pad: "z".repeat(1024 * 1024 - 100) });
    await appendOk(runId, range(1, 6).map(big));
    await appendOk(runId, range(7, 12).map(big));
    const first = await page(runId, 0);
    // Each line is just under 1 MiB: the page ends with the row that passes ~4 MiB.
    expect(first.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect((await readAll(runId)).map((e) => e.data.i)).toEqual(range(1, 12));

    const ws = await openWs(runId, 0);
    const sse = await openSse(runId);
    await complete(runId);
    const frames = await ws.frames.ended();
    expect(wsIds(frames)).toEqual(range(1, 13));
    expect(Math.max(...frames.map((f) => (f.type === "events" ? f.events.length : 0)))).toBeLessThanOrEqual(2);
    expect(sseIds(await sse.frames.ended())).toEqual(range(1, 13));
  });
});

describe("GET /ws", () => {
  it("replays after the cursor, sends one frame per batch live, then end and close 1000", async () => {
    const runId = newRunId("ws");
    await appendOk(runId, lines(1, 6));
    const client = await openWs(runId, 2);
    await client.frames.until((f) => wsIds(f).length === 4, "the replay");
    await appendOk(runId, lines(7, 11));
    await client.frames.until((f) => wsIds(f).length === 9, "the live batch");
    const live = client.frames.items.at(-1)!;
    expect(live.type === "events" && live.events.map((e) => e.id)).toEqual(range(7, 11));
    await complete(runId);
    const frames = await client.frames.ended();
    expect(await client.closeCode).toBe(1000);
    expect(wsIds(frames)).toEqual(range(3, 12));
    const entries = frames.flatMap((f) => (f.type === "events" ? f.events : []));
    expect(entries.slice(0, 9).map((e) => e.data)).toEqual(lines(3, 11));
    expect(entries.slice(0, 9).every((e) => e.type === "sdk" && typeof e.ts === "number")).toBe(true);
    expect(entries[9]).toMatchObject({ id: 12, type: "status", data: { status: "completed" } });
    expect(frames.at(-1)).toEqual({ type: "end", status: "completed", lastEventId: 12 });
  });

  it("resume replays from the given id; ping gets pong; a bad frame gets an error frame", async () => {
    const runId = newRunId("ws-resume");
    await appendOk(runId, lines(1, 4));
    const client = await openWs(runId, "live");
    client.send({ type: "resume", after: 1 });
    await client.frames.until((f) => wsIds(f).length === 3);
    client.send('{"type":"ping"}');
    await client.frames.until((f) => f.some((x) => x.type === "pong"));
    client.send({ type: "resume", after: 99 });
    client.send("not json");
    await client.frames.until((f) => f.filter((x) => x.type === "error").length === 2);
    const errors = client.frames.items.filter((x) => x.type === "error");
    expect(errors.map((e) => e.type === "error" && e.error.code)).toEqual(["cursor_out_of_range", "bad_frame"]);
    await appendOk(runId, lines(5, 5));
    await complete(runId);
    await client.frames.ended();
    expect(wsIds(client.frames.items)).toEqual([2, 3, 4, 5, 6]);
  });

  it("ends a client that connects to an ended run once it has everything", async () => {
    const runId = newRunId("ws-ended");
    await appendOk(runId, lines(1, 2));
    await complete(runId);
    const client = await openWs(runId, 3);
    expect(await client.frames.ended()).toEqual([{ type: "end", status: "completed", lastEventId: 3 }]);
    expect(await client.closeCode).toBe(1000);
  });
});

describe("GET / and POST /complete", () => {
  it("reports status, counts and viewers; complete is idempotent for the same status only", async () => {
    const runId = newRunId("status");
    await expectError(await call(runId, "/"), 404, "run_not_found");
    await appendOk(runId, lines(1, 3));
    const sse1 = await openSse(runId);
    const sse2 = await openSse(runId);
    const ws = await openWs(runId);
    const running = await info(runId);
    expect(running).toMatchObject({ runId, status: "running", lastEventId: 3, events: 3, clients: { sse: 2, ws: 1, runners: 0 } });
    expect(running.bytes).toBe(lines(1, 3).reduce((n, l) => n + new TextEncoder().encode(JSON.stringify(l)).length, 0));

    // A viewer that goes away is noticed.
    await sse2.cancel();
    await vi.waitFor(async () => expect((await info(runId)).clients).toEqual({ sse: 1, ws: 1, session: 0, runners: 0 }), EVENTUALLY);

    expect(await (await complete(runId, "failed", "tool crashed")).json()).toEqual({ lastEventId: 4 });
    expect(await (await complete(runId, "failed")).json()).toEqual({ lastEventId: 4 });
    await expectError(await complete(runId, "completed"), 409, "run_ended");
    await expectError(await call(runId, "/events", { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: "{}" }), 409, "run_ended");
    await sse1.frames.ended();
    await ws.frames.ended();
    const ended = await info(runId);
    expect(ended).toMatchObject({ status: "failed", reason: "tool crashed", lastEventId: 4, events: 4 });
    await vi.waitFor(async () => expect((await info(runId)).clients).toEqual({ sse: 0, ws: 0, session: 0, runners: 0 }), EVENTUALLY);
  });

  it("refuses a bad completion body", async () => {
    const runId = newRunId("complete-bad");
    const post = (body: string, type = "application/json") =>
      call(runId, "/complete", { method: "POST", headers: { "Content-Type": type }, body });
    await expectError(await post('{"status":"done"}'), 400, "bad_body");
    await expectError(await post('{"status":"completed","extra":1}'), 400, "bad_body");
    await expectError(await post("{"), 400, "invalid_json");
    await expectError(await post('{"status":"completed"}', "text/plain"), 415, "unsupported_media_type");
    await expectError(await call(runId, "/"), 404, "run_not_found");
  });
});
