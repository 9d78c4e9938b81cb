/**
 * The runner's relay client and session flow against a tiny in-process fake
 * relay (node:http on 127.0.0.1): token renewal, the producer epoch claim and
 * fencing, heartbeats, undelivered inputs, backoff.
 */
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Input, UserMessage } from "../src/protocol/index.ts";
import { backoff, FatalError, RelayClient } from "./relay.ts";
import { silent } from "./report.ts";
import { runSession, type Source, type SourceLine, type SourceStart } from "./session.ts";
import { TookOverError } from "./shipper.ts";
import { Spool } from "./spool.ts";

interface Call {
  method: string;
  path: string;
  token: string | undefined;
  producer?: { id: string; epoch: number; seq: number };
  body: string;
}

/** A fake relay: producers with epochs and seqs, a queue of inputs, tokens it accepts. */
class FakeRelay {
  url = "";
  calls: Call[] = [];
  /** Tokens answered with 401 token_expired; any other is accepted. */
  expired = new Set<string>();
  producers = new Map<string, { epoch: number; seq: number }>();
  lines: string[] = [];
  inputs: Input[] = [];
  undelivered: { inputIds: number[]; reason: string }[] = [];
  completed: unknown[] = [];
  leaseSeconds = 90;
  /** Answer GET /inputs with 503 (the input loop backs off). */
  inputsDown = false;
  #waiters = new Set<() => void>();
  #server = createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Resolves once `ok()` holds (checked after every request). */
  until(ok: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => ok() && (this.#waiters.delete(check), resolve());
      this.#waiters.add(check);
      check();
    });
  }

  count(path: string): number {
    return this.calls.filter((c) => c.path.endsWith(path)).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url!, this.url);
    const token = req.headers.authorization?.replace(/^Bearer /, "");
    const path = url.pathname.replace(/^\/api\/v1\/workflows\/[^/]+/, "") || "/";
    const call: Call = { method: req.method!, path, token, body };
    const header = (name: string) => req.headers[name.toLowerCase()] as string | undefined;
    // The producer triple of an append (a long-poll names only the claimed epoch, with no seq).
    if (header("Producer-Seq") !== undefined) call.producer = { id: header("Producer-Id")!, epoch: Number(header("Producer-Epoch")), seq: Number(header("Producer-Seq")) };
    this.calls.push(call);
    const json = (status: number, value?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...(value !== undefined && { "Content-Type": "application/json" }), ...headers }).end(value === undefined ? undefined : JSON.stringify(value));
      for (const check of [...this.#waiters]) check();
    };
    const error = (status: number, code: string, headers: Record<string, string> = {}) => json(status, { error: { code, message: code } }, headers);
    if (token && this.expired.has(token)) return error(401, "token_expired");

    const claim = path.match(/^\/producers\/([^/]+)\/claim$/);
    if (claim) {
      const id = decodeURIComponent(claim[1]!);
      const current = this.producers.get(id);
      const epoch = current ? current.epoch + 1 : 0;
      this.producers.set(id, { epoch, seq: -1 });
      return json(200, { producerId: id, epoch });
    }
    if (path === "/events" && call.producer) {
      const { id, epoch, seq } = call.producer;
      const current = this.producers.get(id) ?? { epoch, seq: -1 };
      if (epoch < current.epoch) return error(403, "stale_producer_epoch", { "Producer-Epoch": String(current.epoch) });
      if (epoch > current.epoch) current.seq = -1;
      if (seq <= current.seq && epoch === current.epoch) return json(204);
      if (seq > current.seq + 1) return error(409, "producer_seq_gap", { "Producer-Expected-Seq": String(current.seq + 1), "Producer-Received-Seq": String(seq) });
      this.producers.set(id, { epoch, seq });
      this.lines.push(...body.trim().split("\n"));
      return json(200, { lastEventId: this.lines.length });
    }
    if (path === "/inputs") {
      if (this.inputsDown) return error(503, "unavailable");
      const after = Number(url.searchParams.get("after"));
      return json(200, { inputs: this.inputs.filter((i) => i.id > after), ended: this.completed.length > 0, leaseSeconds: this.leaseSeconds });
    }
    if (path === "/heartbeat") return json(204);
    if (path === "/inputs/undelivered") {
      this.undelivered.push(JSON.parse(body));
      return json(200, { ok: true });
    }
    if (path === "/complete") {
      this.completed.push(JSON.parse(body));
      return json(200, { lastEventId: this.lines.length });
    }
    return error(404, "not_found");
  }
}

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
const relays: FakeRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});
const fakeRelay = async () => {
  const relay = await new FakeRelay().start();
  relays.push(relay);
  return relay;
};
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

describe("tokens that renew", () => {
  it("a 401 renews a function token once and retries; requests that hit the same expired token share one renewal", async () => {
    const relay = await fakeRelay();
    let n = 0;
    const client = new RelayClient({ url: relay.url, runId: "run-1", token: async () => `t${++n}` });
    await client.heartbeat();
    expect(relay.calls.map((c) => c.token)).toEqual(["t1"]);
    relay.expired.add("t1");
    await Promise.all([client.heartbeat(), client.pollInputs(0, 0), client.complete("completed")]);
    expect(n).toBe(2);
    expect(client.renewals).toBe(1);
    expect(relay.calls.slice(1).map((c) => c.token).sort()).toEqual(["t1", "t1", "t1", "t2", "t2", "t2"]);
  });

  it("a second 401 after the renewal is final, and so is a 401 with a fixed token", async () => {
    const relay = await fakeRelay();
    relay.expired.add("old");
    const renewing = new RelayClient({ url: relay.url, runId: "run-1", token: async () => "old" });
    await expect(renewing.complete("completed")).rejects.toMatchObject({ status: 401, code: "token_expired" });
    const fixed = new RelayClient({ url: relay.url, runId: "run-1", token: "old" });
    await expect(fixed.heartbeat()).rejects.toBeInstanceOf(FatalError);
    expect(relay.calls).toHaveLength(3); // first try and retry for the renewing client, one try for the fixed one
  });

  it("a token source that fails is a clear fatal error", async () => {
    const relay = await fakeRelay();
    const client = new RelayClient({ url: relay.url, runId: "run-1", token: async () => Promise.reject(new Error("no such file")) });
    await expect(client.heartbeat()).rejects.toThrow("cannot get a runner token: no such file");
    const empty = new RelayClient({ url: relay.url, runId: "run-1", token: async () => " \n" });
    await expect(empty.heartbeat()).rejects.toThrow(/empty token/);
  });
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

describe("backoff", () => {
  it("doubles from the base up to the cap, with jitter in the upper half; honours Retry-After up to 4× the cap", () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const d = backoff(attempt, opts);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(backoff(0, opts, 2500)).toBe(2500);
    expect(backoff(0, opts, 60_000)).toBe(4000);
  });
});
