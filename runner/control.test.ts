/** The control protocol between participants and the agent (control.ts), with a scripted source. */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Input } from "../src/protocol/index.ts";
import { Controls, type SourceControl } from "./control.ts";
import { permissionResult, type Json } from "./prompts.ts";
import { UndeliverableError } from "./inputs.ts";
import { silent } from "./report.ts";
import { TurnTracker } from "./turns.ts";

let nextId = 1;
const control = (payload: Json): Input => ({ id: nextId++, kind: "control", payload, createdAt: 0, eventId: 1 });
const request = (requestId: string, req: Json) => control({ type: "control_request", request_id: requestId, request: req, uuid: `u-${requestId}` });
const answer = (requestId: string, response: Json) =>
  control({ type: "control_response", response: { subtype: "success", request_id: requestId, response }, uuid: `u-a-${requestId}` });
const line = (o: Json) => JSON.stringify(o);

/** A Controls over a recording source: what was written to the agent, what the runner shipped, how often it interrupted. */
function setup(control: Partial<SourceControl> = {}, opts: { permissionTimeoutSeconds?: number; busy?: boolean } = {}) {
  const written: Json[] = [];
  const emitted: Json[] = [];
  const interrupts: number[] = [];
  const turn = new TurnTracker({ idle: !(opts.busy ?? true) });
  const source = {
    control: { write: async (m: Json) => void written.push(m), ...control },
    interrupt: async (input?: Input) => void interrupts.push(input?.id ?? 0),
  };
  const controls = new Controls({ source, turn, ship: (text) => void emitted.push(JSON.parse(text)), report: silent, permissionTimeoutSeconds: opts.permissionTimeoutSeconds });
  return { controls, written, emitted, interrupts, turn };
}

const claude = { answersRequests: true, interruptsByRequest: true };

afterEach(() => vi.useRealTimers());

describe("answers to the agent's requests", () => {
  it("go to the agent as a control_response line (without the post's uuid), once per request_id", async () => {
    const { controls, written, emitted } = setup(claude);
    await controls.deliver(answer("r1", { behavior: "allow", updatedInput: { a: 1 } }));
    await controls.deliver(answer("r1", { behavior: "deny", message: "again" })); // a redelivery
    expect(written).toEqual([{ type: "control_response", response: { subtype: "success", request_id: "r1", response: { behavior: "allow", updatedInput: { a: 1 } } } }]);
    expect(emitted).toEqual([]);
  });

  it("one for a source that takes no control messages and asked nothing is undeliverable", async () => {
    const { controls } = setup({ write: undefined });
    await expect(controls.deliver(answer("r9", { behavior: "allow" }))).rejects.toThrow(UndeliverableError);
    await expect(controls.deliver(control({ type: "something" }))).rejects.toThrow("not_a_control_message");
  });
});

describe("initialize", () => {
  it("the first goes to the agent stripped; later ones are answered from its reply, also when they came before it", async () => {
    const { controls, written, emitted } = setup(claude);
    await controls.deliver(request("i1", { subtype: "initialize", hooks: { PreToolUse: [] }, sdkMcpServers: ["x"], jsonSchema: {} }));
    await controls.deliver(request("i2", { subtype: "initialize", hooks: {} }));
    expect(written).toEqual([{ type: "control_request", request_id: "i1", request: { subtype: "initialize" } }]);
    expect(emitted).toEqual([]); // i2 waits for the first reply

    const reply = { commands: [{ name: "clear" }], models: [], pid: 7 };
    controls.observe(line({ type: "control_response", response: { subtype: "success", request_id: "i1", response: reply } }));
    await Promise.resolve();
    await controls.deliver(request("i3", { subtype: "initialize" }));
    await Promise.resolve();
    expect(emitted).toEqual([
      { type: "control_response", response: { subtype: "success", request_id: "i2", response: reply } },
      { type: "control_response", response: { subtype: "success", request_id: "i3", response: reply } },
    ]);
    expect(written).toHaveLength(1);
  });

  it("a refused first one: those waiting get the error, and the next one goes to the agent again", async () => {
    const { controls, written, emitted } = setup(claude);
    await controls.deliver(request("i1", { subtype: "initialize" }));
    await controls.deliver(request("i2", { subtype: "initialize" }));
    controls.observe(line({ type: "control_response", response: { subtype: "error", request_id: "i1", error: "already initialized" } }));
    await Promise.resolve();
    expect(emitted).toEqual([{ type: "control_response", response: { subtype: "error", request_id: "i2", error: "already initialized" } }]);
    await controls.deliver(request("i3", { subtype: "initialize" }));
    expect(written.map((w) => w.request_id)).toEqual(["i1", "i3"]);
  });

  it("a source that answers requests itself (sdk) answers every one", async () => {
    const handled: Json[] = [];
    const { controls, emitted } = setup({ write: undefined, handle: async (r) => (handled.push(r), { models: ["m"] }) });
    await controls.deliver(request("i1", { subtype: "initialize" }));
    await controls.deliver(request("i2", { subtype: "initialize" }));
    expect(handled).toEqual([{ subtype: "initialize" }, { subtype: "initialize" }]);
    expect(emitted.map((e) => e.response)).toEqual([
      { subtype: "success", request_id: "i1", response: { models: ["m"] } },
      { subtype: "success", request_id: "i2", response: { models: ["m"] } },
    ]);
  });
});

