/**
 * Streams end when their token expires: SSE with `event: token_expired`,
 * WebSockets with a `token_expired` error frame and close code 4401. A viewer
 * that renews its token and resumes from its last id gets exactly the rest.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLOSE_TOKEN_EXPIRED, SSE_TOKEN_EXPIRED_EVENT, TOKEN_EXPIRED_ERROR } from "../../src/protocol/index.ts";
import { subscribeRequest } from "../../src/run/subscribe.ts";
import { appendOk, complete, newRunId, openSse, openWs, range, sdkLine, sseIds, stubOf, tokenFor, wsIds } from "./support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);

describe("token expiry", () => {
  it("an SSE and a WebSocket viewer whose token expires get token_expired, then the end of the stream; resuming from the last id gets exactly the rest", async () => {
    const runId = newRunId("expiry");
    await appendOk(runId, lines(1, 3));
    const short = await tokenFor(runId, "read", 2); // expires within 2 s
    const sse = await openSse(runId, { after: `0&token=${short}` });
    const ws = await openWs(runId, 0, short);
    await sse.frames.until((f) => f.length === 3);
    await ws.frames.until((f) => wsIds(f).length === 3);
    // The object's alarm is set for the WebSocket's expiry, so it closes it even while idle.
    const alarm = await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => state.storage.getAlarm());
    expect(alarm).toBeLessThanOrEqual(Date.now() + 2000);

    // The Worker ends the SSE stream at the token's expiry: a last event without an id.
    const sseFrames = await sse.frames.ended();
    expect(sseIds(sseFrames)).toEqual([1, 2, 3]);
    expect(sseFrames.at(-1)).toEqual({ id: undefined, event: SSE_TOKEN_EXPIRED_EVENT, data: JSON.stringify(TOKEN_EXPIRED_ERROR) });
    expect(JSON.parse(sseFrames.at(-1)!.data)).toMatchObject({ code: "token_expired" });

    // The object's alarm closes the idle WebSocket at the same moment.
    expect(await ws.closeCode).toBe(CLOSE_TOKEN_EXPIRED);
    expect(ws.frames.items.at(-1)).toEqual({ type: "error", error: TOKEN_EXPIRED_ERROR });
    expect(wsIds(ws.frames.items)).toEqual([1, 2, 3]);

    // Meanwhile the run went on; both resume with a fresh token from their last id.
    await appendOk(runId, lines(4, 5));
    const fresh = await tokenFor(runId, "read");
    const sse2 = await openSse(runId, { after: `3&token=${fresh}` });
    const ws2 = await openWs(runId, 3, fresh);
    await complete(runId);
    expect(sseIds(await sse2.frames.ended())).toEqual([4, 5, 6]);
    expect(wsIds(await ws2.frames.ended())).toEqual([4, 5, 6]);
    expect(await ws2.closeCode).toBe(1000);
  });

  it("a WebSocket whose token has expired is sent token_expired instead of its next frame", async () => {
    const runId = newRunId("expired-send");
    await appendOk(runId, lines(1, 2));
    // Straight to the object, as the Worker would for a token that expired just after it was checked.
    const exp = Math.floor(Date.now() / 1000) - 1;
    const res = await stubOf(runId).fetch(subscribeRequest({ transport: "ws", after: 0, run: runId, scope: "read", exp }));
    const socket = res.webSocket!;
    const frames: unknown[] = [];
    const closed = new Promise<number>((resolve) => socket.addEventListener("close", (e) => resolve(e.code)));
    socket.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string));
    });
    socket.accept();
    expect(await closed).toBe(CLOSE_TOKEN_EXPIRED);
    expect(frames).toEqual([{ type: "error", error: TOKEN_EXPIRED_ERROR }]);
  });

  it("the relay secret (no exp) and a long token keep their streams", async () => {
    const runId = newRunId("no-expiry");
    await appendOk(runId, lines(1, 1));
    const ws = await openWs(runId, 0, await tokenFor(runId, "read", 30 * 24 * 3600));
    const admin = await openWs(runId, 0);
    await runDurableObjectAlarm(stubOf(runId));
    await appendOk(runId, lines(2, 2));
    await complete(runId);
    expect(wsIds(await ws.frames.ended())).toEqual([1, 2, 3]);
    expect(wsIds(await admin.frames.ended())).toEqual([1, 2, 3]);
  });
});
