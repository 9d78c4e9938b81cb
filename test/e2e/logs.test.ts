/**
 * The relay's logs under a real `wrangler dev`, read from its whole output:
 * one JSON line per request, object events as JSON lines, and never a token,
 * wherever the token was sent. This file starts a relay of its own, so the
 * output holds only its own requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndjson, range, sdkLine } from "../support/inbox";
import { startRelay, type Relay } from "../support/wrangler";
import { ADMIN, RELAY_VARS, SECRET, tokenFor } from "./auth";

let relay: Relay;
beforeAll(async () => {
  relay = await startRelay({ vars: RELAY_VARS });
});
afterAll(() => relay?.stop());

type Line = Record<string, unknown>;
const runPath = (runId: string, path = "") => `/api/v1/workflows/${runId}${path}`;
const url = (path: string) => `${relay.url}${path}`;
const newRunId = (name: string) => `e2e-logs-${name}-${crypto.randomUUID().slice(0, 8)}`;

/** Every line of the output so far that is a JSON object. */
function jsonLines(): Line[] {
  return relay.output().split("\n").flatMap((text) => {
    if (!text.startsWith("{")) return [];
    try {
      const value: unknown = JSON.parse(text);
      return value !== null && typeof value === "object" && !Array.isArray(value) ? [value as Line] : [];
    } catch {
      return []; // not JSON, or a line still being written
    }
  });
}

