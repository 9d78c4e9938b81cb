/**
 * Bad input against a real `wrangler dev`: content nested 100,000 levels over
 * HTTP and over a WebSocket frame, invalid UTF-8 and an unknown content block
 * are each refused with a documented 4xx, nothing is stored or acknowledged,
 * and a long-polling runner still receives the next normal message; a token
 * in `?token=` opens no route but the streams. (The same cases, and more, run
 * inside workerd in test/worker/bad-input.test.ts.)
 */
import { describe, expect, inject, it } from "vitest";
import type { InputsReply, ServerFrame } from "../../src/protocol/index.ts";
import { Inbox, ndjson, sdkLine } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";

const runUrl = (runId: string, path = "") => `${inject("relayUrl")}/api/v1/workflows/${runId}${path}`;
const deep = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
const INVALID_UTF8 = new Uint8Array([...new TextEncoder().encode('{"message":"caf'), 0xc3, 0x28, ...new TextEncoder().encode('"}')]);

describe("bad input, end to end", () => {
  it("refuses each, over HTTP and WebSocket, changes nothing, and the next message still reaches a waiting runner", async () => {
    const runId = `bad-${crypto.randomUUID().slice(0, 8)}`;
    const [runner, write] = [await tokenFor(runId, "runner"), await tokenFor(runId, "write")];
    const json = (path: string, body: BodyInit, token = write, type = "application/json") =>
      fetch(runUrl(runId, path), { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": type }, body });
    expect((await json("/events", ndjson([sdkLine(1)]), runner, "application/x-ndjson")).status).toBe(200);

    // A runner waits in a long-poll while the bad input arrives.
    const poll = fetch(runUrl(runId, "/inputs?after=0&wait=20"), { headers: { Authorization: `Bearer ${runner}` } });
    const refusals: [number, string][] = [];
    const refused = async (res: Response) => refusals.push([res.status, ((await res.json()) as { error: { code: string } }).error.code]);
    // (100,000 levels would pass the 64 KiB message limit first: 413; 100 is enough to be too deep.)
    await refused(await json("/messages", `{"message":{"role":"user","content":[{"type":"text","text":"x","deep":${deep(100)}}]}}`));
    await refused(await json("/complete", `{"status":"completed","deep":${deep(100_000)}}`, runner));
    await refused(await json("/messages", INVALID_UTF8));
    await refused(await json("/messages", JSON.stringify({ message: { role: "user", content: [{ type: "bogus_block" }] } })));
    await refused(await json("/events", `{"type":"assistant","deep":${deep(100_000)}}\n`, runner, "application/x-ndjson"));
    expect(refusals).toEqual([
      [400, "too_deep"],
      [400, "too_deep"],
      [400, "invalid_utf8"],
      [400, "bad_body"],
      [400, "too_deep"],
    ]);

    const ws = new WebSocket(runUrl(runId, `/ws?after=1&token=${write}`).replace(/^http/, "ws"));
    const frames = new Inbox<ServerFrame>();
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data)) as ServerFrame));
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.send(`{"type":"message","message":{"role":"user","content":[{"type":"text","text":"x","deep":${deep(100_000)}}]}}`);
    const [error] = await frames.until((f) => f.some((x) => x.type === "error"));
    expect(error).toMatchObject({ type: "error", error: { code: "too_deep" } });

    // Nothing was stored or queued; the next message reaches the waiting runner.
    expect((await json("/messages", '{"message":"still here"}')).status).toBe(202);
    const reply = (await (await poll).json()) as InputsReply;
    expect(reply.inputs.map((i) => [i.id, i.message?.content])).toEqual([[1, "still here"]]);
    const info = await (await fetch(runUrl(runId), { headers: ADMIN })).json();
    expect(info).toMatchObject({ status: "running", lastEventId: 2, pendingInputs: 1 });
    ws.close();
  });

  it("takes ?token= on the streams only: POST /events, POST /messages and DELETE / with a token in the URL are 401", async () => {
    const runId = `qtok-${crypto.randomUUID().slice(0, 8)}`;
    const admin = await tokenFor(runId, "admin");
    expect((await fetch(runUrl(runId, "/events"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/x-ndjson" }, body: ndjson([sdkLine(1)]) })).status).toBe(200);
    const codes = [];
    codes.push((await fetch(runUrl(runId, `/events?token=${admin}`), { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: ndjson([sdkLine(2)]) })).status);
    codes.push((await fetch(runUrl(runId, `/messages?token=${admin}`), { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' })).status);
    codes.push((await fetch(runUrl(runId, `?token=${admin}`), { method: "DELETE" })).status);
    expect(codes).toEqual([401, 401, 401]);
    expect(await (await fetch(runUrl(runId), { headers: ADMIN })).json()).toMatchObject({ lastEventId: 1, pendingInputs: 0 });
  });
});
