import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Scope } from "../../src/protocol/index.ts";
import { mintToken } from "../../src/worker/tokens.ts";
import {
  appendOk,
  call,
  complete,
  expectError,
  fetchWorker,
  info,
  ndjson,
  newRunId,
  openSse,
  sdkLine,
  SECRET,
  stubOf,
  url,
} from "./support";

const token = async (runId: string, scope: Scope, secret = SECRET, ttl = 3600, now = Date.now()) =>
  (await mintToken(secret, runId, scope, ttl, now)).token;
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** Every route of a run, with the scope it needs and a well-formed request. */
const ROUTES: { method: string; path: string; need: Scope; init?: RequestInit }[] = [
  { method: "POST", path: "/events", need: "runner", init: { headers: { "Content-Type": "application/x-ndjson" }, body: ndjson([sdkLine(99)]) } },
  { method: "GET", path: "/inputs?wait=0", need: "runner" },
  { method: "POST", path: "/complete", need: "runner", init: { headers: { "Content-Type": "application/json" }, body: '{"status":"completed"}' } },
  { method: "GET", path: "/stream", need: "read" },
  { method: "GET", path: "/ws", need: "read", init: { headers: { Upgrade: "websocket" } } },
  { method: "GET", path: "/events", need: "read" },
  { method: "GET", path: "/", need: "read" },
  { method: "POST", path: "/messages", need: "write", init: { headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' } },
  { method: "POST", path: "/interrupt", need: "write" },
  { method: "DELETE", path: "/", need: "admin" },
  { method: "POST", path: "/heartbeat", need: "runner" },
  { method: "POST", path: "/producers/p/claim", need: "runner" },
  { method: "POST", path: "/inputs/undelivered", need: "runner", init: { headers: { "Content-Type": "application/json" }, body: '{"inputIds":[1],"reason":"x"}' } },
];
const allows = (has: Scope, need: Scope) => has === need || has === "admin" || (has === "write" && need === "read");

function request(runId: string, route: (typeof ROUTES)[number], auth: Record<string, string>) {
  const headers = new Headers(route.init?.headers);
  for (const [k, v] of Object.entries(auth)) headers.set(k, v);
  return fetchWorker(url(runId, route.path), { ...route.init, method: route.method, headers });
}

describe("tokens and scopes", () => {
  it("no token: 401 on every route, JSON error, nothing stored", async () => {
    const runId = newRunId("no-token");
    for (const route of ROUTES) {
      const res = await request(runId, route, {});
      await expectError(res, 401, "unauthorized");
      expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
      expect(res.webSocket).toBeNull();
    }
    await expectError(await call(runId, "/"), 404, "run_not_found");
  });

  it("a token for run A opens nothing on run B, whatever its scope", async () => {
    const a = newRunId("run-a");
    const b = newRunId("run-b");
    for (const scope of ["runner", "read", "write"] as const) {
      const t = await token(a, scope);
      for (const route of ROUTES) {
        const message = await expectError(await request(b, route, bearer(t)), 403, "forbidden");
        expect(message).toContain(`for run ${a}, not ${b}`);
      }
    }
    await expectError(await call(b, "/"), 404, "run_not_found");
  });

  it("each scope opens exactly its routes: read cannot post, write cannot append or poll, runner cannot read or delete", async () => {
    const runId = newRunId("scopes");
    await appendOk(runId, [sdkLine(1)]);
    for (const scope of ["runner", "read", "write"] as const) {
      const t = await token(runId, scope);
      for (const route of ROUTES.filter((r) => !allows(scope, r.need))) {
        const res = await request(runId, route, bearer(t));
        await expectError(res, 403, "forbidden");
      }
    }
    // Nothing changed.
    expect(await info(runId)).toMatchObject({ status: "running", lastEventId: 1, pendingInputs: 0 });
    // And each scope does open its own routes.
    expect((await request(runId, ROUTES[1]!, bearer(await token(runId, "runner")))).status).toBe(200);
    expect((await request(runId, ROUTES[5]!, bearer(await token(runId, "read")))).status).toBe(200);
    expect((await request(runId, ROUTES[7]!, bearer(await token(runId, "write")))).status).toBe(202);
    expect((await request(runId, ROUTES[5]!, bearer(await token(runId, "write")))).status).toBe(200);
  });

  it("expired, foreign-secret and tampered tokens are 401", async () => {
    const runId = newRunId("bad-tokens");
    const route = ROUTES[6]!; // GET /
    const expired = await token(runId, "read", SECRET, 60, Date.now() - 3600_000);
    await expectError(await request(runId, route, bearer(expired)), 401, "token_expired");
    await expectError(await request(runId, route, bearer(await token(runId, "read", "another-secret"))), 401, "invalid_token");
    const [head, , sig] = (await token(runId, "read")).split(".");
    const forged = btoa(JSON.stringify({ sub: runId, scope: "admin", exp: Math.floor(Date.now() / 1000) + 600 })).replace(/=+$/, "");
    await expectError(await request(runId, route, bearer(`${head}.${forged}.${sig}`)), 401, "invalid_token");
    await expectError(await request(runId, route, bearer("not-a-jwt")), 401, "invalid_token");
    // Only admin tokens may be for every run.
    await expectError(await request(runId, route, bearer(await token("*", "read"))), 401, "invalid_token");
    expect((await request(runId, ROUTES[9]!, bearer(await token("*", "admin")))).status).toBe(404); // DELETE of a run that has nothing
  });

  it("SSE and WebSocket take ?token=; a WebSocket upgrade with a bad token is refused before the socket is accepted", async () => {
    const runId = newRunId("query-token");
    await appendOk(runId, [sdkLine(1)]);
    const sse = await openSse(runId, { after: `0&token=${await token(runId, "read")}` });
    expect(sse.res.status).toBe(200);
    await sse.frames.until((f) => f.length === 1);
    await sse.cancel();

    const refused = await fetchWorker(url(runId, `/ws?token=${await token(runId, "read", "wrong")}`), { headers: { Upgrade: "websocket" } });
    expect(refused.status).toBe(401);
    expect(refused.webSocket).toBeNull();

    // A read-only viewer gets the stream but cannot send inputs.
    const res = await fetchWorker(url(runId, `/ws?token=${await token(runId, "read")}`), { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket!;
    const frames: unknown[] = [];
    const got = new Promise<void>((resolve) =>
      ws.addEventListener("message", (e) => {
        frames.push(JSON.parse(e.data as string));
        if (frames.length === 2) resolve();
      }),
    );
    ws.accept();
    ws.send(JSON.stringify({ type: "message", text: "let me in", clientId: "c" }));
    await got;
    expect(frames[1]).toEqual({ type: "error", error: { code: "forbidden", message: "a read token cannot send messages or interrupts" }, clientId: "c" });
    ws.close();
    expect((await info(runId)).pendingInputs).toBe(0);
  });

  it("mints tokens for admins only", async () => {
    const runId = newRunId("mint");
    const mint = (auth: Record<string, string>, body: unknown) =>
      fetchWorker("http://relay.test/api/v1/tokens", { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const res = await mint(bearer(SECRET), { runId, scope: "read", ttlSeconds: 120 });
    expect(res.status).toBe(201);
    const minted = (await res.json()) as { token: string; expiresAt: number };
    expect(minted.expiresAt).toBeGreaterThan(Date.now());
    await appendOk(runId, [sdkLine(1)]);
    expect((await fetchWorker(url(runId), { headers: bearer(minted.token) })).status).toBe(200);
    await expectError(await mint(bearer(await token(runId, "write")), { runId, scope: "admin" }), 403, "forbidden");
    await expectError(await mint(bearer(SECRET), { runId, scope: "owner" }), 400, "bad_body");
    await expectError(await mint({}, { runId, scope: "read" }), 401, "unauthorized");
    await expectError(await mint(bearer(SECRET), { runId: "*", scope: "write" }), 400, "bad_body");
    // The secret is an admin credential as a bearer header only, never in a URL.
    await expectError(await fetchWorker(url(runId, `/stream?token=${SECRET}`)), 401, "invalid_token");
    await expectError(await fetchWorker(url(runId, `/?token=${SECRET}`)), 401, "unauthorized");
  });
});

describe("CORS", () => {
  const allowed = "https://app.example.com";
  const other = "https://elsewhere.example";

  it("an allowed origin gets the headers on GET, POST and preflight; another origin does not", async () => {
    const runId = newRunId("cors");
    await appendOk(runId, [sdkLine(1)]);
    for (const origin of [allowed, other]) {
      const expected = origin === allowed ? allowed : null;
      const get = await call(runId, "/events", { headers: { Origin: origin } });
      expect(get.status).toBe(200);
      expect(get.headers.get("Access-Control-Allow-Origin")).toBe(expected);
      if (expected) expect(get.headers.get("Access-Control-Expose-Headers")).toContain("Stream-Next-Offset");
      const post = await call(runId, "/messages", { method: "POST", headers: { Origin: origin, "Content-Type": "application/json" }, body: '{"message":"hi"}' });
      expect(post.status).toBe(202);
      expect(post.headers.get("Access-Control-Allow-Origin")).toBe(expected);
      const preflight = await fetchWorker(url(runId, "/messages"), {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe(expected);
      if (expected) expect(preflight.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
    }
  });
});

describe("retention and deletion", () => {
  const DAY = 24 * 3600 * 1000;
  /** Moves the run's last activity `days` into the past; the object restarts, since it remembers the row it last read. */
  const age = async (runId: string, days: number) => {
    await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE run SET updated_at = ?", Date.now() - days * DAY);
    });
    await evictDurableObject(stubOf(runId));
  };

  it("the alarm deletes a run RETENTION_DAYS after it ended (or went quiet); then it reads as not found", async () => {
    const ended = newRunId("retention-ended");
    await appendOk(ended, [sdkLine(1), sdkLine(2)]);
    await complete(ended);
    expect(await runDurableObjectAlarm(stubOf(ended))).toBe(true); // not due yet: it stays, the alarm is set again
    expect((await info(ended)).status).toBe("completed");
    await age(ended, 8);
    expect(await runDurableObjectAlarm(stubOf(ended))).toBe(true);
    await expectError(await call(ended, "/"), 404, "run_not_found");
    await expectError(await call(ended, "/events?after=0"), 404, "run_not_found");

    const quiet = newRunId("retention-quiet");
    await appendOk(quiet, [sdkLine(1)]);
    await age(quiet, 7.5);
    expect(await runDurableObjectAlarm(stubOf(quiet))).toBe(true);
    await expectError(await call(quiet, "/"), 404, "run_not_found");
  });

  it("DELETE (admin) deletes at once and ends live SSE and WebSocket viewers (close code 4410)", async () => {
    const runId = newRunId("delete");
    await appendOk(runId, [sdkLine(1)]);
    const sse = await openSse(runId);
    const res = await call(runId, "/ws?after=0", { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket!;
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    ws.accept();
    await sse.frames.until((f) => f.length === 1);
    await expectError(await call(runId, "/", { method: "DELETE", headers: bearer(await token(runId, "runner")) }), 403, "forbidden");
    const deleted = await call(runId, "/", { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect(await closed).toBe(4410);
    await sse.frames.ended();
    await expectError(await call(runId, "/"), 404, "run_not_found");
    await expectError(await call(runId, "/", { method: "DELETE" }), 404, "run_not_found");
    // A runner still shipping cannot bring it back, nor can a viewer reopen it.
    const late = await call(runId, "/events", {
      method: "POST",
      headers: { "Content-Type": "application/x-ndjson", "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": "0" },
      body: ndjson([sdkLine(2)]),
    });
    expect(await expectError(late, 404, "run_not_found")).toBe("this run was deleted");
    await expectError(await call(runId, "/inputs?wait=0"), 404, "run_not_found");
    expect((await openSse(runId)).res.status).toBe(404);
  });
});
