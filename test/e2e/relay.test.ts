/**
 * The relay under a real `wrangler dev`, read by real clients: the `eventsource`
 * package (a WhatWG EventSource, reconnecting on its own) and Node's WebSocket.
 */
import { EventSource } from "eventsource";
import { describe, expect, inject, it } from "vitest";
import type { ServerFrame } from "../../src/protocol/index.ts";
import { Inbox, ndjson, range, sdkLine } from "../support/inbox";
import { smoke } from "../support/smoke";
import { ADMIN, tokenFor } from "./auth";

const base = () => `${inject("relayUrl")}/api/v1/workflows`;
const runUrl = (runId: string, path = "") => `${base()}/${runId}${path}`;
const newRunId = (name: string) => `e2e-${name}-${crypto.randomUUID().slice(0, 8)}`;
const lines = (from: number, to: number) => range(from, to).map(sdkLine);

async function append(runId: string, from: number, to: number) {
  const res = await fetch(runUrl(runId, "/events"), {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/x-ndjson" },
    body: ndjson(lines(from, to)),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ lastEventId: to });
}

async function complete(runId: string) {
  const res = await fetch(runUrl(runId, "/complete"), {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/json" },
    body: JSON.stringify({ status: "completed", reason: "e2e" }),
  });
  expect(res.status).toBe(200);
}

type Seen = { kind: "message" | "status" | "end" | "closed"; id: string; data: string };

/** An EventSource whose events land in an inbox, in the order the client saw them. */
function watch(url: string) {
  const seen = new Inbox<Seen>();
  const es = new EventSource(url);
  const note = (kind: Seen["kind"]) => (e: MessageEvent) => seen.push({ kind, id: e.lastEventId, data: e.data });
  es.addEventListener("message", note("message"));
  es.addEventListener("status", note("status"));
  es.addEventListener("end", note("end"));
  es.addEventListener("error", () => {
    if (es.readyState === EventSource.CLOSED) seen.push({ kind: "closed", id: "", data: "" });
  });
  return { es, seen };
}

describe("end to end, against wrangler dev", () => {
  it("EventSource: replay after a cursor, live lines, status, end, and a reconnect that gets 204", async () => {
    const runId = newRunId("sse");
    await append(runId, 1, 10);
    const { es, seen } = watch(runUrl(runId, `/stream?after=4&token=${await tokenFor(runId, "read")}`));
    await seen.until((s) => s.length === 6, "the replay");
    await append(runId, 11, 15);
    await seen.until((s) => s.length === 11, "the live lines");
    await complete(runId);
    // After `end` the server closes; EventSource reconnects with Last-Event-ID 16, gets 204, and stops for good.
    await seen.until((s) => s.at(-1)?.kind === "closed", "the final close");
    es.close();

    const messages = seen.items.filter((s) => s.kind === "message");
    expect(messages.map((m) => Number(m.id))).toEqual(range(5, 15));
    expect(messages.map((m) => JSON.parse(m.data))).toEqual(lines(5, 15));
    expect(seen.items.slice(11).map((s) => s.kind)).toEqual(["status", "end", "closed"]);
    expect(seen.items[11]).toMatchObject({ id: "16" });
    expect(JSON.parse(seen.items[11]!.data)).toEqual({ status: "completed", reason: "e2e" });
    expect(JSON.parse(seen.items[12]!.data)).toEqual({ status: "completed", lastEventId: 16 });

    const after = await fetch(runUrl(runId, "/stream"), { headers: { ...ADMIN, "Last-Event-ID": "16" } });
    expect(after.status).toBe(204);
    const status = await (await fetch(runUrl(runId), { headers: ADMIN })).json();
    expect(status).toMatchObject({ runId, status: "completed", reason: "e2e", lastEventId: 16, events: 16 });
  });

  it("EventSource with ?after=live gets only new lines", async () => {
    const runId = newRunId("live");
    await append(runId, 1, 3);
    const { es, seen } = watch(runUrl(runId, `/stream?after=live&token=${await tokenFor(runId, "read")}`));
    await new Promise((resolve) => es.addEventListener("open", resolve, { once: true }));
    await append(runId, 4, 5);
    await complete(runId);
    await seen.until((s) => s.at(-1)?.kind === "closed");
    es.close();
    expect(seen.items.map((s) => [s.kind, s.id])).toEqual([
      ["message", "4"],
      ["message", "5"],
      ["status", "6"],
      ["end", "6"],
      ["closed", ""],
    ]);
  });

  it("WebSocket: replay, live batches, end frame, close 1000", async () => {
    const runId = newRunId("ws");
    await append(runId, 1, 6);
    const frames = new Inbox<ServerFrame>();
    const ws = new WebSocket(runUrl(runId, `/ws?after=2&token=${await tokenFor(runId, "read")}`).replace(/^http/, "ws"));
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
    ws.addEventListener("close", () => frames.close());
    const ids = (f: ServerFrame[]) => f.flatMap((x) => (x.type === "events" ? x.events.map((e) => e.id) : []));
    await frames.until((f) => ids(f).length === 4, "the replay");
    ws.send('{"type":"ping"}');
    await frames.until((f) => f.some((x) => x.type === "pong"), "pong");
    await append(runId, 7, 9);
    await frames.until((f) => ids(f).length === 7, "the live batch");
    await complete(runId);
    expect(await closed).toBe(1000);
    const all = await frames.ended();
    expect(ids(all)).toEqual(range(3, 10));
    const liveBatch = all.find((x) => x.type === "events" && x.events[0]?.id === 7);
    expect(liveBatch?.type === "events" && liveBatch.events.map((e) => e.id)).toEqual([7, 8, 9]);
    expect(all.at(-1)).toEqual({ type: "end", status: "completed", lastEventId: 10 });
  });
});

describe("the smoke test", () => {
  it("a runner, an SSE viewer and a WebSocket viewer through a whole run, against the relay at the root", () => smoke(inject("relayUrl"), tokenFor));
});
