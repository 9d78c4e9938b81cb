/**
 * Flow control (docs/protocol.md, "Flow control"): catch-ups paced by the
 * reader, end to end for SSE (the bridge acknowledges as its reader pulls),
 * by `ack` frames on a WebSocket, by a fixed pace for a WebSocket that never
 * acknowledges; live batches over a frame's size split, ids exact.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { DEFAULT_LIMITS, FLOW, sseEvents, wsEvents, type ServerFrame } from "../../src/protocol/index.ts";
import type { Attachment } from "../../src/run/attachment.ts";
import { inFlight } from "../../src/run/flow.ts";
import { EventLog } from "../../src/run/log.ts";
import { Pages } from "../../src/run/pages.ts";
import { EVENTUALLY } from "../support/inbox";
import { appendOk, call, complete, Inbox, info, newRunId, openSse, postJson, range, sseIds, stubOf, wsIds } from "./support";

const KiB = 1024;
const MiB = 1024 * KiB;
/** A line of about `size` bytes, numbered. */
const big = (i: number, size: number) => ({ type: "big", i, pad: "x".repeat(size - 40) });

/** Stores `count` lines of `size` bytes, in batches under the 8 MiB batch limit; returns the last id. */
async function store(runId: string, count: number, size: number, from = 1): Promise<number> {
  const perBatch = Math.max(1, Math.floor((7 * MiB) / size));
  let last = 0;
  for (let i = from; i < from + count; i += perBatch) {
    last = await appendOk(runId, range(i, Math.min(i + perBatch, from + count) - 1).map((n) => big(n, size)));
  }
  return last;
}

/** The attachments of the run's sockets of one transport, as the object holds them now. */
const attachments = (runId: string, transport: string) =>
  runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) =>
    state.getWebSockets(transport).map((ws) => ws.deserializeAttachment() as Attachment),
  );

/** A WebSocket viewer that keeps each frame's text (its size is what flow control counts). */
async function rawWs(runId: string, after: number | "live") {
  const res = await call(runId, `/ws?after=${after}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade answered ${res.status}`);
  const frames = new Inbox<{ text: string; frame: ServerFrame }>();
  ws.addEventListener("message", (e) => frames.push({ text: e.data as string, frame: JSON.parse(e.data as string) }));
  ws.addEventListener("close", () => frames.close());
  ws.accept();
  const ids = () => wsIds(frames.items.map((f) => f.frame));
  return { ws, frames, ids, last: () => ids().at(-1) ?? 0 };
}

