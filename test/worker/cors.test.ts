/**
 * CORS headers on every kind of response the API gives, exactly as hono's
 * `cors()` sets them (src/worker/app.ts sets them once on the final response;
 * preflights are still hono's): JSON, empty, error, not-found, SSE and
 * WebSocket upgrade responses alike.
 */
import { describe, expect, it } from "vitest";
import { append, appendOk, call, fetchWorker, newRunId, sdkLine, url } from "./support";

const ALLOWED = "https://app.example.com"; // vitest.config.ts: ALLOWED_ORIGINS
const EXPOSED = "Stream-Next-Offset,Producer-Epoch,Producer-Seq,Producer-Expected-Seq,Producer-Received-Seq";

function expectCors(res: Response, origin: string | null) {
  expect(res.headers.get("Access-Control-Allow-Origin")).toBe(origin);
  expect(res.headers.get("Access-Control-Expose-Headers")).toBe(EXPOSED);
  expect(res.headers.get("Vary")).toBe("Origin");
}

describe("CORS on every response", () => {
  it("JSON, 204, errors, 404s, SSE and WebSocket upgrades carry the same headers; a foreign origin gets no Allow-Origin", async () => {
    const runId = newRunId("cors-all");
    for (const [origin, expected] of [[ALLOWED, ALLOWED], ["https://elsewhere.example", null], [null, null]] as const) {
      const o: Record<string, string> = origin ? { Origin: origin } : {};
      const producer = { id: "p", epoch: 0, seq: 0 };
      const first = await append(runId, [sdkLine(1)], producer, o);
      expect(first.status === 200 || first.status === 204).toBe(true);
      expectCors(first, expected);
      await first.body?.cancel();
      const again = await append(runId, [sdkLine(1)], producer, o);
      expect(again.status).toBe(204);
      expectCors(again, expected);
      const page = await call(runId, "/events?after=0", { headers: o });
      expect(page.status).toBe(200);
      expectCors(page, expected);
      expect(page.headers.get("Stream-Next-Offset")).toBe("1");
      await page.text();
      const bad = await call(runId, "/events?after=x", { headers: o });
      expect(bad.status).toBe(400);
      expectCors(bad, expected);
      expect(bad.headers.get("Content-Length")).toBe(String((await bad.arrayBuffer()).byteLength));
      const missing = await fetchWorker(url(runId, "/nope"), { headers: { ...o, Authorization: "Bearer test-secret" } });
      expect(missing.status).toBe(404);
      expectCors(missing, expected);
      await missing.text();
      const sse = await call(runId, "/stream?after=1", { headers: o });
      expect(sse.status).toBe(200);
      expectCors(sse, expected);
      await sse.body?.cancel();
      const ws = await call(runId, "/ws", { headers: { ...o, Upgrade: "websocket" } });
      expect(ws.status).toBe(101);
      expectCors(ws, expected);
      ws.webSocket!.accept();
      ws.webSocket!.close(1000, "done");
    }
    expect(await appendOk(runId, [sdkLine(2)])).toBe(2);
  });
});
