/**
 * The two things measured, behind one interface: runrelay (its API under
 * /api/v1/workflows/:runId, with real per-run tokens and the runner's
 * idempotent-producer headers) and the floor (bench/floor: /runs/:runId, no
 * auth). Every measurement talks to a Target, never to a URL of its own.
 */
import type { Scope } from "../../src/protocol/index.ts";
import { mintToken } from "../../src/worker/tokens.ts";
import type { Dev } from "./dev.ts";

export type TargetName = "relay" | "floor";

export interface RunInfo {
  /** Long-polls waiting in the run's object now. */
  waiting: number;
  /** The run's rowsWritten counter, if it reports one. */
  rowsWritten: number | undefined;
}

export interface Target {
  name: TargetName;
  dev: Dev;
  /** A run id not used before. */
  newRun(phase: string): string;
  /** Appends NDJSON lines as the run's producer; throws unless 200. */
  append(runId: string, lines: readonly string[]): Promise<number>;
  /** The plain request: the run's `GET /`. */
  info(runId: string): Promise<RunInfo>;
  /** The runner's long-poll; resolves with the first input's id (undefined if none came). */
  poll(runId: string, after: number, waitSeconds: number): Promise<number | undefined>;
  /** A participant's message; resolves with its input id. */
  message(runId: string, text: string): Promise<number>;
  /** A page of the log after `after`: its entries' ids. */
  page(runId: string, after: number): Promise<number[]>;
  sseUrl(runId: string, after: number): Promise<string>;
  wsUrl(runId: string, after: number): Promise<string>;
}

const NDJSON = "application/x-ndjson";
let runCounter = 0;
const newRunId = (name: string, phase: string) => `bench-${name}-${phase}-${Date.now().toString(36)}-${++runCounter}`;

/** Every request is bounded: a Worker that stops answering fails the phase instead of hanging the bench. */
const REQUEST_MS = 60_000;
const req = (url: string, init: RequestInit = {}, ms = REQUEST_MS) => fetch(url, { ...init, signal: AbortSignal.timeout(ms) });

async function ok(res: Response, what: string, expect = [200]): Promise<Response> {
  if (!expect.includes(res.status)) {
    const body = await res.text().catch(() => "");
    throw new Error(`${what}: HTTP ${res.status} ${body.slice(0, 300)}`);
  }
  return res;
}

export function relayTarget(dev: Dev, secret: string): Target {
  const tokens = new Map<string, string>();
  const seqs = new Map<string, number>();
  const token = async (runId: string, scope: Scope) => {
    const key = `${runId} ${scope}`;
    let t = tokens.get(key);
    if (!t) tokens.set(key, (t = (await mintToken(secret, runId, scope, 24 * 3600)).token));
    return t;
  };
  const base = (runId: string) => `${dev.url}/api/v1/workflows/${runId}`;
  const auth = async (runId: string, scope: Scope) => ({ Authorization: `Bearer ${await token(runId, scope)}` });
  return {
    name: "relay",
    dev,
    newRun: (phase) => newRunId("relay", phase),
    async append(runId, lines) {
      const seq = seqs.get(runId) ?? 0;
      seqs.set(runId, seq + 1);
      const res = await req(`${base(runId)}/events`, {
        method: "POST",
        headers: { ...(await auth(runId, "runner")), "Content-Type": NDJSON, "Producer-Id": "bench", "Producer-Epoch": "0", "Producer-Seq": String(seq) },
        body: lines.join("\n") + "\n",
      });
      return ((await (await ok(res, "POST /events")).json()) as { lastEventId: number }).lastEventId;
    },
    async info(runId) {
      const res = await ok(await req(base(runId), { headers: await auth(runId, "read") }), "GET /");
      const body = (await res.json()) as { clients?: { runners?: number }; rowsWritten?: number };
      return { waiting: body.clients?.runners ?? 0, rowsWritten: typeof body.rowsWritten === "number" ? body.rowsWritten : undefined };
    },
    async poll(runId, after, waitSeconds) {
      const res = await req(`${base(runId)}/inputs?after=${after}&wait=${waitSeconds}`, { headers: await auth(runId, "runner") }, REQUEST_MS + waitSeconds * 1000);
      return ((await (await ok(res, "GET /inputs")).json()) as { inputs: { id: number }[] }).inputs[0]?.id;
    },
    async message(runId, text) {
      const res = await req(`${base(runId)}/messages`, {
        method: "POST",
        headers: { ...(await auth(runId, "write")), "Content-Type": "application/json" },
        body: JSON.stringify({ message: text }),
      });
      return ((await (await ok(res, "POST /messages", [202])).json()) as { id: number }).id;
    },
    async page(runId, after) {
      const res = await req(`${base(runId)}/events?after=${after}`, { headers: await auth(runId, "read") });
      return ((await (await ok(res, "GET /events")).json()) as { events: { id: number }[] }).events.map((e) => e.id);
    },
    sseUrl: async (runId, after) => `${base(runId)}/stream?after=${after}&token=${await token(runId, "read")}`,
    wsUrl: async (runId, after) => `${base(runId)}/ws?after=${after}&token=${await token(runId, "read")}`.replace(/^http/, "ws"),
  };
}

export function floorTarget(dev: Dev): Target {
  const base = (runId: string) => `${dev.url}/runs/${runId}`;
  return {
    name: "floor",
    dev,
    newRun: (phase) => newRunId("floor", phase),
    async append(runId, lines) {
      const res = await req(`${base(runId)}/events`, { method: "POST", headers: { "Content-Type": NDJSON }, body: lines.join("\n") + "\n" });
      return ((await (await ok(res, "POST /events")).json()) as { lastEventId: number }).lastEventId;
    },
    async info(runId) {
      const body = (await (await ok(await req(base(runId)), "GET /")).json()) as { waiting: number; rowsWritten: number };
      return { waiting: body.waiting, rowsWritten: body.rowsWritten };
    },
    async poll(runId, after, waitSeconds) {
      const res = await req(`${base(runId)}/inputs?after=${after}&wait=${waitSeconds}`, {}, REQUEST_MS + waitSeconds * 1000);
      return ((await (await ok(res, "GET /inputs")).json()) as { inputs: { id: number }[] }).inputs[0]?.id;
    },
    async message(runId, text) {
      const res = await req(`${base(runId)}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message: text }),
      });
      return ((await (await ok(res, "POST /messages", [202])).json()) as { id: number }).id;
    },
    async page(runId, after) {
      const res = await req(`${base(runId)}/events?after=${after}`);
      return ((await (await ok(res, "GET /events")).json()) as { events: { id: number }[] }).events.map((e) => e.id);
    },
    sseUrl: async (runId, after) => `${base(runId)}/stream?after=${after}`,
    wsUrl: async (runId, after) => `${base(runId)}/ws?after=${after}`.replace(/^http/, "ws"),
  };
}
