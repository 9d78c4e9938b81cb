/**
 * A long view with short-lived tokens: the client library takes a token
 * function, the relay ends each stream when its token expires, and the
 * client renews and resumes from its last id. Over 10+ expiries (3 s tokens,
 * which live 2–3 s as `exp` is in whole seconds, minted just before each
 * connection; a line every 200 ms for 38 s) each consumer sees every id
 * exactly once, in order.
 */
import { EventSource } from "eventsource";
import { describe, expect, inject, it } from "vitest";
import { connect, type ClientEntry } from "../../src/client/index.ts";
import { range, sdkLine } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";

const relay = () => inject("relayUrl");
const runUrl = (runId: string, path = "") => `${relay()}/api/v1/workflows/${runId}${path}`;
const TTL_SECONDS = 3;
const RUN_MS = 38_000;

describe("the client across token expiries", () => {
  it("renews its token before each reconnection and sees every id once, over SSE and over WebSocket", { timeout: 120_000 }, async () => {
    const runId = `renew-${crypto.randomUUID().slice(0, 8)}`;
    const post = (path: string, body: string, type: string) => fetch(runUrl(runId, path), { method: "POST", headers: { ...ADMIN, "Content-Type": type }, body });
    expect((await post("/events", JSON.stringify(sdkLine(1)), "application/x-ndjson")).status).toBe(200);

    const consumers = (["sse", "ws"] as const).map((transport) => {
      let tokens = 0;
      const run = connect({
        url: relay(),
        runId,
        transport,
        EventSource: EventSource as unknown as typeof globalThis.EventSource,
        token: () => (tokens++, tokenFor(runId, "read", TTL_SECONDS)),
      });
      const seen: ClientEntry[] = [];
      const done = (async () => {
        for await (const entry of run) seen.push(entry);
      })();
      return { transport, run, seen, done, tokens: () => tokens };
    });

    // The agent writes a line every 200 ms while the tokens expire under the viewers.
    let n = 1;
    const started = Date.now();
    while (Date.now() - started < RUN_MS) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await post("/events", JSON.stringify(sdkLine(++n)), "application/x-ndjson")).status).toBe(200);
    }
    expect((await post("/complete", '{"status":"completed"}', "application/json")).status).toBe(200);

    for (const c of consumers) {
      await c.done;
      expect(c.run.state, c.transport).toBe("ended");
      expect(c.seen.map((e) => e.id), c.transport).toEqual(range(1, n + 1));
      expect(c.seen.slice(0, n).map((e) => e.data), c.transport).toEqual(range(1, n).map(sdkLine));
      expect(c.tokens(), c.transport).toBeGreaterThanOrEqual(11); // the first, then one per expiry: ten expiries at least
    }
  });
});
