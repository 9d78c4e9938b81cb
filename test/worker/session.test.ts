import { describe, expect, it } from "vitest";
import {
  append,
  appendOk,
  call,
  complete,
  expectError,
  info,
  newRunId,
  openSse,
  poll,
  postJson,
  readAll,
  sdkLine,
  tokenFor,
  type SseClient,
} from "./support";

const STREAM = "/session/events/stream";

const prompt = (requestId: string) => ({
  type: "control_request",
  request_id: requestId,
  request: { subtype: "can_use_tool", tool_name: "Write", input: { file_path: "/tmp/x", content: "hi" }, decision_reason: "outside" },
});
const allow = (requestId: string, uuid = crypto.randomUUID()) => ({
  type: "control_response",
  response: { subtype: "success", request_id: requestId, response: { behavior: "allow", updatedInput: { file_path: "/tmp/x", content: "hi" } } },
  uuid,
});
const user = (text: string, uuid = crypto.randomUUID()) => ({ type: "user", message: { role: "user", content: text }, parent_tool_use_id: null, session_id: "", uuid });

/** `POST …/session/events` with one payload per event. */
const send = (runId: string, payloads: unknown[], opts: { sessionId?: string; headers?: Record<string, string> } = {}) =>
  postJson(runId, "/session/events", { session_id: opts.sessionId ?? runId, events: payloads.map((payload) => ({ payload })) }, opts.headers);

/** The session stream's frames, with `client_event` data parsed. */
async function frames(sse: SseClient, n: number) {
  const got = await sse.frames.until((f) => f.length >= n, `${n} frames`);
  return got.slice(0, n).map((f) => ({ id: f.id ?? "", event: f.event, data: JSON.parse(f.data) }));
}

describe("the remote-session stream", () => {
  it("frames every entry as a client_event with sequence_num = id, in order: runner lines from the worker, posts from the client", async () => {
    const runId = newRunId("session-frames");
    await appendOk(runId, [sdkLine(1), prompt("r1")]);
    const u = crypto.randomUUID();
    const posted = await send(runId, [user("hello", u)]);
    expect(posted.status).toBe(200);
    expect(await posted.json()).toEqual({ events: [{ event_id: u, sequence_num: 3 }] });
    const sse = await openSse(runId, { path: STREAM });
    expect(sse.res.status).toBe(200);
    const got = await frames(sse, 3);
    expect(got.map((f) => [f.id, f.event, f.data.sequence_num, f.data.source, f.data.payload.type])).toEqual([
      ["1", "client_event", 1, "worker", "assistant"],
      ["2", "client_event", 2, "worker", "control_request"],
      ["3", "client_event", 3, "client", "user"],
    ]);
    expect(got[0]!.data).toEqual({ event_id: "1", sequence_num: 1, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), source: "worker", payload: sdkLine(1) });
    expect(got[2]!.data.event_id).toBe(u);
    expect(got[2]!.data.payload).toEqual({ type: "user", message: { role: "user", content: "hello" }, parent_tool_use_id: null, session_id: runId, uuid: u });

    // Live: a delta is an ephemeral_event; a command_lifecycle line also becomes a delivery_update for the message's event.
    await appendOk(runId, [
      { type: "stream_event", event: { type: "content_block_delta", delta: { type: "text_delta", text: "Hi" } } },
      { type: "command_lifecycle", command_uuid: u, state: "queued" },
    ]);
    const live = await sse.frames.until((f) => f.length >= 6);
    expect(live.slice(3).map((f) => [f.id ?? "", f.event])).toEqual([
      ["", "ephemeral_event"],
      ["4", "client_event"],
      ["", "delivery_update"],
    ]);
    expect(JSON.parse(live[3]!.data).payload.type).toBe("stream_event");
    expect(JSON.parse(live[5]!.data)).toEqual({ event_id: u, status: "DELIVERY_STATUS_RECEIVED", timestamp: expect.any(String) });
    await sse.cancel();
  });

  it("resumes after Last-Event-ID with exactly the later entries; a cursor past the end gets catch_up_truncated, then live", async () => {
    const runId = newRunId("session-resume");
    await appendOk(runId, [sdkLine(1), sdkLine(2), sdkLine(3), sdkLine(4)]);
    const resumed = await openSse(runId, { path: STREAM, lastEventId: 2 });
    expect((await frames(resumed, 2)).map((f) => f.id)).toEqual(["3", "4"]);
    await resumed.cancel();

    const ahead = await openSse(runId, { path: STREAM, lastEventId: 99 });
    expect(ahead.res.status).toBe(200);
    await appendOk(runId, [sdkLine(5)]);
    expect((await frames(ahead, 2)).map((f) => [f.event, f.id])).toEqual([
      ["catch_up_truncated", ""],
      ["client_event", "5"],
    ]);
    await ahead.cancel();
  });

  it("stays open after the run ends (its end is a relay event), and takes a read token in ?token=", async () => {
    const runId = newRunId("session-end");
    await appendOk(runId, [sdkLine(1)]);
    expect((await complete(runId)).status).toBe(200);
    const token = await tokenFor(runId, "read");
    const sse = await openSse(runId, { path: `${STREAM}?token=${token}`, headers: { Authorization: "" } });
    expect(sse.res.status).toBe(200);
    const got = await frames(sse, 2);
    expect(got[1]!.data).toMatchObject({ sequence_num: 2, source: "relay", payload: { type: "runrelay_status", status: "completed" } });
    expect((await info(runId)).clients.session).toBe(1);
    expect(sse.frames.closed).toBe(false);
    await sse.cancel();
  });
});