describe("SSE: paced end to end", () => {
  it("a reader that reads steadily through a 20 MiB catch-up of 700 KiB lines is never dropped: every id once, in order, then end", async () => {
    const runId = newRunId("sse-steady");
    const last = await store(runId, 29, 700 * KiB);
    expect(last).toBe(29);
    await complete(runId);
    const sse = await openSse(runId);
    const frames = await sse.frames.ended();
    expect(sseIds(frames)).toEqual(range(1, 30));
    expect(frames.slice(0, 29).map((f) => JSON.parse(f.data).i)).toEqual(range(1, 29));
    expect(frames.at(-1)).toMatchObject({ event: "end", data: JSON.stringify({ status: "completed", lastEventId: 30 }) });
  });

  it("starts with retry:; a slow reader is paced: the object keeps at most the bridge's window unacknowledged, and it is not dropped", async () => {
    const runId = newRunId("sse-slow");
    await store(runId, 12, 700 * KiB);
    await complete(runId);
    const res = await call(runId, "/stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let checks = 0;
    for (let reads = 0; ; reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (reads % 3 !== 0) continue;
      // Between reads, what the object has sent the bridge and not had acknowledged stays within the window.
      const [att] = await attachments(runId, "sse");
      if (!att) continue; // ended: the object closed its socket
      checks++;
      expect(att.flow?.acks).toBe(true);
      expect(inFlight(att.flow)).toBeLessThanOrEqual(DEFAULT_LIMITS.sseMaxBufferBytes);
    }
    expect(checks).toBeGreaterThanOrEqual(3);
    expect(text.startsWith(`retry: ${FLOW.sseRetryMs}\n\n`)).toBe(true);
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual(range(1, 13));
    expect(text.endsWith(`event: end\ndata: {"status":"completed","lastEventId":13}\n\n`)).toBe(true);
  });

  it("a reader that stops reading is dropped once it holds up its window, and resumes from its last id with Last-Event-ID", async () => {
    const runId = newRunId("sse-stopped");
    const res = await call(runId, "/stream");
    // ~4 MiB of live lines arrive while the client reads nothing: the object sends the bridge its window, no more.
    for (let i = 1; i <= 40; i++) await appendOk(runId, [big(i, 100 * KiB)]);
    await complete(runId);
    // Having taken nothing for two keep-alive intervals while text waits, it is dropped: the bridge closes its socket to the object.
    await vi.waitFor(async () => expect((await info(runId)).clients.sse).toBe(0), EVENTUALLY);
    const text = await res.text(); // what was queued for it
    expect(text.length).toBeLessThanOrEqual(DEFAULT_LIMITS.sseMaxBufferBytes + 128 * KiB);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(range(1, ids.length));
    expect(text).not.toContain("event: end");
    const again = await openSse(runId, { lastEventId: ids.at(-1)! });
    expect(sseIds(await again.frames.ended())).toEqual(range(ids.length + 1, 41));
  });

  it("the session stream is paced the same way: a 20 MiB catch-up, every sequence_num once, in order", async () => {
    const runId = newRunId("session-steady");
    await store(runId, 29, 700 * KiB);
    const sse = await openSse(runId, { path: "/session/events/stream" });
    await sse.frames.until((f) => sseIds(f).at(-1) === 29, "the catch-up");
    expect(sseIds(sse.frames.items)).toEqual(range(1, 29));
    await sse.cancel();
  });
});

describe("WebSocket: paced by acks", () => {
  it("a client that acknowledges slowly keeps the object's unacknowledged bytes within the window; it gets everything once", async () => {
    const runId = newRunId("ws-slow-ack");
    const last = await store(runId, 320, 64 * KiB); // 20 MiB
    const client = await rawWs(runId, "live");
    // It says it acknowledges before the replay starts: an ack of where it is, then resume from the start.
    client.ws.send(JSON.stringify({ type: "ack", after: last }));
    client.ws.send(JSON.stringify({ type: "resume", after: 0 }));
    let unacked = 0; // text received since the last ack, as the client counts it
    let maxUnacked = 0;
    let counted = 0;
    const count = () => {
      for (; counted < client.frames.items.length; counted++) unacked += client.frames.items[counted]!.text.length;
      maxUnacked = Math.max(maxUnacked, unacked);
    };
    let rounds = 0;
    for (;;) {
      // Wait until it has every frame the object sent, and the object holds back (no frame fits in its window) or is done.
      const att = await vi.waitFor(async () => {
        const [a] = await attachments(runId, "ws");
        expect(a).toBeDefined();
        expect(client.last()).toBe(a!.cursor);
        expect(a!.cursor === last || inFlight(a!.flow) > FLOW.wsWindow - FLOW.frameChars).toBe(true);
        return a!;
      }, EVENTUALLY);
      count();
      expect(inFlight(att.flow)).toBeLessThanOrEqual(FLOW.wsWindow);
      if (att.cursor === last) break;
      rounds++;
      client.ws.send(JSON.stringify({ type: "ack", after: client.last() }));
      unacked = 0;
    }
    expect(rounds).toBeGreaterThanOrEqual(4); // 20 MiB through a 4 MiB window
    expect(maxUnacked).toBeLessThanOrEqual(FLOW.wsWindow);
    await complete(runId);
    await client.frames.ended();
    expect(client.ids()).toEqual(range(1, last + 1));
    expect(client.frames.items.at(-1)!.frame).toEqual({ type: "end", status: "completed", lastEventId: last + 1 });
  });

  it("a client that never acknowledges still gets everything, at the fixed pace", async () => {
    const runId = newRunId("ws-no-ack");
    const last = await store(runId, 160, 64 * KiB); // 10 MiB: more than a window
    await complete(runId);
    const client = await rawWs(runId, 0);
    await client.frames.ended();
    expect(client.ids()).toEqual(range(1, last + 1));
    expect(client.frames.items.at(-1)!.frame).toEqual({ type: "end", status: "completed", lastEventId: last + 1 });
    // Every replay frame within a frame's size (one entry each at most over it).
    expect(Math.max(...client.frames.items.map((f) => f.text.length))).toBeLessThanOrEqual(FLOW.frameChars);
  });
});

describe("live batches larger than a frame", () => {
  it("arrive split into several frames, each entry whole, ids exact (WebSocket and SSE)", async () => {
    const runId = newRunId("live-split");
    await appendOk(runId, [big(0, 1000)]);
    const client = await rawWs(runId, 0);
    const sse = await openSse(runId);
    await vi.waitFor(() => expect(client.last()).toBe(1), EVENTUALLY);
    await sse.frames.until((f) => sseIds(f).length === 1);
    // One batch of 3 MiB: 12 lines of 256 KiB.
    expect(await appendOk(runId, range(1, 12).map((i) => big(i, 256 * KiB)))).toBe(13);
    await complete(runId);
    await client.frames.ended();
    const frames = client.frames.items.filter((f) => f.frame.type === "events");
    expect(frames.length).toBeGreaterThanOrEqual(1 + 3); // the first line, then the batch in at least 3 frames
    expect(Math.max(...frames.map((f) => f.text.length))).toBeLessThanOrEqual(FLOW.frameChars);
    expect(client.ids()).toEqual(range(1, 14));
    const sseFrames = await sse.frames.ended();
    expect(sseIds(sseFrames)).toEqual(range(1, 14));
    expect(sseFrames.slice(1, 13).map((f) => JSON.parse(f.data).i)).toEqual(range(1, 12));
  });
});

describe("replay frames", () => {
  it("are framed by SQLite exactly as framing.ts frames them, every entry type, and hold at most what is asked (or one entry)", async () => {
    const runId = newRunId("pages");
    const raw = '{"type":"assistant","price":1.50,"big":12345678901234567890,"text":"é ✓ \\u00e9 \\n 𝄞","nested":{"a":[1,{"b":null}]}}';
    await call(runId, "/events", { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: `${raw}\n{"type":"user","n":2}\n` });
    await postJson(runId, "/messages", { message: "hello ✓", clientId: "c-1" });
    await appendOk(runId, range(1, 40).map((i) => big(i, 2000)));
    await complete(runId, "failed", "boom");
    const out = await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
      const log = new EventLog(state.storage.sql);
      const pages = new Pages(state.storage.sql, log);
      const all = log.read(0, 1000);
      const utf8 = new TextDecoder();
      const framed = (transport: "sse" | "ws", maxChars: number) => {
        const frames: { text: string; last?: number }[] = [];
        for (let after = 0, f; (f = pages.frame(transport, after, maxChars, runId)); after = f.last!) {
          frames.push({ ...f, text: typeof f.text === "string" ? f.text : utf8.decode(f.text) });
        }
        return frames;
      };
      const small = framed("sse", 5000);
      return {
        count: all.length,
        sse: framed("sse", 1e9).map((f) => f.text).join("") === sseEvents(all),
        ws: framed("ws", 1e9).map((f) => f.text).join("") === wsEvents(all),
        smallLasts: small.map((f) => f.last),
        // UTF-8 bytes (what an SSE frame is counted in) of at most what was asked, or one entry.
        smallFit: small.every((f) => new TextEncoder().encode(f.text).length <= 5000 || f.text.split("\n\nid: ").length === 1),
        smallWhole: small.map((f) => f.text).join("") === sseEvents(all),
        wsSmall: framed("ws", 5000).map((f) => JSON.parse(f.text).events.map((e: { id: number }) => e.id)).flat(),
      };
    });
    // 2 sdk lines, the message's input entry, 40 more lines, then the message undelivered and the status.
    expect(out).toMatchObject({ count: 45, sse: true, ws: true, smallFit: true, smallWhole: true, wsSmall: range(1, 45) });
    expect(out.smallLasts.at(-1)).toBe(45);
    expect(out.smallLasts.length).toBeGreaterThan(10); // 2 KB lines, 5,000 a frame: two at most each
  });
});

