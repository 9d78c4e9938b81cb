/**
 * `LOG_REQUESTS`: which requests write a `type: "request"` log line. By
 * default every one; with "errors", only responses of status 400 and up, with
 * the same fields. The app is called with its env changed, inside workerd,
 * and its console is read.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/index.ts";
import { ADMIN, ndjson, newRunId, sdkLine, url } from "./support";

afterEach(() => vi.restoreAllMocks());

/** Calls the app with `vars` over the test env; resolves with the request lines it logged once its tasks are done. */
async function logged(vars: Record<string, string>, requests: [string, RequestInit][]): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((text: unknown) => void lines.push(String(text)));
  for (const [target, init] of requests) {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(target, init), { ...env, ...vars }, ctx);
    await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
  }
  return lines.map((text) => JSON.parse(text) as Record<string, unknown>).filter((line) => line.type === "request");
}

const appendInit = (lines: unknown[]): RequestInit => ({ method: "POST", headers: { ...ADMIN, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });

describe("LOG_REQUESTS", () => {
  it("logs every request by default, and only errors with \"errors\"", async () => {
    for (const [vars, statuses] of [
      [{}, [200, 400, 404]],
      [{ LOG_REQUESTS: "all" }, [200, 400, 404]],
      [{ LOG_REQUESTS: "errors" }, [400, 404]],
    ] as const) {
      const runId = newRunId("log-requests");
      const lines = await logged(vars, [
        [url(runId, "/events"), appendInit([sdkLine(1)])],
        [url(runId, "/events?after=x"), { headers: ADMIN }],
        ["http://relay.test/api/v1/nowhere", {}],
      ]);
      expect(lines.map((l) => l.status), JSON.stringify(vars)).toEqual(statuses);
      const bad = lines.find((l) => l.status === 400)!;
      expect(bad).toMatchObject({ method: "GET", route: "/api/v1/workflows/:runId/events", path: `/api/v1/workflows/${runId}/events`, runId, error: "bad_after" });
    }
  });
});
