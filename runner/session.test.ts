/**
 * The runner's session flow against a tiny in-process fake relay (fake-relay.ts):
 * the producer epoch claim and fencing, heartbeats, undelivered inputs.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Input, UserMessage } from "../src/protocol/index.ts";
import { fakeRelayPerTest, type FakeRelay } from "./fake-relay.ts";
import { silent } from "./report.ts";
import { runSession, type Source, type SourceLine, type SourceStart } from "./session.ts";
import { TookOverError } from "./shipper.ts";
import { Spool } from "./spool.ts";

/**
 * A source that prints the given lines, and then whatever the test says, until
 * it is ended (by the session when the agent is idle, or by the test).
 */
function agent(lines: string[], opts: { injectFails?: (m: UserMessage) => boolean; resumable?: boolean } = {}) {
  const queue = [...lines];
  const injected: UserMessage[] = [];
  const starts: (SourceStart | undefined)[] = [];
  let closed = false;
  let wake: () => void = () => {};
  const source: Source = {
    resumable: opts.resumable ?? true,
    async *lines(_from?: number, start?: SourceStart): AsyncIterable<SourceLine> {
      starts.push(start);
      for (;;) {
        while (queue.length > 0) yield { text: queue.shift()! };
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async inject(message) {
      if (opts.injectFails?.(message)) throw new Error("the agent's input broke");
      injected.push(message);
      say(JSON.stringify({ type: "assistant", echo: message.content }), result); // a turn, and its end
      return undefined;
    },
    async interrupt() {},
    end() {
      closed = true;
      wake();
    },
  };
  const say = (...texts: string[]) => {
    queue.push(...texts);
    wake();
  };
  return { source, injected, starts, say };
}

const result = JSON.stringify({ type: "result", subtype: "success", is_error: false });
const fakeRelay = fakeRelayPerTest();
const spoolPath = () => join(mkdtempSync(join(tmpdir(), "runrelay-unit-")), "run.spool.jsonl");
const session = (relay: FakeRelay, source: Source, extra: Partial<Parameters<typeof runSession>[1]> = {}) =>
  runSession(source, {
    relay: { url: relay.url, runId: "run-1", token: "t0" },
    spool: null,
    idleTimeoutSeconds: 0,
    report: silent,
    retry: { baseMs: 5, maxMs: 20 },
    pollSeconds: 0,
    ...extra,
  });

describe("producer epochs", () => {
  it("a new runner claims an epoch and numbers its batches from 0 as producer `runner`", async () => {
    const relay = await fakeRelay();
    const { source } = agent(['{"n":1}', '{"n":2}', result]);
    expect((await session(relay, source)).status).toBe("completed");
    expect(relay.calls.find((c) => c.path.includes("/claim"))?.path).toBe("/producers/runner/claim");
    expect(relay.calls.filter((c) => c.producer).map((c) => c.producer)).toEqual([{ id: "runner", epoch: 0, seq: 0 }]);
    expect(relay.lines).toEqual(['{"n":1}', '{"n":2}', result]);
  });

  it("a restart resends unacknowledged batches under their own epoch first, then claims the next epoch and starts at seq 0", async () => {
    const relay = await fakeRelay();
    const path = spoolPath();
    const old = Spool.open(path, "run-1");
    old.claimed(0);
    relay.producers.set("runner", { epoch: 0, seq: -1 });
    old.acknowledge(old.add(['{"n":1}'])); // the relay had it, and said so …
    relay.producers.set("runner", { epoch: 0, seq: 0 });
    relay.lines.push('{"n":1}');
    old.add(['{"n":2}']); // … this one it never acknowledged
    old.recordSession("s-1");

    const { source, starts } = agent([result]);
    expect((await session(relay, source, { spool: path })).status).toBe("completed");
    const order = relay.calls.filter((c) => c.producer || c.path.includes("/claim")).map((c) => (c.producer ? `${c.producer.epoch}:${c.producer.seq}` : "claim"));
    expect(order).toEqual(["0:1", "claim", "1:0"]);
    expect(relay.lines).toEqual(['{"n":1}', '{"n":2}', result]);
    expect(starts).toEqual([{ resume: "s-1", env: expect.objectContaining({ RUNRELAY_AGENT_RUN: "run-1" }), ask: expect.any(Function) }]);
  });

  it("a source that cannot resume (a follower, like tail) is started as usual on a spool with a session", async () => {
    const relay = await fakeRelay();
    const path = spoolPath();
    Spool.open(path, "run-1").recordSession("s-1");
    const { source, starts } = agent([result], { resumable: false });
    expect((await session(relay, source, { spool: path })).status).toBe("completed");
    expect(starts).toEqual([{ env: expect.objectContaining({ RUNRELAY_AGENT_RUN: "run-1" }), ask: expect.any(Function) }]);
  });

  it("a runner whose batch meets a newer epoch stops with TookOverError, does not complete, and keeps its spool", async () => {
    const relay = await fakeRelay();
    const path = spoolPath();
    const { source, say } = agent(['{"n":1}']);
    const running = session(relay, source, { spool: path });
    await relay.until(() => relay.lines.length === 1);
    relay.producers.set("runner", { epoch: 5, seq: -1 }); // another runner claimed the run
    say('{"n":2}');
    await expect(running).rejects.toThrow(new TookOverError("run-1"));
    expect(relay.completed).toEqual([]);
    expect(Spool.open(path, "run-1").unacknowledged()).toMatchObject([{ lines: ['{"n":2}'] }]);
  });
});

describe("inputs", () => {
  it("a failed injection is reported undelivered with the reason, and the loop goes on", async () => {
    const relay = await fakeRelay();
    const message = (id: number, text: string): Input => ({ id, kind: "message", message: { role: "user", content: text }, createdAt: 0, eventId: id });
    relay.inputs.push(message(1, "breaks"), message(2, "fine"));
    const { source, injected } = agent([result], { injectFails: (m) => m.content === "breaks" });
    expect((await session(relay, source)).status).toBe("completed");
    expect(relay.undelivered).toEqual([{ inputIds: [1], reason: "injection_failed: the agent's input broke" }]);
    expect(injected).toEqual([{ role: "user", content: "fine" }]);
    expect(relay.calls.filter((c) => c.path === "/inputs").at(-1)?.method).toBe("GET");
  });

  it("heartbeats keep the lease while the input loop backs off", async () => {
    const relay = await fakeRelay();
    relay.leaseSeconds = 1;
    const { source } = agent(['{"n":1}']);
    const running = session(relay, source, { retry: { baseMs: 60_000, maxMs: 60_000 } });
    await relay.until(() => relay.count("/inputs") >= 1 && relay.calls.some((c) => c.producer));
    relay.inputsDown = true;
    await relay.until(() => relay.count("/heartbeat") >= 2);
    relay.inputsDown = false;
    source.end();
    await running;
    // Never a gap of more than a third of the lease without a request: the heartbeats filled it.
    expect(relay.count("/heartbeat")).toBeGreaterThanOrEqual(2);
  });
});