describe("frame ranges from the rows' running byte count (upto)", () => {
  it("every write keeps the count; frames hold at most what is asked and are mostly full; rows stored without it are framed by the scan", async () => {
    const runId = newRunId("upto");
    const size = (i: number) => 100 + ((i * 7919) % 2900); // 100 … 3,000 bytes, mixed
    await appendOk(runId, [big(1, size(1))]); // one row: INSERT_ONE
    await appendOk(runId, range(2, 40).map((i) => big(i, size(i)))); // a batch of one type
    await postJson(runId, "/messages", { message: "queued ✓" }); // an input entry
    await appendOk(runId, range(41, 70).map((i) => big(i, size(i))));
    await complete(runId, "failed", "boom"); // the undelivered input and the status: rows of two types, one statement
    const out = await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
      const sql = state.storage.sql;
      const rows = sql.exec<{ id: number; upto: number | null; bytes: number }>("SELECT id, upto, octet_length(data) AS bytes FROM events ORDER BY id").toArray();
      const counted = rows.every((r, i) => r.upto === (i === 0 ? 0 : rows[i - 1]!.upto!) + r.bytes + 64);
      // As a relay from before `upto` would have left them: the first 20 rows without it.
      sql.exec("UPDATE events SET upto = NULL WHERE id <= 20");
      const log = new EventLog(sql);
      const pages = new Pages(sql, log);
      const max = 20_000;
      const frames: { after: number; last: number; text: string }[] = [];
      for (let after = 0, f; (f = pages.frame("sse", after, max, runId)); after = f.last!) {
        frames.push({ after, last: f.last!, text: new TextDecoder().decode(f.text as ArrayBuffer) });
      }
      const sizeOf = (after: number, last: number) =>
        sql.exec<{ n: number }>("SELECT sum(octet_length(data)) + 64 * count(*) AS n FROM events WHERE id > ? AND id <= ?", after, last).one().n;
      const lastId = rows.at(-1)!.id;
      return {
        counted,
        whole: frames.map((f) => f.text).join("") === sseEvents(log.read(0, 1000)),
        fit: frames.every((f) => sizeOf(f.after, f.last) <= max || f.last === f.after + 1),
        // From the rows with `upto` on, frames are mostly full (they need not be exactly).
        fill: (() => {
          const found = frames.filter((f) => f.after >= 20 && f.last < lastId);
          return found.length > 3 && found.reduce((n, f) => n + sizeOf(f.after, f.last), 0) / found.length >= 0.7 * max;
        })(),
        lastIds: [frames.at(-1)!.last, lastId],
      };
    });
    expect(out).toEqual({ counted: true, whole: true, fit: true, fill: true, lastIds: [73, 73] });
  });
});
