/**
 * A hot run (one with viewers on shards; FANOUT_SHARD_SIZE = 2 here) publishes
 * a batch a tick after its write (src/run/publisher.ts, HOT_TICK_MS). What a
 * viewer on the run object does meanwhile is driven inside the object, in the
 * same turn as the write, so it always falls within the tick. Every viewer
 * still gets every id once, in order, and every live delta once: its last
 * draft's text and the deltas after it make the message.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DraftData, ServerFrame } from "../../src/protocol/index.ts";
import type { RunObject } from "../../src/run/object.ts";
import { subscribeRequest } from "../../src/run/subscribe.ts";
import { parseNdjson } from "../../src/worker/ndjson.ts";
import { appendOk, complete, Inbox, newRunId, openSse, openWs, sseIds, stubOf, wsIds, type SseClient, type WsClient } from "../worker/support";

const se = (event: object) => ({ type: "stream_event", event, parent_tool_use_id: null, session_id: "s-1" });
const init = { type: "system", subtype: "init", session_id: "s-1" };
const status = { type: "system", subtype: "status", session_id: "s-1" };
const start = (id: string) => se({ type: "message_start", message: { id, type: "message", role: "assistant", content: [] } });
const blockStart = (index: number) => se({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
const text = (t: string) => se({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } });
const assistant = (t: string) => ({ type: "assistant", message: { id: "m1", role: "assistant", content: [{ type: "text", text: t }] }, session_id: "s-1" });

type Delta = { event: { event: { delta?: { text?: string } } } };
type Message = { kind: string; data?: unknown };

/** The message as a viewer has it: its last draft's text, then the deltas after it. */
function messageOf(frames: readonly Message[]): string {
  let at = -1;
  frames.forEach((f, i) => f.kind === "draft" && (at = i));
  const draft = frames[at]?.data as DraftData | undefined;
  const deltas = frames.slice(at + 1).filter((f) => f.kind === "delta");
  return (draft?.blocks[0]?.text ?? "") + deltas.map((f) => (f.data as Delta).event.event.delta?.text ?? "").join("");
}
const fromWs = (frames: readonly ServerFrame[]): Message[] => frames.map((f) => ({ kind: f.type, data: f }));
const fromSse = (frames: readonly { event?: string; data: string }[]): Message[] =>
  frames.map((f) => ({ kind: f.event ?? "entry", data: f.event === "draft" || f.event === "delta" ? JSON.parse(f.data) : undefined }));

/** A run with a message begun ("a"), two viewers on the run object and two on shard 1 (so it is hot), each with the draft. */
async function hotRun(name: string) {
  const runId = newRunId(name);
  await appendOk(runId, [init, start("m1"), blockStart(0), text("a")]);
  const ws: WsClient[] = [];
  const sse: SseClient[] = [];
  for (let i = 0; i < 2; i++) {
    ws.push(await openWs(runId, 0));
    sse.push(await openSse(runId, { after: 0 }));
  }
  for (const v of ws) await v.frames.until((f) => f.some((x) => x.type === "draft"), "the draft");
  for (const v of sse) await v.frames.until((f) => f.some((x) => x.event === "draft"), "the draft");
  const local = await runInDurableObject(stubOf(runId), (_: unknown, state) => state.getWebSockets("ws").length);
  expect(local).toBe(1); // ws[0] is on the run object, ws[1] on a shard
  return { runId, ws, sse };
}

/** Appends `lines` inside the run object, then, in the same turn (before any viewer is sent the batch), `meanwhile` with its WebSocket viewer. */
async function appendThen(runId: string, lines: object[], meanwhile: (o: RunObject, ws: WebSocket) => unknown): Promise<void> {
  const limits = { maxLineBytes: 1 << 20, maxBatchLines: 100, maxJsonDepth: 64 };
  await runInDurableObject(stubOf(runId), async (o: RunObject, state) => {
    const batch = parseNdjson(new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join("\n")), limits);
    expect(o.append(runId, batch.lines, batch.bytes, undefined, batch.marks)).toMatchObject({ ok: true });
    await meanwhile(o, state.getWebSockets("ws")[0]!);
  });
}

/** Until every viewer's message (its last draft and the deltas after it) reads `message`. */
async function messageIs(viewers: { ws: WsClient[]; sse: SseClient[] }, message: string) {
  for (const v of viewers.ws) await v.frames.until((f) => messageOf(fromWs(f)) === message, `"${message}"`);
  for (const v of viewers.sse) await v.frames.until((f) => messageOf(fromSse(f)) === message, `"${message}"`);
}

