/**
 * Permission prompts through the client library against a real `wrangler dev`:
 * the test plays the runner (it POSTs Claude Code's `control_request` lines and
 * long-polls `GET /inputs`); two participants see the prompt pending, the first
 * `respond()` reaches the runner, the second is refused `request_settled`, and
 * both see the outcome. A prompt the runner answers itself, one the agent
 * withdraws, and other control messages (an `initialize` and its answer) too.
 * Over SSE and WebSocket.
 */
import { EventSource } from "eventsource";
import { afterEach, describe, expect, inject, it } from "vitest";
import { allow, connect, deny, type ControlRequest, type PermissionUpdate, type RunConnection } from "../../src/client/index.ts";
import type { InputsReply } from "../../src/protocol/index.ts";
import { Inbox, ndjson } from "../support/inbox";
import { tokenFor } from "./auth";

const relay = () => inject("relayUrl");
const runUrl = (runId: string, path = "") => `${relay()}/api/v1/workflows/${runId}${path}`;
const newRunId = (name: string) => `e2e-perm-client-${name}-${crypto.randomUUID().slice(0, 8)}`;

const SUGGESTIONS: PermissionUpdate[] = [
  { type: "setMode", mode: "acceptEdits", destination: "session" },
  { type: "addDirectories", directories: ["/x"], destination: "session" },
];
const INPUT = { file_path: "/x/notes.md", content: "# Notes\n" };
const canUseTool = (requestId: string, extra: object = {}) => ({
  type: "control_request",
  request_id: requestId,
  request: { subtype: "can_use_tool", tool_name: "Write", display_name: "Write", input: INPUT, permission_suggestions: SUGGESTIONS, decision_reason: "Path is outside allowed working directories", tool_use_id: `toolu_${requestId}`, ...extra },
});

