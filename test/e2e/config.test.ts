/** How the relay starts: refusing to serve without a secret, and zero-setup development mode. */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { startRelay, type Relay } from "../support/wrangler";
import { tokenFor } from "./auth";
import { newRunId, startRunner } from "./runner-support";

describe("a relay started with no secret, outside dev", () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay();
  });
  afterAll(() => relay.stop());

  it("answers every route with 500 relay_not_configured and serves nothing", async () => {
    const run = `${relay.url}/api/v1/workflows/r1`;
    const requests: [string, RequestInit?][] = [
      [run],
      [`${run}/events`, { method: "POST", headers: { "Content-Type": "application/x-ndjson", Authorization: "Bearer anything" }, body: "{}\n" }],
      [`${run}/events`],
      [`${run}/stream`],
      [`${run}/ws`],
      [`${run}/inputs?wait=0`],
      [`${run}/messages`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' }],
      [`${run}/interrupt`, { method: "POST" }],
      [`${run}/complete`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"status":"completed"}' }],
      [run, { method: "DELETE" }],
      [`${relay.url}/api/v1/tokens`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"runId":"r1","scope":"read"}' }],
      [`${relay.url}/api/v1/dev/token?run=r1`],
      [`${relay.url}/anything-else`],
    ];
    for (const [u, init] of requests) {
      const res = await fetch(u, init);
      expect(res.status, `${init?.method ?? "GET"} ${u}`).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("relay_not_configured");
    }
  });
});

describe("npm run dev (RELAY_DEV=true, no secret)", () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay({ vars: { RELAY_DEV: "true" } });
  });
  afterAll(() => relay.stop());

  it("hands out ready tokens from the dev route, and they work", async () => {
    const res = await fetch(`${relay.url}/api/v1/dev/token?run=dev-1&scope=write`);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const posted = await fetch(`${relay.url}/api/v1/workflows/dev-1/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Origin: "http://localhost:5173" },
      body: '{"message":"hello"}',
    });
    expect(posted.status).toBe(202);
    expect(posted.headers.get("Access-Control-Allow-Origin")).toBe("*"); // any origin, in dev only
    expect((await fetch(`${relay.url}/api/v1/workflows/dev-1`, { headers: { Authorization: "Bearer forged" } })).status).toBe(401); // a bad token is still refused
    expect((await fetch(`${relay.url}/api/v1/workflows/dev-1`)).status).toBe(200); // no token at all: a development admin
    expect((await fetch(`${relay.url}/api/v1/workflows/dev-1`)).status).toBe(200);
    // Said once, in one log line, however many requests come without a token.
    const count = (re: RegExp) => relay.output().match(re)?.length ?? 0;
    await vi.waitFor(() => expect(count(/"method":"GET","route":"\/api\/v1\/workflows\/:runId","path":"\/api\/v1\/workflows\/dev-1","runId":"dev-1","status":200/g)).toBe(2));
    expect(count(/requests without a token are treated as admin/g)).toBe(1);
  });

  it("the dev route does not exist outside dev", async () => {
    expect((await fetch(`${inject("relayUrl")}/api/v1/dev/token?run=x`)).status).toBe(404);
  });
});

describe("the runner with bad credentials", () => {
  it("a wrong token, or one for another scope: one clear error line and a non-zero exit", async () => {
    const runId = newRunId("bad-token");
    const cases: [string, RegExp][] = [
      ["not-a-token", /the relay refused to poll for inputs: 401 invalid_token/],
      [await tokenFor(runId, "read"), /the relay refused to poll for inputs: 403 forbidden \(a read token cannot append events/],
      [await tokenFor("another-run", "runner"), /403 forbidden \(this token is for run another-run/],
    ];
    for (const [token, message] of cases) {
      const runner = startRunner(["tail", "--file", "/nonexistent", "--url", inject("relayUrl"), "--run", runId, "--token", token, "--no-spool"]);
      expect(await runner.exit).toBe(1);
      const errors = runner.stderr().split("\n").filter((l) => l.startsWith("runrelay: error:"));
      expect(errors, runner.stderr()).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    }
  });
});