/** Waits until the output holds a JSON line matching `ok` (output arrives asynchronously), up to a deadline. */
async function lineFor(ok: (line: Line) => boolean, what: string, timeoutMs = 15_000): Promise<Line> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = jsonLines().find(ok);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no log line for ${what} within ${timeoutMs} ms; the output:\n${relay.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const requestLine = (method: string, path: string, status?: number) => (l: Line) =>
  l.type === "request" && l.method === method && l.path === path && (status === undefined || l.status === status);

async function append(runId: string, from: number, to: number) {
  const res = await fetch(url(runPath(runId, "/events")), {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/x-ndjson" },
    body: ndjson(range(from, to).map(sdkLine)),
  });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

describe("logs, against wrangler dev", () => {
  it("one request line per request: route, run id, status, duration and size, never the query", async () => {
    const runId = newRunId("req");
    await append(runId, 1, 3);
    const path = runPath(runId, "/events");
    const read = await tokenFor(runId, "read");
    const res = await fetch(url(`${path}?after=1`), { headers: { Authorization: `Bearer ${read}` } });
    expect(res.status).toBe(200);
    await res.text();

    await lineFor(requestLine("GET", path), "the GET");
    // A later request's line: once it is out, a second line for the GET would be out too.
    const marker = await fetch(url(runPath(runId)), { headers: ADMIN });
    await marker.body?.cancel();
    await lineFor(requestLine("GET", runPath(runId)), "the marker request");

    const lines = jsonLines().filter(requestLine("GET", path));
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({ route: "/api/v1/workflows/:runId/events", runId, status: 200 });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(line.bytesOut).toEqual(expect.any(Number));
    expect(line.bytesOut as number).toBeGreaterThan(0);
    expect(line).not.toHaveProperty("error");
    // The append before it: its body's size, its own route.
    expect(jsonLines().find(requestLine("POST", path))).toMatchObject({ route: "/api/v1/workflows/:runId/events", runId, status: 200, bytesIn: expect.any(Number) });

    // Errors carry their code, 404s included (no route matched: no route field).
    await (await fetch(url(runPath(runId, "/nope")), { headers: ADMIN })).body?.cancel();
    expect(await lineFor(requestLine("GET", runPath(runId, "/nope"), 404), "the 404")).toMatchObject({ error: "not_found" });
    expect(jsonLines().find(requestLine("GET", runPath(runId, "/nope")))).not.toHaveProperty("route");
  });

  it("a token in the query string, or in the Authorization header, never reaches the output", async () => {
    const runId = newRunId("tokens");
    await append(runId, 1, 2);
    // Distinct lifetimes, so no two tokens are the same string.
    const streamToken = await tokenFor(runId, "read", 600);
    const eventsToken = await tokenFor(runId, "read", 700);
    const wsToken = await tokenFor(runId, "read", 800);
    const writeToken = await tokenFor(runId, "write", 900);
    const headerToken = await tokenFor(runId, "read", 1000);
    const garbage = `garbage-${crypto.randomUUID()}`;
    const tokens = [streamToken, eventsToken, wsToken, writeToken, headerToken, garbage, SECRET];
    expect(new Set(tokens).size).toBe(tokens.length);

    // SSE: read up to the first event, then go away.
    const abort = new AbortController();
    const stream = await fetch(url(`${runPath(runId, "/stream")}?token=${streamToken}`), { signal: abort.signal });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    for (let text = ""; !/^data: /m.test(text); ) {
      const { done, value } = await reader.read();
      expect(done).toBe(false);
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();

    // WebSocket: up to the first frame, then close.
    const ws = new WebSocket(url(`${runPath(runId, "/ws")}?token=${wsToken}`).replace(/^http/, "ws"));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("message", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("the WebSocket failed")), { once: true });
    });
    ws.close();

    // ?token= is taken on the stream routes only: elsewhere it is ignored (and never logged).
    const ignored = await fetch(url(`${runPath(runId, "/events")}?token=${eventsToken}`));
    expect(ignored.status).toBe(401);
    await ignored.text();
    const events = await fetch(url(runPath(runId, "/events")), { headers: { Authorization: `Bearer ${eventsToken}` } });
    expect(events.status).toBe(200);
    await events.text();
    const message = await fetch(url(runPath(runId, "/messages")), {
      method: "POST",
      headers: { Authorization: `Bearer ${writeToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ message: "hello" }),
    });
    expect(message.status).toBe(202);
    await message.text();
    const info = await fetch(url(runPath(runId)), { headers: { Authorization: `Bearer ${headerToken}` } });
    expect(info.status).toBe(200);
    await info.text();
    const refused = await fetch(url(`${runPath(runId, "/stream")}?token=${garbage}`));
    expect(refused.status).toBe(401);
    await refused.text();

    await lineFor(requestLine("GET", runPath(runId, "/stream"), 200), "the stream");
    await lineFor(requestLine("GET", runPath(runId, "/ws"), 101), "the WebSocket");
    await lineFor(requestLine("POST", runPath(runId, "/messages"), 202), "the message");
    await lineFor(requestLine("GET", runPath(runId), 200), "the header-token request");
    expect(await lineFor(requestLine("GET", runPath(runId, "/events"), 401), "the ignored query token")).toMatchObject({ error: "unauthorized" });
    expect(await lineFor(requestLine("GET", runPath(runId, "/stream"), 401), "the refused request")).toMatchObject({ error: "invalid_token" });

    const output = relay.output();
    for (const token of tokens) expect(output.includes(token), `the output holds ${token.slice(0, 12)}…`).toBe(false);
    for (const line of jsonLines().filter((l) => l.type === "request")) expect(String(line.path)).not.toContain("?");
    expect(output).not.toMatch(/token=/);
  });

  it("the run object logs the end of a run", async () => {
    const runId = newRunId("end");
    await append(runId, 1, 1);
    const res = await fetch(url(runPath(runId, "/complete")), {
      method: "POST",
      headers: { ...ADMIN, "Content-Type": "application/json" },
      body: JSON.stringify({ status: "failed", reason: "e2e logs" }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const ended = await lineFor((l) => l.type === "run" && l.event === "ended" && l.runId === runId, "the end of the run");
    expect(ended).toEqual({ type: "run", event: "ended", runId, status: "failed", reason: "e2e logs" });
  });
});