describe("interrupt", () => {
  it("Claude Code's own: written verbatim, the agent answers; the turn counts as interrupted by a participant", async () => {
    const { controls, written, emitted, interrupts, turn } = setup(claude);
    const input = request("x1", { subtype: "interrupt" });
    await controls.deliver(input);
    expect(written).toEqual([input.payload]);
    expect(emitted).toEqual([]);
    expect(interrupts).toEqual([]);
    turn.observe(line({ type: "result", subtype: "error_during_execution", is_error: true }));
    expect(turn.lastTurnInterrupted).toBe(true);
  });

  it("otherwise the source stops the turn (SIGINT, query.interrupt()) and the runner answers", async () => {
    const { controls, written, emitted, interrupts } = setup({ answersRequests: false });
    const input = request("x2", { subtype: "interrupt" });
    await controls.deliver(input);
    expect(interrupts).toEqual([input.id]);
    expect(written).toEqual([]);
    expect(emitted).toEqual([{ type: "control_response", response: { subtype: "success", request_id: "x2" } }]);
  });

  it("with no turn in flight it is answered and stops nothing", async () => {
    const { controls, written, emitted, interrupts, turn } = setup(claude, { busy: false });
    await controls.deliver(request("x3", { subtype: "interrupt" }));
    expect([written, interrupts]).toEqual([[], []]);
    expect(emitted).toEqual([{ type: "control_response", response: { subtype: "success", request_id: "x3" } }]);
    expect(turn.idle).toBe(true);
  });
});

describe("other requests", () => {
  it("go verbatim to an agent that answers them, once per request_id", async () => {
    const { controls, written } = setup(claude);
    const input = request("m1", { subtype: "set_permission_mode", mode: "acceptEdits" });
    await controls.deliver(input);
    await controls.deliver(input);
    expect(written).toEqual([input.payload]);
  });

  it("are carried out by the source's handle, or get an error reply", async () => {
    const sdk = setup({
      write: undefined,
      handle: async (r) => {
        if (r.subtype === "set_model") return undefined;
        throw new Error(`the sdk runner does not handle ${r.subtype}`);
      },
    });
    await sdk.controls.deliver(request("s1", { subtype: "set_model", model: "m" }));
    await sdk.controls.deliver(request("s2", { subtype: "mcp_status" }));
    expect(sdk.emitted).toEqual([
      { type: "control_response", response: { subtype: "success", request_id: "s1" } },
      { type: "control_response", response: { subtype: "error", request_id: "s2", error: "the sdk runner does not handle mcp_status" } },
    ]);

    const plain = setup({ answersRequests: false });
    await plain.controls.deliver(request("p1", { subtype: "initialize" }));
    expect(plain.written).toEqual([]);
    expect(plain.emitted).toEqual([
      { type: "control_response", response: { subtype: "error", request_id: "p1", error: "initialize is not supported: this runner's agent does not take control requests" } },
    ]);
  });
});