/** The test as the runner: appends Claude Code's lines, and long-polls the inputs. */
function fakeRunner(runId: string, token: string) {
  const auth = { Authorization: `Bearer ${token}` };
  return {
    async print(lines: unknown[]) {
      const res = await fetch(runUrl(runId, "/events"), { method: "POST", headers: { ...auth, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });
      expect(res.status).toBe(200);
    },
    async inputs(): Promise<InputsReply> {
      const res = await fetch(runUrl(runId, "/inputs?after=0&wait=0"), { headers: auth });
      expect(res.status).toBe(200);
      return (await res.json()) as InputsReply;
    },
  };
}

const opened: RunConnection[] = [];
afterEach(() => opened.splice(0).forEach((r) => r.close()));

/** A participant: its connection, and every `request` event as it was when it fired. */
function participant(runId: string, token: string, transport: "sse" | "ws") {
  const run = connect({ url: relay(), runId, token, transport, EventSource: EventSource as unknown as typeof globalThis.EventSource });
  opened.push(run);
  const seen = new Inbox<ControlRequest>();
  run.on("request", (r) => seen.push(structuredClone(r)));
  const settled = (requestId: string) => seen.until((s) => s.some((r) => r.requestId === requestId && r.outcome), `${requestId} settled`);
  return { run, seen, settled };
}

describe.each(["sse", "ws"] as const)("permission prompts over %s", (transport) => {
  it("both see the prompt pending; the first respond() reaches the runner, the second is refused request_settled; both see the outcome", async () => {
    const runId = newRunId(transport);
    const runner = fakeRunner(runId, await tokenFor(runId, "runner"));
    await runner.print([{ type: "system", subtype: "init", session_id: "s" }, canUseTool("req-1")]);

    const write = await tokenFor(runId, "write");
    const [a, b] = [participant(runId, write, transport), participant(runId, write, transport)];
    for (const p of [a, b]) await p.seen.until((s) => s.length === 1, "the prompt");
    const asked = { requestId: "req-1", subtype: "can_use_tool", request: canUseTool("req-1").request, entryId: 2 };
    expect(a.seen.items).toEqual([asked]);
    expect(a.run.pending).toEqual([asked]);
    expect(b.run.pending).toEqual([asked]);

    const decision = allow(a.run.pending[0]!, { updatedPermissions: [SUGGESTIONS[0]!] });
    expect(decision).toEqual({ behavior: "allow", updatedInput: INPUT, updatedPermissions: [SUGGESTIONS[0]] });
    const answered = await a.run.respond("req-1", decision);
    expect(answered).toEqual({ eventId: 3, uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    // The runner gets the answer as a control input, exactly as posted.
    const { inputs } = await runner.inputs();
    expect(inputs).toEqual([
      {
        id: 1,
        kind: "control",
        payload: { type: "control_response", response: { subtype: "success", request_id: "req-1", response: decision }, uuid: answered.uuid },
        createdAt: expect.any(Number),
        eventId: 3,
      },
    ]);

    await expect(b.run.respond("req-1", deny())).rejects.toMatchObject({ name: "RelayError", status: 409, code: "request_settled" });
    for (const p of [a, b]) await p.settled("req-1");
    expect(a.run.requests[0]!.outcome).toEqual({ kind: "answered", by: "participant", decision, entryId: 3, own: true });
    expect(b.run.requests[0]!.outcome).toEqual({ kind: "answered", by: "participant", decision, entryId: 3, own: false });
    expect(a.run.pending).toEqual([]);
    expect(b.run.pending).toEqual([]);
    // Only the first answer was stored.
    expect((await runner.inputs()).inputs.map((i) => i.id)).toEqual([1]);
  });

  it("a prompt the runner answers itself, one the agent withdraws, an unknown request, a read token; other control messages are not requests", async () => {
    const runId = newRunId(`${transport}-others`);
    const runner = fakeRunner(runId, await tokenFor(runId, "runner"));
    await runner.print([canUseTool("timeout"), canUseTool("withdrawn")]);
    const write = await tokenFor(runId, "write");
    const p = participant(runId, write, transport);
    await p.seen.until((s) => s.length === 2, "both prompts");
    expect(p.run.pending.map((r) => r.requestId)).toEqual(["timeout", "withdrawn"]);

    // Anthropic's browser SDK opens with an `initialize` control request, and the agent answers it: not a prompt.
    const init = await fetch(runUrl(runId, "/session/events"), {
      method: "POST",
      headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: runId, events: [{ payload: { type: "control_request", request_id: "init-1", request: { subtype: "initialize" }, uuid: crypto.randomUUID() } }] }),
    });
    expect(init.status).toBe(200);
    const timedOut = { behavior: "deny", message: "No one answered within 300 s" };
    await runner.print([
      { type: "control_response", response: { subtype: "success", request_id: "init-1", response: { commands: [] } } },
      { type: "control_response", response: { subtype: "success", request_id: "timeout", response: timedOut } },
      { type: "control_cancel_request", request_id: "withdrawn" },
    ]);
    await p.settled("withdrawn");
    expect(p.seen.items.map((r) => [r.requestId, r.outcome])).toEqual([
      ["timeout", undefined],
      ["withdrawn", undefined],
      ["timeout", { kind: "answered", by: "runner", decision: timedOut, entryId: 5, own: false }],
      ["withdrawn", { kind: "cancelled", entryId: 6, own: false }],
    ]);
    expect(p.run.requests.map((r) => r.requestId)).toEqual(["timeout", "withdrawn"]);
    expect(p.run.pending).toEqual([]);

    await expect(p.run.respond("timeout", allow(p.run.requests[0]!))).rejects.toMatchObject({ status: 409, code: "request_settled" });
    await expect(p.run.respond("withdrawn", allow(p.run.requests[1]!))).rejects.toMatchObject({ status: 409, code: "request_settled" });
    await expect(p.run.respond("never-asked", deny())).rejects.toMatchObject({ status: 404, code: "unknown_request" });

    await runner.print([canUseTool("req-read")]);
    const reader = participant(runId, await tokenFor(runId, "read"), transport);
    await reader.seen.until((s) => s.some((r) => r.requestId === "req-read"), "the new prompt");
    expect(reader.run.pending.map((r) => r.requestId)).toEqual(["req-read"]);
    await expect(reader.run.respond("req-read", deny())).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect((await runner.inputs()).inputs.map((i) => [i.kind, (i.payload as { type: string }).type])).toEqual([["control", "control_request"]]);
  });
});
