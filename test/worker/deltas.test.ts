/** Live deltas (`stream_event` lines): fanned out in batch order, never stored; drafts for late viewers; rows written. */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DraftData, ServerFrame } from "../../src/protocol/index.ts";
import { Drafts } from "../../src/run/drafts.ts";
import { append, appendOk, complete, info, newRunId, openSse, openWs, readAll, sseIds, stubOf, wsIds } from "./support";

const se = (event: object) => ({ type: "stream_event", event, parent_tool_use_id: null, session_id: "s-1" });
const start = (id: string) => se({ type: "message_start", message: { id, type: "message", role: "assistant", content: [] } });
const blockStart = (index: number, type = "text") =>
  se({ type: "content_block_start", index, content_block: type === "text" ? { type, text: "" } : { type, id: "toolu_1", name: "Bash", input: {} } });
const text = (index: number, t: string) => se({ type: "content_block_delta", index, delta: { type: "text_delta", text: t } });
const json = (index: number, j: string) => se({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: j } });
const assistant = (id: string, t: string) => ({ type: "assistant", message: { id, role: "assistant", content: [{ type: "text", text: t }] }, session_id: "s-1" });
const init = { type: "system", subtype: "init", session_id: "s-1" };
const word = (i: number) => `w${i} `;
const producer = (seq: number) => ({ id: "runner", epoch: 0, seq });

type Delta = { after: number; event: { event: { type: string; delta?: { text?: string } } } };
const deltaText = (d: Delta) => d.event.event.delta?.text ?? "";
const wsDeltas = (frames: readonly ServerFrame[]) => frames.filter((f) => f.type === "delta") as unknown as Delta[];
const sseDeltas = (frames: readonly { event?: string; data: string }[]) => frames.filter((f) => f.event === "delta").map((f) => JSON.parse(f.data) as Delta);

