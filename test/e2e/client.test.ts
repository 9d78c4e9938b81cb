/**
 * The client library against a real `wrangler dev`, through a proxy that cuts
 * every connection mid-burst: each transport must hand out every id exactly
 * once, in order, resuming by itself.
 */
import { EventSource } from "eventsource";
import { describe, expect, inject, it } from "vitest";
import { connect, type ClientEntry, type ConnectionState } from "../../src/client/index.ts";
import { ndjson, range, sdkLine } from "../support/inbox";
import { startProxy } from "../support/proxy";
import { ADMIN, tokenFor } from "./auth";

const newRunId = (name: string) => `e2e-client-${name}-${crypto.randomUUID().slice(0, 8)}`;
const runUrl = (runId: string, path: string) => `${inject("relayUrl")}/api/v1/workflows/${runId}${path}`;

async function append(runId: string, from: number, to: number) {
  const res = await fetch(runUrl(runId, "/events"), {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/x-ndjson" },
    body: ndjson(range(from, to).map(sdkLine)),
  });
  expect(res.status).toBe(200);
}

describe.each(["sse", "ws"] as const)("connect() over %s", (transport) => {
  it("after a forced drop in the middle of a burst, the consumer receives every id exactly once, in order", async () => {
    const runId = newRunId(transport);
    const proxy = await startProxy(inject("relayUrl"));
    try {
      await append(runId, 1, 5);
      const run = connect({
        url: proxy.url,
        runId,
        token: await tokenFor(runId, "read"),
        transport,
        EventSource: EventSource as unknown as typeof globalThis.EventSource,
        retry: { baseMs: 50, maxMs: 500 },
      });
      const states: ConnectionState[] = [];
      run.on("state", (s) => states.push(s));
      const received: ClientEntry[] = [];
      const consumed = (async () => {
        for await (const entry of run) received.push(entry);
      })();

      for (let batch = 0; batch < 30; batch++) {
        await append(runId, 6 + batch * 10, 15 + batch * 10);
        if (batch === 10) proxy.cut(); // the network drops, mid-burst
      }
      const done = await fetch(runUrl(runId, "/complete"), {
        method: "POST",
        headers: { ...ADMIN, "Content-Type": "application/json" },
        body: '{"status":"completed"}',
      });
      expect(done.status).toBe(200);
      await consumed;

      expect(received.map((e) => e.id)).toEqual(range(1, 306));
      expect(received.slice(0, 305).map((e) => e.data)).toEqual(range(1, 305).map(sdkLine));
      expect(received.at(-1)).toMatchObject({ id: 306, type: "status", data: { status: "completed" } });
      expect(states).toContain("reconnecting");
      expect(states.at(-1)).toBe("ended");
      expect(run.lastEventId).toBe(306);
    } finally {
      await proxy.stop();
    }
  });
});

it("send() and interrupt() reach the run's queue, and the entries come back to every viewer", async () => {
  const runId = newRunId("send");
  await append(runId, 1, 1);
  const token = await tokenFor(runId, "write");
  const run = connect({ url: inject("relayUrl"), runId, token, transport: "ws" });
  const seen: ClientEntry[] = [];
  const gotBoth = new Promise<void>((resolve) =>
    run.on("entry", (e) => {
      seen.push(e);
      if (seen.filter((x) => x.type === "input").length === 2) resolve();
    }),
  );
  expect(await run.send("hello from the client", { clientId: "tab-1", idempotencyKey: "k1" })).toEqual({ id: 1, eventId: 2 });
  expect(await run.send("hello from the client", { clientId: "tab-1", idempotencyKey: "k1" })).toEqual({ id: 1, eventId: 2 });
  expect(await run.interrupt()).toEqual({ id: 2, eventId: 3 });
  await gotBoth;
  expect(seen.map((e) => [e.id, e.type, e.data.kind])).toEqual([
    [1, "sdk", undefined],
    [2, "input", "message"],
    [3, "input", "interrupt"],
  ]);
  const readOnly = connect({ url: inject("relayUrl"), runId, token: await tokenFor(runId, "read"), transport: "sse", EventSource: EventSource as never });
  await expect(readOnly.send("nope")).rejects.toMatchObject({ status: 403, code: "forbidden" });
  readOnly.close();
  run.close();
  expect(run.state).toBe("closed");
});

describe("connect() when the relay refuses", () => {
  it.each(["sse", "ws"] as const)("%s: a bad token ends in state failed with the relay's error, and the iterator ends", async (transport) => {
    const runId = newRunId(`refused-${transport}`);
    await append(runId, 1, 1);
    const run = connect({ url: inject("relayUrl"), runId, token: "not-a-token", transport, EventSource: EventSource as never, retry: { baseMs: 20, maxMs: 100 } });
    const errors: { status: number; code: string }[] = [];
    run.on("error", (e) => errors.push(e as never));
    const received: ClientEntry[] = [];
    for await (const entry of run) received.push(entry);
    expect(received).toEqual([]);
    expect(run.state).toBe("failed");
    expect(errors).toMatchObject([{ status: 401, code: "invalid_token" }]);
  });

  it("ws: a run deleted under a viewer ends it as failed (close code 4410), without reconnecting", async () => {
    const runId = newRunId("deleted");
    await append(runId, 1, 2);
    const run = connect({ url: inject("relayUrl"), runId, token: await tokenFor(runId, "read"), transport: "ws" });
    const entries: number[] = [];
    const iterated = (async () => {
      for await (const e of run) {
        entries.push(e.id);
        if (e.id === 2) expect((await fetch(runUrl(runId, ""), { method: "DELETE", headers: ADMIN })).status).toBe(204);
      }
    })();
    await iterated;
    expect(entries).toEqual([1, 2]);
    expect(run.state).toBe("failed");
  });

  it("two iterators each get every entry", async () => {
    const runId = newRunId("two-iterators");
    await append(runId, 1, 3);
    const run = connect({ url: inject("relayUrl"), runId, token: await tokenFor(runId, "read"), transport: "ws" });
    const take = async () => {
      const ids: number[] = [];
      for await (const e of run) ids.push(e.id);
      return ids;
    };
    const [a, b] = [take(), take()];
    await append(runId, 4, 5);
    await fetch(runUrl(runId, "/complete"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/json" }, body: '{"status":"completed"}' });
    expect(await a).toEqual(range(1, 6));
    expect(await b).toEqual(range(1, 6));
  });
});
