/** The remote-session endpoint under a real `wrangler dev`: bad input gets a clear error and stores nothing. */
import { expect, inject, it } from "vitest";
import type { EventsPage, InputsReply } from "../../src/protocol/index.ts";
import { ndjson } from "../support/inbox";
import { tokenFor } from "./auth";
import { newRunId } from "./runner-support";

const url = (runId: string, path: string) => `${inject("relayUrl")}/api/v1/workflows/${runId}${path}`;
const bearer = async (runId: string, scope: "runner" | "read" | "write") => ({ Authorization: `Bearer ${await tokenFor(runId, scope)}` });
const prompt = { type: "control_request", request_id: "perm-1", request: { subtype: "can_use_tool", tool_name: "Write", input: { file_path: "/x" } } };
const answer = (requestId: string) => ({
  type: "control_response",
  response: { subtype: "success", request_id: requestId, response: { behavior: "allow", updatedInput: { file_path: "/x" } } },
  uuid: crypto.randomUUID(),
});
const user = (content: string) => ({ type: "user", message: { role: "user", content }, parent_tool_use_id: null, uuid: crypto.randomUUID() });

it("no uuid, an unknown type, an unknown request_id, an oversize payload, a read token, another session: each refused, nothing stored", async () => {
  const runId = newRunId("session-bad");
  const runner = await bearer(runId, "runner");
  const appended = await fetch(url(runId, "/events"), { method: "POST", headers: { ...runner, "Content-Type": "application/x-ndjson" }, body: ndjson([prompt]) });
  expect(appended.status).toBe(200);
  const post = async (payload: unknown, opts: { scope?: "read" | "write"; sessionId?: string } = {}) => {
    const res = await fetch(url(runId, "/session/events"), {
      method: "POST",
      headers: { ...(await bearer(runId, opts.scope ?? "write")), "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: opts.sessionId ?? runId, events: [{ payload }] }),
    });
    return { status: res.status, error: ((await res.json()) as { error?: { code: string; message: string } }).error };
  };
  const { uuid: _, ...noUuid } = user("hi");
  const refused = [
    await post(noUuid),
    await post({ type: "transcript_mirror", uuid: crypto.randomUUID() }),
    await post(answer("perm-never-asked")),
    await post(user("x".repeat(100_000))),
    await post(answer("perm-1"), { scope: "read" }),
    await post(user("hi"), { sessionId: "someone-else" }),
  ];
  expect(refused.map((r) => [r.status, r.error?.code])).toEqual([
    [400, "bad_body"],
    [400, "bad_body"],
    [404, "unknown_request"],
    [413, "message_too_large"],
    [403, "forbidden"],
    [400, "session_mismatch"],
  ]);
  expect(refused[0]!.error!.message).toMatch(/uuid/);
  expect(refused[1]!.error!.message).toContain('unknown event type "transcript_mirror"');
  for (const r of refused) expect(r.error!.message.length).toBeGreaterThan(10);

  const page = (await (await fetch(url(runId, "/events?after=0"), { headers: await bearer(runId, "read") })).json()) as EventsPage;
  expect(page.events.map((e) => e.id)).toEqual([1]);
  const inputs = (await (await fetch(url(runId, "/inputs?after=0&wait=0"), { headers: runner })).json()) as InputsReply;
  expect(inputs.inputs).toEqual([]);
  // The prompt is still open: the first good answer is taken, the next refused.
  expect((await post(answer("perm-1"))).status).toBe(200);
  expect(await post(answer("perm-1"))).toMatchObject({ status: 409, error: { code: "request_settled" } });
});