describe("the permission timeout (the agent's prompts)", () => {
  const prompt = (id: string) => line({ type: "control_request", request_id: id, request: { subtype: "can_use_tool", tool_name: "Write", input: {} } });
  const deny = (id: string) => ({
    type: "control_response",
    response: { subtype: "success", request_id: id, response: { behavior: "deny", message: "no one answered the permission prompt within 2 s" } },
  });

  it("a prompt no one answers is denied: written to the agent and shipped; a late answer is ignored", async () => {
    vi.useFakeTimers();
    const { controls, written, emitted } = setup(claude, { permissionTimeoutSeconds: 2 });
    controls.observe(prompt("p1"));
    vi.advanceTimersByTime(1999);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toEqual([deny("p1")]);
    expect(emitted).toEqual([deny("p1")]);
    await controls.deliver(answer("p1", { behavior: "allow" }));
    expect(written).toHaveLength(1);
  });

  it("an answer in time, or the agent's cancel, stops the clock; without a timeout nothing is denied", async () => {
    vi.useFakeTimers();
    const { controls, written, emitted } = setup(claude, { permissionTimeoutSeconds: 2 });
    controls.observe(prompt("p2"));
    controls.observe(prompt("p3"));
    await controls.deliver(answer("p2", { behavior: "allow" }));
    controls.observe(line({ type: "control_cancel_request", request_id: "p3" }));
    vi.advanceTimersByTime(10_000);
    expect(written.map((w) => (w.response as Json).request_id)).toEqual(["p2"]);
    expect(emitted).toEqual([]);

    const patient = setup(claude);
    patient.controls.observe(prompt("p4"));
    vi.advanceTimersByTime(3_600_000);
    expect([patient.written, patient.emitted]).toEqual([[], []]);
  });
});

describe("prompts the runner asks for the source (sdk)", () => {
  const req = { subtype: "can_use_tool", tool_name: "Write", input: { file_path: "/x" }, tool_use_id: "t1" };

  it("ships the request and resolves with the participant's answer; a second answer is ignored", async () => {
    const { controls, emitted, written } = setup({ write: undefined });
    const asked = controls.ask(req);
    expect(emitted).toEqual([{ type: "control_request", request_id: expect.any(String), request: req }]);
    const id = emitted[0]!.request_id as string;
    controls.observe(line(emitted[0]!)); // its own line comes back through the source's lines: no timer, nothing written
    await controls.deliver(answer(id, { behavior: "allow", updatedInput: { file_path: "/y" } }));
    expect(await asked).toEqual({ subtype: "success", request_id: id, response: { behavior: "allow", updatedInput: { file_path: "/y" } } });
    await controls.deliver(answer(id, { behavior: "deny" }));
    expect(written).toEqual([]);
  });

  it("denies after the timeout (shipped too); an abort ships a cancel; closing gives up what waits", async () => {
    vi.useFakeTimers();
    const { controls, emitted } = setup({ write: undefined }, { permissionTimeoutSeconds: 1.5 });
    const timed = controls.ask(req);
    vi.advanceTimersByTime(1500);
    const id = emitted[0]!.request_id as string;
    expect(await timed).toEqual({ subtype: "success", request_id: id, response: { behavior: "deny", message: "no one answered the permission prompt within 1.5 s" } });
    expect(emitted[1]).toEqual({ type: "control_response", response: await timed });

    const abort = new AbortController();
    const aborted = controls.ask(req, abort.signal);
    abort.abort();
    expect(await aborted).toBeUndefined();
    expect(emitted[3]).toEqual({ type: "control_cancel_request", request_id: emitted[2]!.request_id });

    const left = controls.ask(req);
    controls.close();
    expect(await left).toBeUndefined();
  });
});

describe("permissionResult", () => {
  const ok = (response: Json) => ({ subtype: "success", request_id: "r", response });
  it("maps an answer to the SDK's PermissionResult", () => {
    const input = { file_path: "/x" };
    expect(permissionResult(ok({ behavior: "allow" }), input)).toEqual({ behavior: "allow", updatedInput: input });
    expect(permissionResult(ok({ behavior: "allow", updatedInput: { file_path: "/y" }, updatedPermissions: [{ type: "setMode" }] }), input)).toEqual({
      behavior: "allow",
      updatedInput: { file_path: "/y" },
      updatedPermissions: [{ type: "setMode" }],
    });
    expect(permissionResult(ok({ behavior: "deny" }), input)).toEqual({ behavior: "deny", message: "denied by a participant" });
    expect(permissionResult(ok({ behavior: "deny", message: "no", interrupt: true }), input)).toEqual({ behavior: "deny", message: "no", interrupt: true });
    expect(permissionResult({ subtype: "error", request_id: "r", error: "boom" }, input)).toEqual({ behavior: "deny", message: "the permission prompt failed: boom" });
    expect(permissionResult(undefined, input)).toEqual({ behavior: "deny", message: "the permission prompt was cancelled" });
  });
});
