/**
 * Tokens are verified once and then remembered (src/worker/tokens.ts): a
 * remembered token is still checked against the secret and its expiry on
 * every use, exactly as a fresh verification would.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { mintToken, verifyToken } from "../../src/worker/tokens.ts";
import { call, expectError, newRunId, appendOk, sdkLine } from "./support";

describe("verifying tokens", () => {
  afterEach(() => vi.useRealTimers());

  it("a token verified once is refused under another secret, and its claims are the same every time", async () => {
    const { token } = await mintToken("secret-a", "run-1", "read", 600);
    const first = await verifyToken("secret-a", token);
    expect(first).toMatchObject({ ok: true, claims: { sub: "run-1", scope: "read" } });
    expect(await verifyToken("secret-a", token)).toEqual(first);
    expect(await verifyToken("secret-b", token)).toMatchObject({ ok: false, code: "invalid_token" });
    expect(await verifyToken("secret-a", token)).toEqual(first);
    const [head, , sig] = token.split(".");
    const forged = btoa(JSON.stringify({ sub: "run-1", scope: "admin", exp: Math.floor(Date.now() / 1000) + 600 })).replace(/=+$/, "");
    expect(await verifyToken("secret-a", `${head}.${forged}.${sig}`)).toMatchObject({ ok: false, code: "invalid_token" });
  });

  it("a remembered token expires on time, on the API too", async () => {
    const runId = newRunId("expiring");
    await appendOk(runId, [sdkLine(1)]);
    const { token } = await mintToken("test-secret", runId, "read", 1);
    expect((await verifyToken("test-secret", token)).ok).toBe(true);
    const ok = await call(runId, "/events", { headers: { Authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    await ok.text();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2000); // the token's second has passed
    expect(await verifyToken("test-secret", token)).toMatchObject({ ok: false, code: "token_expired" });
    await expectError(await call(runId, "/events", { headers: { Authorization: `Bearer ${token}` } }), 401, "token_expired");
  });
});