async function expectAll(viewers: { ws: WsClient[]; sse: SseClient[] }, ids: number[], message: string, from = (_: WsClient) => 0) {
  for (const v of viewers.ws) {
    const frames = (await v.frames.ended()).slice(from(v));
    expect(wsIds(frames)).toEqual(ids);
    expect(messageOf(fromWs(frames))).toBe(message);
  }
  for (const v of viewers.sse) {
    const frames = await v.frames.ended();
    expect(sseIds(frames)).toEqual(ids);
    expect(messageOf(fromSse(frames))).toBe(message);
  }
}

describe("a hot run's tick", () => {
  it("an ack that arrives while a batch of entries and deltas waits for the tick: the viewer gets the batch, deltas and all, once", async () => {
    const { runId, ws, sse } = await hotRun("tick-ack");
    await appendThen(runId, [text("b"), status, text("c")], (o, socket) => o.webSocketMessage(socket, JSON.stringify({ type: "ack", after: 1 })));
    await appendOk(runId, [text("d"), assistant("abcd")]);
    await complete(runId);
    await expectAll({ ws, sse }, [1, 2, 3, 4], "abcd");
  });

  it("a viewer that catches up again while a batch of deltas waits for the tick: its draft holds them, and they are not sent again", async () => {
    const { runId, ws, sse } = await hotRun("tick-resume");
    const resumedAt = ws[0]!.frames.items.length;
    await appendThen(runId, [text("b")], (o, socket) => o.webSocketMessage(socket, JSON.stringify({ type: "resume", after: 0 })));
    await appendOk(runId, [text("c"), assistant("abc")]);
    await complete(runId);
    // The viewer that resumed from 0 has 1 again, then the rest; the others had 1 before.
    await expectAll({ ws: [ws[0]!], sse: [] }, [1, 2, 3], "abc", () => resumedAt);
    await expectAll({ ws: [ws[1]!], sse }, [1, 2, 3], "abc");
  });

  it("a remote session that connects while a batch of deltas waits for the tick gets its stream events (a session has no drafts)", async () => {
    const { runId, sse } = await hotRun("tick-session");
    await sse[0]!.cancel(); // room on the run object for one more socket
    await expect.poll(() => runInDurableObject(stubOf(runId), (_: unknown, state) => state.getWebSockets().length)).toBe(1);
    const session = new Inbox<string>();
    await appendThen(runId, [text("b")], async (o) => {
      const res = await o.fetch(subscribeRequest({ transport: "session", after: 1, run: runId, scope: "read" }));
      const client = res.webSocket!;
      client.addEventListener("message", (e) => session.push(e.data as string));
      client.accept();
    });
    await appendOk(runId, [text("c"), assistant("abc")]);
    const texts = (frames: string[]) => frames.flatMap((f) => [...f.matchAll(/"text_delta","text":"(\w)"/g)].map((m) => m[1]));
    await session.until((f) => f.some((x) => x.includes('"type":"assistant"')), "the message's durable line");
    expect(texts(session.items)).toEqual(["b", "c"]);
  });

  it("a shard that catches up from the log (the feed it was owed grew past its bound) gives its live viewers the drafts again: the log holds no deltas", async () => {
    const { runId, ws, sse } = await hotRun("tick-log");
    const big = (i: number) => ({ type: "system", subtype: "big", i, pad: "x".repeat(900_000) });
    const limits = { maxLineBytes: 1 << 20, maxBatchLines: 100, maxJsonDepth: 64 };
    await runInDurableObject(stubOf(runId), (o: RunObject) => {
      // Two batches for one tick: the shards' feed would hold more than 4 MiB (MAX_PENDING_CHARS, src/run/shards.ts).
      for (const lines of [[text("b"), status], [0, 1, 2, 3, 4].map(big)]) {
        const batch = parseNdjson(new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join("\n")), limits);
        expect(o.append(runId, batch.lines, batch.bytes, undefined, batch.marks)).toMatchObject({ ok: true });
      }
    });
    // A viewer whose window the large batch overflowed catches it up from storage, so it misses deltas meanwhile; the drafts then cover them.
    await appendOk(runId, [text("c")]);
    await messageIs({ ws, sse }, "abc");
    await appendOk(runId, [assistant("abc")]);
    await complete(runId);
    await expectAll({ ws, sse }, [1, 2, 3, 4, 5, 6, 7, 8, 9], "abc");
  });
});
