/** Clients for the workerd tests: plain requests to the Worker, SSE and WebSocket readers. */
import { env, exports } from "cloudflare:workers";
import { EventSourceParserStream, type EventSourceMessage } from "eventsource-parser/stream";
import { vi } from "vitest";
import type { EventsPage, FinalStatus, InputsReply, RunInfo, Scope, ServerFrame } from "../../src/protocol/index.ts";
import { mintToken } from "../../src/worker/tokens.ts";
import { EVENTUALLY, Inbox, ndjson } from "../support/inbox";

export { Inbox, ndjson, random, range, sdkLine } from "../support/inbox";

let runs = 0;
export const newRunId = (name: string) => `${name}-${++runs}-${crypto.randomUUID().slice(0, 8)}`;

export const url = (runId: string, path = "") => `http://relay.test/api/v1/workflows/${runId}${path}`;
/** The relay's secret in these tests (vitest.config.ts); as a bearer it is an admin credential. */
export const SECRET = "test-secret";
export const ADMIN = { Authorization: `Bearer ${SECRET}` };

/** A request to the Worker exactly as given (no credentials added). */
export const fetchWorker = (input: string, init?: RequestInit) => exports.default.fetch(input, init);

/** A request to a run's API, as admin unless the request carries its own Authorization or ?token. */
export function call(runId: string, path = "", init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("Authorization") && !path.includes("token=")) headers.set("Authorization", ADMIN.Authorization);
  return fetchWorker(url(runId, path), { ...init, headers });
}
export const stubOf = (runId: string) => env.RUNS.get(env.RUNS.idFromName(runId));

export interface ProducerTriple {
  id: string;
  epoch: number;
  seq: number;
}

export function append(runId: string, lines: readonly unknown[] | string, producer?: ProducerTriple, headers: Record<string, string> = {}) {
  return call(runId, "/events", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-ndjson",
      ...(producer && { "Producer-Id": producer.id, "Producer-Epoch": String(producer.epoch), "Producer-Seq": String(producer.seq) }),
      ...headers,
    },
    body: typeof lines === "string" ? lines : ndjson(lines),
  });
}

export async function appendOk(runId: string, lines: readonly unknown[], producer?: ProducerTriple): Promise<number> {
  const res = await append(runId, lines, producer);
  if (res.status !== 200) throw new Error(`append answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { lastEventId: number }).lastEventId;
}

export function complete(runId: string, status: FinalStatus = "completed", reason?: string) {
  return call(runId, "/complete", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ status, ...(reason && { reason }) }),
  });
}

export async function info(runId: string): Promise<RunInfo> {
  const res = await call(runId);
  if (res.status !== 200) throw new Error(`status answered ${res.status}: ${await res.text()}`);
  return res.json();
}

export async function page(runId: string, after = 0, limit?: number): Promise<EventsPage> {
  const res = await call(runId, `/events?after=${after}${limit ? `&limit=${limit}` : ""}`);
  if (res.status !== 200) throw new Error(`page answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Every entry of the log, read page by page. */
export async function readAll(runId: string) {
  const all: EventsPage["events"] = [];
  for (;;) {
    const p = await page(runId, all.at(-1)?.id ?? 0);
    if (p.events.length === 0) return all;
    all.push(...p.events);
  }
}

/** A token for `runId` signed with the tests' secret, valid `ttl` seconds. */
export const tokenFor = async (runId: string, scope: Scope, ttl = 3600) => (await mintToken(SECRET, runId, scope, ttl)).token;

/** A JSON POST (the body as given when it is a string or bytes). */
export function postJson(runId: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const raw = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  return call(runId, path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: raw });
}

/** The runner's long-poll: `GET /inputs?after&wait`. */
export async function poll(runId: string, after: number, wait = 0): Promise<InputsReply> {
  const res = await call(runId, `/inputs?after=${after}&wait=${wait}`);
  if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Resolves once `n` runner long-polls are waiting in the run's object. */
export const runnerWaiting = (runId: string, n = 1) =>
  vi.waitFor(async () => {
    if ((await info(runId)).clients.runners !== n) throw new Error(`waiting for ${n} long-polls`);
  }, EVENTUALLY);

export async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  if (res.status !== status || body.error?.code !== code || typeof body.error.message !== "string") {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
  }
  return body.error.message;
}

export interface SseClient {
  res: Response;
  frames: Inbox<EventSourceMessage>;
  comments: Inbox<string>;
  cancel(): Promise<void>;
}

/** Opens `GET /stream` (or another SSE `path` of the run) and parses its frames as they arrive. */
export async function openSse(
  runId: string,
  opts: { after?: string | number; lastEventId?: string | number; path?: string; headers?: Record<string, string> } = {},
): Promise<SseClient> {
  const query = opts.after === undefined ? "" : `?after=${opts.after}`;
  const headers: Record<string, string> = { ...opts.headers, ...(opts.lastEventId !== undefined && { "Last-Event-ID": String(opts.lastEventId) }) };
  const res = await call(runId, `${opts.path ?? "/stream"}${query}`, { headers });
  const frames = new Inbox<EventSourceMessage>();
  const comments = new Inbox<string>();
  if (res.status !== 200 || !res.body) {
    frames.close();
    return { res, frames, comments, cancel: async () => {} };
  }
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream({ onComment: (c) => comments.push(c) }))
    .getReader();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        frames.push(value);
      }
    } catch {
      // cancelled
    }
    frames.close();
    comments.close();
  })();
  return { res, frames, comments, cancel: () => reader.cancel() };
}

export const sseIds = (frames: readonly EventSourceMessage[]) => frames.filter((f) => f.id).map((f) => Number(f.id));

export interface WsClient {
  ws: WebSocket;
  frames: Inbox<ServerFrame>;
  closeCode: Promise<number>;
  send(frame: unknown): void;
}

/** Opens `GET /ws` and collects its frames (as admin, or with `token` in `?token=`). */
export async function openWs(runId: string, after?: string | number, token?: string): Promise<WsClient> {
  const query = new URLSearchParams({ ...(after !== undefined && { after: String(after) }), ...(token && { token }) });
  const res = await call(runId, `/ws${query.size ? `?${query}` : ""}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade answered ${res.status}: ${await res.text()}`);
  const frames = new Inbox<ServerFrame>();
  const closeCode = new Promise<number>((resolve) =>
    ws.addEventListener("close", (e) => {
      frames.close();
      resolve(e.code);
    }),
  );
  ws.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string)));
  ws.accept();
  return { ws, frames, closeCode, send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)) };
}

export const wsIds = (frames: readonly ServerFrame[]) => frames.flatMap((f) => (f.type === "events" ? f.events.map((e) => e.id) : []));
