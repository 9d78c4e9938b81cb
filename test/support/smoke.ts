/**
 * The relay's end-to-end smoke test, against any base URL (a relay served at
 * the root, or mounted under a prefix in another Worker): a runner appends as
 * a producer, an SSE viewer and a WebSocket viewer follow live, a message
 * arrives by WebSocket frame and by POST, the runner long-polls both, the run
 * completes, and every client sees exactly the ids it should, then the end.
 */
import { EventSource } from "eventsource";
import { expect } from "vitest";
import type { InputsReply, Scope, ServerFrame } from "../../src/protocol/index.ts";
import { Inbox, ndjson, range, sdkLine } from "./inbox";

export type Mint = (runId: string, scope: Scope) => Promise<string>;

export async function smoke(base: string, mint: Mint): Promise<void> {
  const runId = `smoke-${crypto.randomUUID().slice(0, 8)}`;
  const runUrl = (path = "") => `${base}/api/v1/workflows/${runId}${path}`;
  const [runner, read, write] = await Promise.all([mint(runId, "runner"), mint(runId, "read"), mint(runId, "write")]);
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const append = async (seq: number, from: number, to: number) => {
    const res = await fetch(runUrl("/events"), {
      method: "POST",
      headers: { ...auth(runner), "Content-Type": "application/x-ndjson", "Producer-Id": "smoke", "Producer-Epoch": "0", "Producer-Seq": String(seq) },
      body: ndjson(range(from, to).map(sdkLine)),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ lastEventId: to });
  };

  await append(0, 1, 3);

  const sse = new Inbox<{ event: string; id: string; data: string }>();
  const es = new EventSource(runUrl(`/stream?token=${read}`));
  for (const event of ["message", "input", "status", "end"]) {
    es.addEventListener(event, (e: MessageEvent) => sse.push({ event, id: e.lastEventId, data: e.data }));
  }
  const ws = new WebSocket(`${runUrl(`/ws?after=0&token=${write}`).replace(/^http/, "ws")}`);
  const frames = new Inbox<ServerFrame>();
  ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data)) as ServerFrame));
  ws.addEventListener("close", () => frames.close());
  const wsIds = () => frames.items.flatMap((f) => (f.type === "events" ? f.events.map((e) => e.id) : []));

  await sse.until((s) => s.length === 3, "the replay over SSE");
  await frames.until(() => wsIds().length === 3, "the replay over WebSocket");
  ws.send(JSON.stringify({ type: "message", text: "from a socket", clientId: "c1" }));
  await frames.until((f) => f.some((x) => x.type === "ack"), "the ack");
  const posted = await fetch(runUrl("/messages"), { method: "POST", headers: { ...auth(write), "Content-Type": "application/json" }, body: '{"message":"from a POST"}' });
  expect(posted.status).toBe(202);
  expect(await posted.json()).toEqual({ id: 2, eventId: 5 });

  const poll = await fetch(runUrl("/inputs?after=0&wait=0"), { headers: auth(runner) });
  expect(poll.status).toBe(200);
  const { inputs } = (await poll.json()) as InputsReply;
  expect(inputs.map((i) => [i.id, i.kind, i.message?.content])).toEqual([[1, "message", "from a socket"], [2, "message", "from a POST"]]);

  await append(1, 6, 7);
  const done = await fetch(runUrl("/complete"), { method: "POST", headers: { ...auth(runner), "Content-Type": "application/json" }, body: '{"status":"completed"}' });
  expect(done.status).toBe(200);
  // The inputs were handed out but never acknowledged: the end logs them undelivered (8), then the status (9).
  expect(await done.json()).toEqual({ lastEventId: 9 });

  await sse.until((s) => s.at(-1)?.event === "end", "the end over SSE");
  es.close();
  await frames.until((f) => f.at(-1)?.type === "end", "the end over WebSocket");
  expect(sse.items.map((s) => `${s.event}:${s.id}`)).toEqual([
    "message:1", "message:2", "message:3", "input:4", "input:5", "message:6", "message:7", "input:8", "status:9", "end:9",
  ]);
  expect(JSON.parse(sse.items.at(-3)!.data)).toEqual({ kind: "undelivered", inputIds: [1, 2], reason: "run_ended" });
  expect(JSON.parse(sse.items.at(-1)!.data)).toEqual({ status: "completed", lastEventId: 9 });
  expect(wsIds()).toEqual(range(1, 9));
  expect(frames.items.at(-1)).toEqual({ type: "end", status: "completed", lastEventId: 9 });

  const info = await fetch(runUrl(), { headers: auth(read) });
  expect(await info.json()).toMatchObject({ runId, status: "completed", lastEventId: 9, events: 9, pendingInputs: 0 });
}
