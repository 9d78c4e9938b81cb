/** The input queue end to end: participants post, viewers see, a runner long-polls, against wrangler dev. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventSource } from "eventsource";
import { describe, expect, inject, it, vi } from "vitest";
import type { InputsReply, RunInfo, ServerFrame } from "../../src/protocol/index.ts";
import { Inbox, EVENTUALLY } from "../support/inbox";
import { startRelay } from "../support/wrangler";
import { ADMIN, RELAY_VARS, tokenFor } from "./auth";

const newRunId = (name: string) => `e2e-in-${name}-${crypto.randomUUID().slice(0, 8)}`;

function relay(base: string) {
  const url = (runId: string, path = "") => `${base}/api/v1/workflows/${runId}${path}`;
  return {
    url,
    post: (runId: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(url(runId, path), {
        method: "POST",
        headers: { ...ADMIN, ...(body !== undefined && { "Content-Type": "application/json" }), ...headers },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      }),
    poll: async (runId: string, after: number, wait = 0): Promise<InputsReply> => {
      const res = await fetch(url(runId, `/inputs?after=${after}&wait=${wait}`), { headers: ADMIN });
      expect(res.status).toBe(200);
      return (await res.json()) as InputsReply;
    },
    info: async (runId: string) => (await (await fetch(url(runId), { headers: ADMIN })).json()) as RunInfo,
  };
}

const contents = (r: InputsReply) => r.inputs.map((i) => (i.kind === "message" ? i.message?.content : i.kind));

describe("inputs end to end, against wrangler dev", () => {
  const r = () => relay(inject("relayUrl"));

  it("long-poll, queue order, acknowledgement, restart, idempotency, viewers, interrupt, wait and end", async () => {
    const { post, poll, info, url } = r();
    const runId = newRunId("flow");
    expect((await post(runId, "/interrupt")).status).toBe(202); // creates the run; input 1

    // Viewers: an EventSource and a WebSocket.
    const sseInputs = new Inbox<{ id: string; data: unknown }>();
    const es = new EventSource(url(runId, `/stream?token=${await tokenFor(runId, "read")}`));
    es.addEventListener("input", (e) => sseInputs.push({ id: e.lastEventId, data: JSON.parse(e.data) }));
    const wsFrames = new Inbox<ServerFrame>();
    const ws = new WebSocket(url(runId, `/ws?token=${await tokenFor(runId, "write")}`).replace(/^http/, "ws"));
    ws.addEventListener("message", (e) => wsFrames.push(JSON.parse(String(e.data))));
    ws.addEventListener("close", () => wsFrames.close());
    await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }));

    // 1. A long-poll waiting before the message is posted gets it.
    expect(contents(await poll(runId, 0))).toEqual(["interrupt"]);
    const pending = poll(runId, 1, 25);
    await vi.waitFor(async () => expect((await info(runId)).clients.runners).toBe(1), EVENTUALLY);
    const posted = await post(runId, "/messages", { message: "hello" }, { "Idempotency-Key": "same" });
    // Entry 2 is the `delivered` entry for input 1, acknowledged by that poll.
    expect(await posted.json()).toEqual({ id: 2, eventId: 3 });
    expect(contents(await pending)).toEqual(["hello"]);

    // 3. The same Idempotency-Key three more times: still input 2, one entry.
    for (let i = 0; i < 3; i++) {
      expect(await (await post(runId, "/messages", { message: "hello" }, { "Idempotency-Key": "same" })).json()).toEqual({ id: 2, eventId: 3 });
    }

    // 2. Messages posted while nobody polls come in order; acknowledged ones never again; a restart gets the rest.
    for (const m of ["a", "b", "c"]) expect((await post(runId, "/messages", { message: m })).status).toBe(202);
    expect(contents(await poll(runId, 1))).toEqual(["hello", "a", "b", "c"]);
    expect(contents(await poll(runId, 3))).toEqual(["b", "c"]);
    expect(contents(await poll(runId, 0))).toEqual(["b", "c"]);

    // 5. An interrupt frame from the WebSocket viewer reaches a long-polling runner.
    const waiting = poll(runId, 5, 25);
    await vi.waitFor(async () => expect((await info(runId)).clients.runners).toBe(1), EVENTUALLY);
    ws.send(JSON.stringify({ type: "interrupt", clientId: "ws-1" }));
    expect((await waiting).inputs).toMatchObject([{ id: 6, kind: "interrupt", clientId: "ws-1" }]);

    // 4. Both viewers saw every input entry, with the same ids.
    const wsInputIds = (f: ServerFrame[]) =>
      f.flatMap((x) => (x.type === "events" ? x.events.filter((e) => e.type === "input").map((e) => String(e.id)) : []));
    const seen = await wsFrames.until((f) => wsInputIds(f).length === 9, "9 input entries");
    const sse = await sseInputs.until((s) => s.length === 9, "9 input entries");
    expect(sse.map((s) => s.id)).toEqual(wsInputIds(seen));
    expect(sse.map((s) => (s.data as { kind: string }).kind)).toEqual([
      "interrupt", "delivered", "message", "message", "message", "message", "delivered", "delivered", "interrupt",
    ]);

    // 6. A wait runs out empty; completing the run wakes a waiting poll with ended.
    expect(await poll(runId, 6, 1)).toEqual({ inputs: [], ended: false, leaseSeconds: 90 });
    const last = poll(runId, 6, 25);
    await vi.waitFor(async () => expect((await info(runId)).clients.runners).toBe(1), EVENTUALLY);
    await post(runId, "/complete", { status: "completed" });
    expect(await last).toEqual({ inputs: [], ended: true, leaseSeconds: 90 });
    es.close();
    await wsFrames.ended();
  });

  it("an input survives a restart of the relay between posting and polling", async () => {
    const state = await mkdtemp(join(tmpdir(), "runrelay-restart-"));
    const runId = newRunId("restart");
    try {
      const first = await startRelay({ persistTo: state, vars: RELAY_VARS });
      expect((await relay(first.url).post(runId, "/messages", { message: "kept" })).status).toBe(202);
      await first.stop();
      const second = await startRelay({ persistTo: state, vars: RELAY_VARS });
      try {
        expect(contents(await relay(second.url).poll(runId, 0))).toEqual(["kept"]);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
