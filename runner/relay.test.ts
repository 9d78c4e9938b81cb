/**
 * The runner's relay client against a tiny in-process fake relay (fake-relay.ts):
 * token renewal, backoff. The session flow against it is in session.test.ts.
 */
import { describe, expect, it } from "vitest";
import { fakeRelayPerTest } from "./fake-relay.ts";
import { backoff, FatalError, RelayClient } from "./relay.ts";

const fakeRelay = fakeRelayPerTest();

describe("tokens that renew", () => {
  it("a 401 renews a function token once and retries; requests that hit the same expired token share one renewal", async () => {
    const relay = await fakeRelay();
    let n = 0;
    const client = new RelayClient({ url: relay.url, runId: "run-1", token: async () => `t${++n}` });
    await client.heartbeat();
    expect(relay.calls.map((c) => c.token)).toEqual(["t1"]);
    relay.expired.add("t1");
    await Promise.all([client.heartbeat(), client.pollInputs(0, 0), client.complete("completed")]);
    expect(n).toBe(2);
    expect(client.renewals).toBe(1);
    expect(relay.calls.slice(1).map((c) => c.token).sort()).toEqual(["t1", "t1", "t1", "t2", "t2", "t2"]);
  });

  it("a second 401 after the renewal is final, and so is a 401 with a fixed token", async () => {
    const relay = await fakeRelay();
    relay.expired.add("old");
    const renewing = new RelayClient({ url: relay.url, runId: "run-1", token: async () => "old" });
    await expect(renewing.complete("completed")).rejects.toMatchObject({ status: 401, code: "token_expired" });
    const fixed = new RelayClient({ url: relay.url, runId: "run-1", token: "old" });
    await expect(fixed.heartbeat()).rejects.toBeInstanceOf(FatalError);
    expect(relay.calls).toHaveLength(3); // first try and retry for the renewing client, one try for the fixed one
  });

  it("a token source that fails is a clear fatal error", async () => {
    const relay = await fakeRelay();
    const client = new RelayClient({ url: relay.url, runId: "run-1", token: async () => Promise.reject(new Error("no such file")) });
    await expect(client.heartbeat()).rejects.toThrow("cannot get a runner token: no such file");
    const empty = new RelayClient({ url: relay.url, runId: "run-1", token: async () => " \n" });
    await expect(empty.heartbeat()).rejects.toThrow(/empty token/);
  });
});

describe("backoff", () => {
  it("doubles from the base up to the cap, with jitter in the upper half; honours Retry-After up to 4× the cap", () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const d = backoff(attempt, opts);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(backoff(0, opts, 2500)).toBe(2500);
    expect(backoff(0, opts, 60_000)).toBe(4000);
  });
});