describe("answering the agent through POST …/session/events", () => {
  it("takes the first answer only: the runner gets one control input; a second answer is refused and stores nothing; a retry is idempotent", async () => {
    const runId = newRunId("session-first");
    await appendOk(runId, [sdkLine(1), prompt("perm-1")]);
    const first = allow("perm-1");
    const a = await send(runId, [first]);
    expect(a.status).toBe(200);
    const { events } = (await a.json()) as { events: { event_id: string; sequence_num: number }[] };
    expect(events).toEqual([{ event_id: first.uuid, sequence_num: 3 }]);

    const second = await send(runId, [allow("perm-1")]);
    await expectError(second, 409, "request_settled");
    const retry = await send(runId, [first]);
    expect(await retry.json()).toEqual({ events });

    const log = await readAll(runId);
    expect(log.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(log[2]!.data).toEqual({ kind: "control", inputId: 1, payload: first });
    const reply = await poll(runId, 0);
    expect(reply.inputs).toEqual([{ id: 1, kind: "control", payload: first, createdAt: expect.any(Number), eventId: 3 }]);
  });

  it("a prompt the runner answered, or the agent cancelled, takes no answer", async () => {
    const runId = newRunId("session-settled");
    await appendOk(runId, [prompt("p1"), prompt("p2")]);
    await appendOk(runId, [
      { type: "control_response", response: { subtype: "success", request_id: "p1", response: { behavior: "deny", message: "timed out" } } },
      { type: "control_cancel_request", request_id: "p2" },
    ]);
    expect(await expectError(await send(runId, [allow("p1")]), 409, "request_settled")).toContain("answered by the runner");
    expect(await expectError(await send(runId, [allow("p2")]), 409, "request_settled")).toContain("cancelled by the agent");
    expect((await info(runId)).pendingInputs).toBe(0);
  });

  it("queues a user message with its uuid and a control request as they were sent", async () => {
    const runId = newRunId("session-inputs");
    await appendOk(runId, [sdkLine(1)]);
    const msg = user("go on");
    const init = { type: "control_request", request_id: "init-1", request: { subtype: "initialize", hooks: {} }, uuid: crypto.randomUUID() };
    expect((await send(runId, [msg, init])).status).toBe(200);
    expect((await poll(runId, 0)).inputs).toEqual([
      { id: 1, kind: "message", message: msg.message, uuid: msg.uuid, createdAt: expect.any(Number), eventId: 2 },
      { id: 2, kind: "control", payload: init, createdAt: expect.any(Number), eventId: 3 },
    ]);
  });

  it("refuses bad input with a clear error and stores nothing", async () => {
    const runId = newRunId("session-bad");
    await appendOk(runId, [sdkLine(1), prompt("r1")]);
    const { uuid: _, ...noUuid } = user("hi");
    const cases: [Response, number, string][] = [
      [await send(runId, [noUuid]), 400, "bad_body"],
      [await send(runId, [{ type: "keep_alive", uuid: crypto.randomUUID() }]), 400, "bad_body"],
      [await send(runId, [allow("nobody-asked")]), 404, "unknown_request"],
      [await send(runId, [{ ...allow("r1"), response: { subtype: "error", request_id: "r1", error: "canUseTool callback is not provided." } }]), 422, "not_an_answer"],
      [await send(runId, [user("x".repeat(70_000))]), 413, "message_too_large"],
      [await send(runId, [user("hi")], { headers: { Authorization: `Bearer ${await tokenFor(runId, "read")}` } }), 403, "forbidden"],
      [await send(runId, [user("hi")], { sessionId: "another-run" }), 400, "session_mismatch"],
      [await send(runId, []), 400, "bad_body"],
      [await postJson(runId, "/session/events", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"), 400, "too_deep"],
      [await send(runId, [allow("r1"), allow("r1")]), 409, "request_settled"],
      [await send(runId, [user("ok"), allow("nobody")]), 404, "unknown_request"],
    ];
    const messages = [];
    for (const [res, status, code] of cases) messages.push(await expectError(res, status, code));
    expect(messages[1]).toContain('unknown event type "keep_alive"');
    expect(messages[0]).toContain("uuid");
    expect((await readAll(runId)).map((e) => e.id)).toEqual([1, 2]);
    expect((await info(runId)).pendingInputs).toBe(0);
    // The prompt is still open: a good answer is taken.
    expect((await send(runId, [allow("r1")])).status).toBe(200);
  });

  it("a read token may post initialize (the SDK's first post) and nothing else", async () => {
    const runId = newRunId("session-read");
    await appendOk(runId, [sdkLine(1), prompt("r1")]);
    const read = { Authorization: `Bearer ${await tokenFor(runId, "read")}` };
    const init = { type: "control_request", request_id: "i1", request: { subtype: "initialize" }, uuid: crypto.randomUUID() };
    expect((await send(runId, [init], { headers: read })).status).toBe(200);
    await expectError(await send(runId, [allow("r1")], { headers: read }), 403, "forbidden");
    await expectError(await send(runId, [{ ...init, uuid: crypto.randomUUID(), request: { subtype: "interrupt" } }], { headers: read }), 403, "forbidden");
    expect((await poll(runId, 0)).inputs.map((i) => i.payload?.request)).toEqual([{ subtype: "initialize" }]);
  });

  it("an answer after the run ended is refused", async () => {
    const runId = newRunId("session-ended");
    await appendOk(runId, [prompt("r1")]);
    await complete(runId, "cancelled");
    await expectError(await send(runId, [allow("r1")]), 409, "run_ended");
    const res = await append(runId, [sdkLine(2)]);
    expect(res.status).toBe(409);
    expect((await call(runId)).status).toBe(200);
  });
});
