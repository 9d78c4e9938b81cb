/**
 * Bad input cannot break a run: JSON nested 100,000 levels, invalid UTF-8 and
 * unknown content blocks are each refused with a clear error, over HTTP and
 * over a WebSocket, store nothing, acknowledge nothing, and a runner's
 * long-poll still receives the next normal message.
 */
import { describe, expect, it } from "vitest";
import {
  append,
  appendOk,
  call,
  expectError,
  fetchWorker,
  info,
  newRunId,
  openWs,
  poll,
  postJson,
  readAll,
  runnerWaiting,
  sdkLine,
  SECRET,
  tokenFor,
  url,
  type WsClient,
} from "./support";

/** JSON text nested `levels` deep inside `{"deep": …}`. */
const nested = (levels: number) => `{"deep":${"[".repeat(levels)}${"]".repeat(levels)}}`;
/** A message body whose content block nests `levels` deep. */
const deepMessage = (levels: number) =>
  `{"message":{"role":"user","content":[{"type":"text","text":"x","deep":${"[".repeat(levels)}${"]".repeat(levels)}}]}}`;
const INVALID_UTF8 = new Uint8Array([...new TextEncoder().encode('{"message":"caf'), 0xc3, 0x28, ...new TextEncoder().encode('"}')]);
const BOGUS = { role: "user", content: [{ type: "text", text: "fine" }, { type: "bogus_block", data: 1 }] };

/**
 * While a runner's long-poll waits after input `after`, `refuse` sends bad
 * input; then a normal message is posted, and the poll must return exactly it.
 */
async function stillDelivered(runId: string, after: number, refuse: () => Promise<void>, send?: () => Promise<unknown>): Promise<number> {
  const pending = poll(runId, after, 30);
  await runnerWaiting(runId);
  await refuse();
  if (send) await send();
  else expect((await postJson(runId, "/messages", { message: `after ${after}` })).status).toBe(202);
  const reply = await pending;
  expect(reply.inputs).toHaveLength(1);
  expect(reply.inputs[0]).toMatchObject({ id: after + 1, kind: "message", message: { role: "user" } });
  return after + 1;
}

/** Waits for the next `error` or `ack` frame on a WebSocket. */
async function nextReply(ws: WsClient) {
  const seen = ws.frames.items.filter((f) => f.type === "error" || f.type === "ack").length;
  const frames = await ws.frames.until((f) => f.filter((x) => x.type === "error" || x.type === "ack").length > seen);
  return frames.filter((x) => x.type === "error" || x.type === "ack").at(-1)!;
}

