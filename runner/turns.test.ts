import { describe, expect, it } from "vitest";
import { initSessionId, TurnTracker } from "./turns.ts";

const result = (subtype = "success", isError = false) => JSON.stringify({ type: "result", subtype, is_error: isError, result: "r" });
const lifecycle = (uuid: string, state: string) => JSON.stringify({ type: "command_lifecycle", command_uuid: uuid, state });

describe("TurnTracker", () => {
  it("a turn is in flight from the start until its result; then the agent is idle", () => {
    const t = new TurnTracker();
    expect(t.idle).toBe(false);
    t.observe('{"type":"assistant"}');
    expect(t.idle).toBe(false);
    t.observe(result());
    expect(t.idle).toBe(true);
    expect(t.lastResult?.subtype).toBe("success");
  });

  it("a resumed session starts idle", () => {
    expect(new TurnTracker({ idle: true }).idle).toBe(true);
  });

  it("an injected message starts a turn; with lifecycles, idle waits for every injected command to complete", () => {
    const t = new TurnTracker();
    t.observe(result());
    t.injected("u1");
    expect(t.idle).toBe(false);
    t.observe(lifecycle("u1", "queued"));
    t.injected("u2"); // sent mid-turn: folded into the same turn
    t.observe(lifecycle("u2", "queued"));
    t.observe(lifecycle("u1", "completed"));
    t.observe(result());
    expect(t.idle).toBe(false); // u2 still pending
    t.observe(lifecycle("u2", "started"));
    t.observe(lifecycle("u2", "completed"));
    expect(t.idle).toBe(true);
  });

  it("an interrupt while idle is acknowledged and changes no later turn", () => {
    const t = new TurnTracker();
    t.observe(result());
    expect(t.interrupted()).toBe(false);
    t.injected("u1");
    t.observe(result());
    expect(t.lastTurnInterrupted).toBe(false);
  });

  it("an interrupt during a turn marks that turn interrupted when its result is not a success", () => {
    const t = new TurnTracker();
    expect(t.interrupted()).toBe(true);
    t.observe(result("error_during_execution", true));
    expect(t.lastTurnInterrupted).toBe(true);
    // The next turn is not affected.
    t.injected(undefined);
    t.observe(result());
    expect(t.lastTurnInterrupted).toBe(false);
  });

  it("an interrupt that raced with the turn's own successful end does not make it a cancellation", () => {
    const t = new TurnTracker();
    expect(t.interrupted()).toBe(true);
    t.observe(result());
    expect(t.lastTurnInterrupted).toBe(false);
    t.injected(undefined);
    t.observe(result("error_during_execution", true));
    expect(t.lastTurnInterrupted).toBe(false); // the interrupt was used up by the earlier result
  });

  it("ignores lines that are not JSON objects", () => {
    const t = new TurnTracker();
    for (const text of ["not json", "null", "[1]", "3"]) t.observe(text);
    expect(t.idle).toBe(false);
  });
});

describe("initSessionId", () => {
  it("reads the session id of a system/init line only", () => {
    expect(initSessionId('{"type":"system","subtype":"init","session_id":"s-1"}')).toBe("s-1");
    expect(initSessionId('{"type":"system","subtype":"status","session_id":"s-1","x":"init"}')).toBeUndefined();
    expect(initSessionId('{"type":"assistant","session_id":"s-1"}')).toBeUndefined();
    expect(initSessionId('{"type":"system","subtype":"init"')).toBeUndefined();
  });
});
