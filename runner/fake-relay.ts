/**
 * A tiny in-process fake relay (node:http on 127.0.0.1) for the runner's unit
 * tests (relay.test.ts, session.test.ts): producers with epochs and seqs, a
 * queue of inputs, tokens it accepts or answers 401, and a record of every call.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { afterEach } from "vitest";
import type { Input } from "../src/protocol/index.ts";

export interface Call {
  method: string;
  path: string;
  token: string | undefined;
  producer?: { id: string; epoch: number; seq: number };
  body: string;
}

/** A fake relay: producers with epochs and seqs, a queue of inputs, tokens it accepts. */
export class FakeRelay {
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

/** For a test file: starts a fake relay for a test, stopped after it (vitest's `afterEach`). */
export function fakeRelayPerTest(): () => Promise<FakeRelay> {
  const relays: FakeRelay[] = [];
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
  });
  return async () => {
    const relay = await new FakeRelay().start();
    relays.push(relay);
    return relay;
  };
}