describe("live deltas", () => {
  it("go to SSE and WebSocket viewers in batch order, each after its last durable id; nothing of them is stored", async () => {
    const runId = newRunId("deltas");
    await appendOk(runId, [init], producer(0));
    const sse = await openSse(runId);
    const ws = await openWs(runId, 0);
    await sse.frames.until((f) => sseIds(f).length === 1);
    await ws.frames.until((f) => wsIds(f).length === 1);
    // A batch of deltas only stores no entry; a mixed batch interleaves.
    expect(await appendOk(runId, [start("m1"), blockStart(0), text(0, "Hel")], producer(1))).toBe(1);
    expect(await appendOk(runId, [text(0, "lo"), { type: "system", subtype: "status" }, text(0, "!"), assistant("m1", "Hello!")], producer(2))).toBe(3);
    // A retried batch: 204, nothing sent again.
    expect((await append(runId, [text(0, "lo"), { type: "system", subtype: "status" }, text(0, "!"), assistant("m1", "Hello!")], producer(2))).status).toBe(204);
    await complete(runId);

    const sseFrames = await sse.frames.ended();
    expect(sseFrames.map((f) => f.event ?? `id:${f.id}`)).toEqual(["id:1", "delta", "delta", "delta", "delta", "id:2", "delta", "id:3", "status", "end"]);
    expect(sseFrames.filter((f) => f.event === "delta").every((f) => f.id === undefined)).toBe(true);
    expect(sseDeltas(sseFrames).map((d) => d.after)).toEqual([1, 1, 1, 1, 2]);
    expect(sseDeltas(sseFrames).map(deltaText).join("")).toBe("Hello!");
    const wsFrames = await ws.frames.ended();
    expect(wsFrames.map((f) => f.type)).toEqual(["events", "delta", "delta", "delta", "delta", "events", "delta", "events", "events", "end"]);
    expect(wsDeltas(wsFrames).map((d) => [d.after, d.event])).toEqual(sseDeltas(sseFrames).map((d) => [d.after, d.event]));

    const log = await readAll(runId);
    expect(log.map((e) => e.data.type ?? e.data.status)).toEqual(["system", "system", "assistant", "completed"]);
    const run = await info(runId);
    expect(run.events).toBe(4);
    expect(run.producers).toEqual({ runner: { epoch: 0, seq: 2 } });
  });

  it("a viewer that connects mid-message gets the draft, then the following deltas; Last-Event-ID resumes exactly", async () => {
    const runId = newRunId("draft");
    await appendOk(runId, [init, start("m1"), blockStart(0), ...Array.from({ length: 100 }, (_, i) => text(0, word(i)))]);
    await appendOk(runId, [blockStart(1, "tool_use"), json(1, '{"comm'), json(1, 'and":"ls"}')]);
    const late = await openWs(runId, 0);
    const resumed = await openSse(runId, { lastEventId: 1 });
    await late.frames.until((f) => f.some((x) => x.type === "draft"), "the draft");
    await resumed.frames.until((f) => f.some((x) => x.event === "draft"), "the draft");
    await appendOk(runId, Array.from({ length: 100 }, (_, i) => text(0, word(100 + i))));
    await appendOk(runId, [assistant("m1", "final")]);
    await complete(runId);

    const all = Array.from({ length: 200 }, (_, i) => word(i)).join("");
    const wsFrames = await late.frames.ended();
    expect(wsFrames.map((f) => f.type).slice(0, 2)).toEqual(["events", "draft"]);
    const draft = wsFrames[1] as unknown as DraftData;
    expect(draft).toMatchObject({ after: 1, messageId: "m1", stream: "" }); // the main agent's stream
    expect(draft.blocks).toEqual([
      { index: 0, type: "text", text: all.slice(0, all.indexOf("w100 ")) },
      { index: 1, type: "tool_use", id: "toolu_1", name: "Bash", partial_json: '{"command":"ls"}' },
    ]);
    expect(draft.blocks[0]!.text! + wsDeltas(wsFrames).map(deltaText).join("")).toBe(all);
    expect(wsIds(wsFrames)).toEqual([1, 2, 3]);

    const sseFrames = await resumed.frames.ended();
    expect(sseFrames[0]!.event).toBe("draft");
    const { type: _, ...data } = draft as DraftData & { type: string };
    expect(JSON.parse(sseFrames[0]!.data)).toEqual(data);
    expect(sseIds(sseFrames)).toEqual([2, 3]);
    expect(sseDeltas(sseFrames)).toHaveLength(100);
  });

  it("survives eviction mid-message: the draft continues from the run's stored row; no entry lost or repeated", async () => {
    const runId = newRunId("draft-evict");
    await appendOk(runId, [init, start("m1"), blockStart(0), ...Array.from({ length: 50 }, (_, i) => text(0, word(i)))]);
    const ws = await openWs(runId, 0);
    await ws.frames.until((f) => f.some((x) => x.type === "draft"));
    await evictDurableObject(stubOf(runId));
    await appendOk(runId, [...Array.from({ length: 50 }, (_, i) => text(0, word(50 + i))), { type: "system", subtype: "status" }]);
    await ws.frames.until((f) => wsIds(f).length === 2, "the entry after the eviction");
    await evictDurableObject(stubOf(runId));
    const late = await openSse(runId, { lastEventId: 2 });
    await late.frames.until((f) => f.some((x) => x.event === "draft"), "the draft after the eviction");
    await appendOk(runId, [text(0, "end"), assistant("m1", "final")]);
    await complete(runId);

    const all = Array.from({ length: 100 }, (_, i) => word(i)).join("");
    const wsFrames = await ws.frames.ended();
    expect(wsIds(wsFrames)).toEqual([1, 2, 3, 4]);
    const first = wsFrames.find((f) => f.type === "draft") as unknown as DraftData;
    expect(first.blocks[0]!.text + wsDeltas(wsFrames).map(deltaText).join("")).toBe(`${all}end`);
    const sseFrames = await late.frames.ended();
    expect(JSON.parse(sseFrames[0]!.data).blocks[0].text).toBe(all);
    expect(sseIds(sseFrames)).toEqual([3, 4]);
  });

  it("keeps the drafts a batch was published with as they were when a later batch is folded in", () => {
    const drafts = new Drafts(() => null);
    const deltas = (...lines: object[]) => ({ entries: [], steps: lines.map((l) => ({ at: 0, delta: JSON.stringify(l) })) });
    drafts.fold(deltas(start("msg_1"), blockStart(0), text(0, "a")), 0);
    const first = drafts.list(); // what the fan-out keeps with the first batch (src/run/publisher.ts)
    drafts.fold(deltas(text(0, "b")), 0);
    expect(first.map((d) => d.blocks.map((b) => b.text))).toEqual([["a"]]);
    expect(drafts.list().map((d) => d.blocks.map((b) => b.text))).toEqual([["ab"]]);
  });

  it("costs no row per delta: rows written per 1,000 deltas (printed)", async () => {
    const runId = newRunId("rows");
    await appendOk(runId, [init], producer(0));
    const before = (await info(runId)).rowsWritten;
    const batches = 25;
    let seq = 1;
    await appendOk(runId, [start("m1"), blockStart(0)], producer(seq++));
    for (let b = 0; b < batches; b++) await appendOk(runId, Array.from({ length: 40 }, (_, i) => text(0, word(b * 40 + i))), producer(seq++));
    await appendOk(runId, [assistant("m1", "done")], producer(seq++));
    const rows = (await info(runId)).rowsWritten - before;
    const sent = seq - 1;
    console.info(`rows written for 1,000 deltas in ${batches} batches (+2 framing batches, 1 durable line): ${rows}; a row per delta would be 1,000+`);
    expect(rows).toBe(1 + sent); // the durable line, and the run's row once per batch (its drafts, its producer's seq)
    expect(rows).toBeGreaterThan(0);
  });
});
