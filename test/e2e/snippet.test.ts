/**
 * The snippet existing frontends already have, verbatim but for an absolute
 * URL: no token, no Content-Type (fetch sends text/plain;charset=UTF-8).
 * Under `npm run dev` it works as it is; against a relay with a secret it
 * gets a clear 401.
 */
import { EventSource, type ErrorEvent } from "eventsource";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { startRelay, type Relay } from "../support/wrangler";

const EVENTUALLY = { timeout: 10_000, interval: 50 };

/** The original snippet, with `base` put in front of its relative URLs. */
function snippet(base: string, runId: string, message: string) {
  const es = new EventSource(`${base}/api/v1/workflows/${runId}/stream`);
  const posted = fetch(`${base}/api/v1/workflows/${runId}/messages`, { method: "POST", body: JSON.stringify({ message }) });
  return { es, posted };
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ type: "assistant", n: i + 1 })).join("\n") + "\n";

describe("the original snippet under npm run dev (RELAY_DEV=true, no secret, no token)", () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay({ vars: { RELAY_DEV: "true" } });
  });
  afterAll(() => relay.stop());

  it("streams every line appended and posts the message (202)", async () => {
    const runId = `snippet-${crypto.randomUUID().slice(0, 8)}`;
    const base = relay.url;
    // Lines before the viewer connects, and lines after: appended as the development admin, with no token.
    const append = (body: string) =>
      fetch(`${base}/api/v1/workflows/${runId}/events`, { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body });
    expect((await append(lines(3))).status).toBe(200);

    const { es, posted } = snippet(base, runId, "hello from the old frontend");
    const seen: { id: string; data: unknown }[] = [];
    es.onmessage = (e) => seen.push({ id: e.lastEventId, data: JSON.parse(e.data) });
    const inputs: unknown[] = [];
    es.addEventListener("input", (e) => inputs.push(JSON.parse(e.data)));
    try {
      const res = await posted;
      expect(res.status, await res.clone().text()).toBe(202);
      expect(await res.json()).toEqual({ id: 1, eventId: 4 });

      expect((await append(lines(2))).status).toBe(200);
      await vi.waitFor(() => expect(seen).toHaveLength(5), EVENTUALLY);
      expect(seen.map((e) => e.id)).toEqual(["1", "2", "3", "5", "6"]);
      expect(seen.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3, 1, 2]);
      await vi.waitFor(() => expect(inputs).toHaveLength(1), EVENTUALLY);
      expect(inputs[0]).toMatchObject({ kind: "message", message: { role: "user", content: "hello from the old frontend" } });
    } finally {
      es.close();
    }
  });
});

describe("the same snippet against a relay with a secret (not dev)", () => {
  it("gets a clear 401: the EventSource's error, and the fetch's unauthorized", async () => {
    const runId = `snippet-prod-${crypto.randomUUID().slice(0, 8)}`;
    const { es, posted } = snippet(inject("relayUrl"), runId, "hello");
    try {
      const error = await new Promise<ErrorEvent>((resolve) => (es.onerror = resolve));
      expect(error.code).toBe(401);
      expect(es.readyState).toBe(EventSource.CLOSED); // no retrying a refusal
      const res = await posted;
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: "unauthorized", message: expect.stringContaining("send a token") } });
    } finally {
      es.close();
    }
  });
});