describe("bad input over HTTP", () => {
  it("refuses each with a documented 4xx, stores and acknowledges nothing, and the next message still reaches a long-poll", async () => {
    const runId = newRunId("bad-http");
    await appendOk(runId, [sdkLine(1)]);
    let last = 0;

    // 100,000 levels: an NDJSON line and a token request (no size limit stops them first).
    last = await stillDelivered(runId, last, async () => {
      const res = await append(runId, `${JSON.stringify(sdkLine(2))}\n${nested(100_000)}\n`);
      expect(await expectError(res, 400, "too_deep")).toBe("line 2 nests deeper than 64 levels");
      const mint = await fetchWorker("http://relay.test/api/v1/tokens", {
        method: "POST",
        headers: { Authorization: `Bearer ${SECRET}`, "Content-Type": "application/json" },
        body: `{"runId":"x","scope":"read","ttlSeconds":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      });
      await expectError(mint, 400, "too_deep");
    });
    // A message body: 100,000 levels is over the size limit (413 first); 10,000 fits and is too deep.
    last = await stillDelivered(runId, last, async () => {
      await expectError(await postJson(runId, "/messages", deepMessage(100_000)), 413, "message_too_large");
      expect(await expectError(await postJson(runId, "/messages", deepMessage(10_000)), 400, "too_deep")).toBe(
        "the body nests deeper than 64 levels",
      );
      await expectError(await postJson(runId, "/interrupt", nested(10_000)), 400, "too_deep");
      await expectError(await postJson(runId, "/complete", nested(100_000)), 400, "too_deep");
      await expectError(await postJson(runId, "/inputs/undelivered", nested(100_000)), 400, "too_deep");
    });
    // 64 levels are fine.
    expect((await postJson(runId, "/messages", deepMessage(64 - 5))).status).toBe(202);
    expect((await poll(runId, last)).inputs.map((i) => i.id)).toEqual([last + 1]);
    last++;

    // Invalid UTF-8 is refused, not stored as U+FFFD.
    last = await stillDelivered(runId, last, async () => {
      await expectError(await postJson(runId, "/messages", INVALID_UTF8), 400, "invalid_utf8");
      await expectError(await postJson(runId, "/complete", new Uint8Array([0x7b, 0xff, 0x7d])), 400, "invalid_utf8");
    });

    // Unknown content blocks, named.
    last = await stillDelivered(runId, last, async () => {
      const message = await expectError(await postJson(runId, "/messages", { message: BOGUS }), 400, "bad_body");
      expect(message).toContain('"bogus_block"');
      expect(message).toContain("body.message.content.1");
      await expectError(await postJson(runId, "/messages", { message: { role: "user", content: [{ type: "text" }] } }), 400, "bad_body");
    });

    const log = await readAll(runId);
    expect(log[0]?.type).toBe("sdk");
    expect(new Set(log.slice(1).map((e) => `${e.type} ${e.data.kind}`))).toEqual(new Set(["input message", "input delivered"]));
    expect(log.filter((e) => e.data.kind === "message").map((e) => e.data.inputId)).toEqual([1, 2, 3, 4, 5]);
    expect(await info(runId)).toMatchObject({ status: "running", pendingInputs: 1 });
  });
});

describe("bad input over a WebSocket", () => {
  it("answers error frames (too_deep, invalid_utf8, bad_frame naming the type), queues nothing, and the next message still reaches a long-poll", async () => {
    const runId = newRunId("bad-ws");
    await appendOk(runId, [sdkLine(1)]);
    const ws = await openWs(runId, "live");
    const sendOk = async () => {
      ws.send({ type: "message", text: "fine" });
      expect(await nextReply(ws)).toMatchObject({ type: "ack" });
    };
    let last = 0;
    last = await stillDelivered(
      runId,
      last,
      async () => {
        ws.send(`{"type":"message","message":{"role":"user","content":[{"type":"text","text":"x","deep":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}}`);
        expect(await nextReply(ws)).toEqual({ type: "error", error: { code: "too_deep", message: "the frame nests deeper than 64 levels" } });
      },
      sendOk,
    );
    last = await stillDelivered(
      runId,
      last,
      async () => {
        ws.ws.send(new Uint8Array([...new TextEncoder().encode('{"type":"message","text":"caf'), 0xff, 0x22, 0x7d]));
        expect(await nextReply(ws)).toMatchObject({ type: "error", error: { code: "invalid_utf8" } });
      },
      sendOk,
    );
    last = await stillDelivered(
      runId,
      last,
      async () => {
        ws.send({ type: "message", message: BOGUS, clientId: "c" });
        const reply = await nextReply(ws);
        expect(reply).toMatchObject({ type: "error", error: { code: "bad_frame" } });
        expect(reply.type === "error" && reply.error.message).toContain('"bogus_block"');
      },
      sendOk,
    );
    expect(last).toBe(3);
    expect((await poll(runId, 3)).inputs).toEqual([]);
    expect((await readAll(runId)).filter((e) => e.data.kind === "message")).toHaveLength(3);
    expect((await info(runId)).pendingInputs).toBe(0);
  });
});

describe("?token= is taken on the stream routes only", () => {
  it("is ignored on POST /events, POST /messages, DELETE / and the rest: 401 without a header token, nothing changes", async () => {
    const runId = newRunId("query-token-only");
    await appendOk(runId, [sdkLine(1)]);
    const q = async (scope: "runner" | "write" | "admin" | "read") => `token=${await tokenFor(runId, scope)}`;
    const refused = [
      fetchWorker(url(runId, `/events?${await q("runner")}`), { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: '{"a":1}\n' }),
      fetchWorker(url(runId, `/messages?${await q("write")}`), { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' }),
      fetchWorker(url(runId, `?${await q("admin")}`), { method: "DELETE" }),
      fetchWorker(url(runId, `/?${await q("admin")}`), { method: "DELETE" }),
      fetchWorker(url(runId, `/events?${await q("read")}`)),
      fetchWorker(url(runId, `/inputs?wait=0&${await q("runner")}`)),
      fetchWorker(url(runId, `/heartbeat?${await q("runner")}`), { method: "POST" }),
    ];
    for (const res of await Promise.all(refused)) await expectError(res, 401, "unauthorized");
    expect(await info(runId)).toMatchObject({ status: "running", lastEventId: 1, pendingInputs: 0 });
    // The stream routes still take it.
    const sse = await fetchWorker(url(runId, `/stream?after=1&${await q("read")}`));
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
    const ws = await fetchWorker(url(runId, `/ws?${await q("read")}`), { headers: { Upgrade: "websocket" } });
    expect(ws.status).toBe(101);
    ws.webSocket!.accept();
    ws.webSocket!.close();
    expect((await call(runId, "/")).status).toBe(200);
  });
});
