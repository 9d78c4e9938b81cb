import { evictDurableObject } from "cloudflare:test";
import { EVENTUALLY } from "../support/inbox";
import { describe, expect, it, vi } from "vitest";
import type { InputsReply } from "../../src/protocol/index.ts";
import {
  appendOk,
  call,
  complete,
  expectError,
  info,
  newRunId,
  openSse,
  openWs,
  readAll,
  sdkLine,
  sseIds,
  stubOf,
  wsIds,
} from "./support";

function post(runId: string, path: "/messages" | "/interrupt", body?: unknown, headers: Record<string, string> = {}) {
  return call(runId, path, {
    method: "POST",
    headers: { ...(body !== undefined && { "Content-Type": "application/json" }), ...headers },
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

async function message(runId: string, text: string, headers?: Record<string, string>) {
  const res = await post(runId, "/messages", { message: text }, headers);
  expect(res.status).toBe(202);
  return (await res.json()) as { id: number; eventId: number };
}

async function poll(runId: string, after: number, wait = 0): Promise<InputsReply> {
  const res = await call(runId, `/inputs?after=${after}&wait=${wait}`);
  if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Resolves once a runner's long-poll is waiting in the run's object. */
const runnerWaiting = (runId: string, n = 1) => vi.waitFor(async () => expect((await info(runId)).clients.runners).toBe(n), EVENTUALLY);

const text = (r: InputsReply) => r.inputs.map((i) => (i.kind === "message" ? i.message?.content : i.kind));

describe("the input queue", () => {
  it("a long-poll waiting before a message is posted returns that message, before its wait runs out", async () => {
    const runId = newRunId("poll-first");
    await appendOk(runId, [sdkLine(1)]);
    const pending = poll(runId, 0, 30);
    await runnerWaiting(runId);
    const posted = await message(runId, "hello agent");
    const reply = await pending;
    expect(reply).toEqual({
      ended: false,
      leaseSeconds: 90,
      inputs: [{ id: 1, kind: "message", message: { role: "user", content: "hello agent" }, uuid: expect.any(String), createdAt: expect.any(Number), eventId: 2 }],
    });
    expect(posted).toEqual({ id: 1, eventId: 2 });
    expect((await info(runId)).clients.runners).toBe(0);
  });

  it("returns queued messages in order; acknowledged ones never again; a restarted runner gets the unacknowledged ones", async () => {
    const runId = newRunId("queue");
    for (const t of ["one", "two", "three"]) await message(runId, t);
    expect(text(await poll(runId, 0))).toEqual(["one", "two", "three"]);
    expect((await info(runId)).pendingInputs).toBe(3);

    // The runner injected 1 and 2, and acknowledges them by polling after 2.
    expect(text(await poll(runId, 2))).toEqual(["three"]);
    expect((await info(runId)).pendingInputs).toBe(1);
    // A runner restarted with an older cursor gets only what was not acknowledged.
    expect(text(await poll(runId, 0))).toEqual(["three"]);
    expect(text(await poll(runId, 1))).toEqual(["three"]);
    expect(await poll(runId, 3)).toEqual({ inputs: [], ended: false, leaseSeconds: 90 });
    expect(await poll(runId, 0)).toEqual({ inputs: [], ended: false, leaseSeconds: 90 });
    expect((await info(runId)).pendingInputs).toBe(0);

    // Viewers saw each message, then each acknowledgement.
    const log = await readAll(runId);
    expect(log.map((e) => [e.id, e.type, e.data])).toEqual([
      [1, "input", { kind: "message", inputId: 1, message: { role: "user", content: "one" }, uuid: expect.any(String) }],
      [2, "input", { kind: "message", inputId: 2, message: { role: "user", content: "two" }, uuid: expect.any(String) }],
      [3, "input", { kind: "message", inputId: 3, message: { role: "user", content: "three" }, uuid: expect.any(String) }],
      [4, "input", { kind: "delivered", inputIds: [1, 2] }],
      [5, "input", { kind: "delivered", inputIds: [3] }],
    ]);
  });

  it("an Idempotency-Key retried 3 times stores one input and one log entry", async () => {
    const runId = newRunId("idempotent");
    const first = await message(runId, "only once", { "Idempotency-Key": "k-1" });
    for (let i = 0; i < 3; i++) expect(await message(runId, "only once", { "Idempotency-Key": "k-1" })).toEqual(first);
    const other = await message(runId, "another", { "Idempotency-Key": "k-2" });
    expect(other).toEqual({ id: 2, eventId: 2 });
    expect((await poll(runId, 0)).inputs.map((i) => i.id)).toEqual([1, 2]);
    expect((await readAll(runId)).map((e) => e.id)).toEqual([1, 2]);
  });

  it("an SSE viewer and a WebSocket viewer both see a message posted by a third client, with the same id", async () => {
    const runId = newRunId("viewers");
    await appendOk(runId, [sdkLine(1)]);
    const sse = await openSse(runId);
    const ws = await openWs(runId);
    const sdkContent = [{ type: "text", text: "look at this" }];
    const res = await post(runId, "/messages", { message: { role: "user", content: sdkContent }, clientId: "phone" });
    expect(await res.json()).toEqual({ id: 1, eventId: 2 });
    const sseFrames = await sse.frames.until((f) => f.length === 2);
    const wsFrames = await ws.frames.until((f) => wsIds(f).length === 2);
    expect(sseFrames[1]).toMatchObject({ id: "2", event: "input" });
    const data = { kind: "message", inputId: 1, message: { role: "user", content: sdkContent }, uuid: expect.any(String), clientId: "phone" };
    expect(JSON.parse(sseFrames[1]!.data)).toEqual(data);
    expect(wsFrames.at(-1)).toMatchObject({ type: "events", events: [{ id: 2, type: "input", data }] });
    await sse.cancel();
  });

  it("a message or interrupt frame from a WebSocket viewer reaches a long-polling runner, and is acknowledged", async () => {
    const runId = newRunId("ws-input");
    await appendOk(runId, [sdkLine(1)]);
    const ws = await openWs(runId, "live");
    const pending = poll(runId, 0, 30);
    await runnerWaiting(runId);
    ws.send({ type: "interrupt", clientId: "c-1" });
    expect(await pending).toMatchObject({ ended: false, inputs: [{ id: 1, kind: "interrupt", clientId: "c-1", eventId: 2 }] });
    ws.send({ type: "message", text: "carry on", clientId: "c-2" });
    ws.send({ type: "message", message: { role: "user", content: "and this" } });
    ws.send({ type: "message", text: "" });
    ws.send({ type: "shout" });
    await ws.frames.until((f) => f.filter((x) => x.type === "ack" || x.type === "error").length === 5);
    const replies = ws.frames.items.filter((x) => x.type === "ack" || x.type === "error");
    expect(replies.slice(0, 3)).toEqual([
      { type: "ack", id: 1, eventId: 2, clientId: "c-1" },
      { type: "ack", id: 2, eventId: 3, clientId: "c-2" },
      { type: "ack", id: 3, eventId: 4 },
    ]);
    expect(replies.slice(3).map((r) => r.type === "error" && r.error.code)).toEqual(["bad_frame", "bad_frame"]);
    expect(text(await poll(runId, 1))).toEqual(["carry on", "and this"]);
  });

  it("a long-poll's wait runs out with an empty list; completing the run wakes a waiting one with ended", async () => {
    const runId = newRunId("poll-end");
    await appendOk(runId, [sdkLine(1)]);
    expect(await poll(runId, 0, 1)).toEqual({ inputs: [], ended: false, leaseSeconds: 90 });
    const pending = poll(runId, 0, 30);
    await runnerWaiting(runId);
    await complete(runId);
    expect(await pending).toEqual({ inputs: [], ended: true, leaseSeconds: 90 });
    expect(await poll(runId, 0, 30)).toEqual({ inputs: [], ended: true, leaseSeconds: 90 });
    await expectError(await post(runId, "/messages", { message: "too late" }), 409, "run_ended");
    await expectError(await post(runId, "/interrupt"), 409, "run_ended");
  });

  it("keeps an input across an eviction between posting and polling", async () => {
    const runId = newRunId("evict-input");
    await message(runId, "survive");
    await evictDurableObject(stubOf(runId));
    expect(text(await poll(runId, 0))).toEqual(["survive"]);
  });

  it("interrupt takes an empty body or a clientId, and logs an input entry", async () => {
    const runId = newRunId("interrupt");
    expect(await (await post(runId, "/interrupt")).json()).toEqual({ id: 1, eventId: 1 });
    expect(await (await post(runId, "/interrupt", { clientId: "web" })).json()).toEqual({ id: 2, eventId: 2 });
    expect((await poll(runId, 0)).inputs.map((i) => [i.kind, i.clientId])).toEqual([
      ["interrupt", undefined],
      ["interrupt", "web"],
    ]);
    expect((await readAll(runId)).map((e) => e.data)).toEqual([
      { kind: "interrupt", inputId: 1 },
      { kind: "interrupt", inputId: 2, clientId: "web" },
    ]);
  });
});

describe("the input queue refuses bad input and stores nothing", () => {
  it("bad bodies, sizes, keys, cursors and waits", async () => {
    const runId = newRunId("inputs-bad");
    await appendOk(runId, [sdkLine(1)]);
    await expectError(await post(runId, "/messages", { message: "" }), 400, "bad_body");
    await expectError(await post(runId, "/messages", { text: "hi" }), 400, "bad_body");
    await expectError(await post(runId, "/messages", { message: { role: "assistant", content: "hi" } }), 400, "bad_body");
    await expectError(await post(runId, "/messages", { message: { role: "user", content: [] } }), 400, "bad_body");
    await expectError(await post(runId, "/messages", "{nope"), 400, "invalid_json");
    await expectError(await post(runId, "/messages", { message: "hi" }, { "Content-Type": "text/html" }), 415, "unsupported_media_type");
    await expectError(await post(runId, "/messages", "{nope", { "Content-Type": "text/plain" }), 400, "invalid_json");
    await expectError(await post(runId, "/messages", { message: "hi" }, { "Idempotency-Key": "k".repeat(257) }), 400, "bad_idempotency_key");
    await expectError(await post(runId, "/messages", { message: "x".repeat(64 * 1024) }), 413, "message_too_large");
    await expectError(await post(runId, "/messages", { message: "x".repeat(200 * 1024) }), 413, "message_too_large");
    await expectError(await post(runId, "/interrupt", { force: true }), 400, "bad_body");
    await expectError(await call(runId, "/inputs?after=1"), 400, "cursor_out_of_range");
    await expectError(await call(runId, "/inputs?wait=31"), 400, "bad_wait");
    await expectError(await call(runId, "/inputs?wait=-1"), 400, "bad_wait");
    await expectError(await call(runId, "/inputs?after=x"), 400, "bad_after");
    expect((await readAll(runId)).map((e) => e.id)).toEqual([1]);
    expect((await info(runId)).pendingInputs).toBe(0);
  });

  it("takes a JSON body sent as text/plain on /messages and /interrupt (fetch's default), with or without a charset", async () => {
    const runId = newRunId("inputs-text-plain");
    const plain = { "Content-Type": "text/plain;charset=UTF-8" };
    expect((await post(runId, "/messages", { message: "from fetch" }, plain)).status).toBe(202);
    expect((await post(runId, "/messages", { message: "no charset" }, { "Content-Type": "text/plain" })).status).toBe(202);
    expect((await post(runId, "/interrupt", { clientId: "tab" }, plain)).status).toBe(202);
    expect((await poll(runId, 0)).inputs.map((i) => i.kind)).toEqual(["message", "message", "interrupt"]);
    // Other routes keep their media types.
    await expectError(await call(runId, "/complete", { method: "POST", headers: plain, body: '{"status":"completed"}' }), 415, "unsupported_media_type");
  });

  it("refuses more than 1,000 inputs waiting for the runner with 429", async () => {
    const runId = newRunId("inputs-full");
    // 1,000 posts, 100 at a time (the object takes them one by one either way; fewer round trips in a row).
    for (let i = 0; i < 10; i++) {
      const statuses = await Promise.all(Array.from({ length: 100 }, () => post(runId, "/interrupt").then((r) => r.status)));
      expect(statuses.every((s) => s === 202)).toBe(true);
    }
    await expectError(await post(runId, "/messages", { message: "one too many" }), 429, "too_many_inputs");
    expect((await info(runId)).pendingInputs).toBe(1000);
    // Once the runner acknowledges some, there is room again.
    expect((await poll(runId, 10)).inputs).toHaveLength(990);
    expect((await post(runId, "/messages", { message: "room now" })).status).toBe(202);
  });
});

it("sseIds and the input entries agree for a viewer that joins later", async () => {
  const runId = newRunId("late-viewer");
  await message(runId, "first");
  await poll(runId, 1);
  const sse = await openSse(runId);
  await complete(runId);
  const frames = await sse.frames.ended();
  expect(sseIds(frames)).toEqual([1, 2, 3]);
  expect(frames.map((f) => f.event)).toEqual(["input", "input", "status", "end"]);
});
