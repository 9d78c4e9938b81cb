/**
 * Viewers, in a worker thread of their own (started by pool.ts), so that the
 * main thread's timing of requests is not held up by hundreds of viewers
 * parsing what they receive. SSE viewers are `eventsource` EventSources,
 * WebSocket viewers are Node's WebSocket: the clients a frontend uses.
 *
 * Each viewer keeps the last id it received, and counts every entry whose id
 * is not the one after it (a gap, a repeat or a reordering: none is expected;
 * `until` replies with how many viewers had one). Stamped lines (a `bench.sentAt`
 * field, ms on the shared clock `performance.timeOrigin + performance.now()`)
 * give one latency sample per viewer per line.
 *
 * With `deltas` on, viewers also take runrelay's live deltas (SSE
 * `event: delta`, WebSocket `delta` frames) and the floor's ordinary lines
 * alike: a `stream_event` line with a `bench_k` number carries its send time
 * as its text_delta's text; each viewer keeps the highest `bench_k` it has
 * received (`until` with `by: "k"` waits on it), and one sample per viewer per
 * delta with k ≥ 0.
 */
import { EventSource } from "eventsource";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort } from "node:worker_threads";

export type Transport = "sse" | "ws";

export type Command =
  | { op: "open"; sse: string[]; ws: string[]; stamped: boolean; deltas?: boolean; concurrency: number; timeoutMs: number }
  | { op: "until"; id: number; by?: "id" | "k"; timeoutMs: number }
  | { op: "samples" }
  | { op: "close"; timeoutMs: number };

export type Reply =
  | { op: "opened"; open: Record<Transport, number>; failed: number; ms: number }
  | { op: "reached"; id: number; missing: number; at: number; wrong: number }
  | { op: "samples"; sse: Float64Array; ws: Float64Array }
  | { op: "closed" }
  | { op: "error"; message: string };

interface Viewer {
  transport: Transport;
  last: number;
  /** Entries received whose id was not `last + 1`. */
  wrong: number;
  /** The highest `bench_k` of a stamped delta received. */
  k: number;
  close(): void;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * A full garbage collection of this thread, run once every viewer has what
 * `until` waits for and before it answers: so the next request the bench
 * times does not share the two cores with this thread's collector (the
 * garbage of parsing a batch for 2,000 viewers kept V8's helper threads busy
 * for most of a core during the next append).
 */
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

const port = parentPort;
if (!port) throw new Error("bench/lib/viewers.ts runs as a worker thread (see pool.ts)");

let viewers: Viewer[] = [];
let stamped = false;
let deltas = false;
/** What `until` waits on: the last durable id, or the highest stamped delta. */
let by: "id" | "k" = "id";
let samples: Record<Transport, number[]> = { sse: [], ws: [] };
/** The id every viewer must reach, and how many have. */
let target = Infinity;
let reached = 0;
let onReached: (() => void) | null = null;

/** An entry received: it must be the one after the last. */
function entry(v: Viewer, id: number): void {
  if (id !== v.last + 1) v.wrong++;
  reach(v, id, "last");
}

/** The cursor a viewer's URL starts it after. */
const startOf = (url: string) => Number(new URL(url).searchParams.get("after") ?? 0) || 0;

/** Moves a viewer's id or k forward; counts it if `until` waits on that one and it has just reached the target. */
function reach(v: Viewer, x: number, field: "last" | "k"): void {
  if (x <= v[field]) return;
  const before = v[field];
  v[field] = x;
  if ((field === "k") === (by === "k") && before < target && x >= target) {
    reached++;
    if (reached >= viewers.length) onReached?.();
  }
}

function stamp(v: Viewer, data: unknown, at: number): void {
  const b = (data as { bench?: { sentAt?: number; warm?: boolean } } | null)?.bench;
  if (b && typeof b.sentAt === "number" && !b.warm) samples[v.transport].push(at - b.sentAt);
}

/** A stamped delta (a `stream_event` line with `bench_k`, its text the send time): one sample unless warm-up, and the viewer's k. */
function delta(v: Viewer, line: unknown, at: number): void {
  const l = line as { type?: string; bench_k?: unknown; event?: { delta?: { text?: unknown } } } | null;
  if (l?.type !== "stream_event" || typeof l.bench_k !== "number") return;
  const sentAt = Number(l.event?.delta?.text);
  if (l.bench_k >= 0 && Number.isFinite(sentAt)) samples[v.transport].push(at - sentAt);
  reach(v, l.bench_k, "k");
}

function openSse(url: string): Promise<Viewer | null> {
  return new Promise((resolve) => {
    const es = new EventSource(url);
    const v: Viewer = { transport: "sse", last: startOf(url), wrong: 0, k: -Infinity, close: () => es.close() };
    es.onmessage = (e) => {
      const at = now();
      if (stamped || deltas) {
        const data: unknown = JSON.parse(e.data);
        if (stamped) stamp(v, data, at);
        if (deltas) delta(v, data, at);
      }
      entry(v, Number(e.lastEventId));
    };
    es.addEventListener("delta", (e) => {
      const at = now();
      if (deltas) delta(v, (JSON.parse(e.data) as { event?: unknown }).event, at);
    });
    es.onopen = () => resolve(v);
    // EventSource retries by itself; the caller's timeout decides when to give up.
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) resolve(null);
    };
    pendingClose.add(() => es.close());
  });
}

function openWs(url: string): Promise<Viewer | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const v: Viewer = { transport: "ws", last: startOf(url), wrong: 0, k: -Infinity, close: () => ws.close() };
    ws.onmessage = (e) => {
      const at = now();
      const frame = JSON.parse(String(e.data)) as { type?: string; events?: { id: number; data: unknown }[]; event?: unknown };
      if (frame.type === "delta") {
        if (deltas) delta(v, frame.event, at);
        return;
      }
      if (frame.type !== "events" || !frame.events?.length) return;
      if (stamped) for (const ev of frame.events) stamp(v, ev.data, at);
      if (deltas) for (const ev of frame.events) delta(v, ev.data, at);
      for (const ev of frame.events) entry(v, ev.id);
    };
    ws.onopen = () => resolve(v);
    ws.onerror = () => resolve(null);
    ws.onclose = () => resolve(null);
    pendingClose.add(() => ws.close());
  });
}

/** Closers of every viewer ever started, opened or not, so `close` leaves nothing behind. */
const pendingClose = new Set<() => void>();

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(timer));
}

async function open(cmd: Extract<Command, { op: "open" }>): Promise<Reply> {
  const start = now();
  stamped = cmd.stamped;
  deltas = cmd.deltas ?? false;
  samples = { sse: [], ws: [] };
  const jobs: (() => Promise<Viewer | null>)[] = [...cmd.sse.map((u) => () => openSse(u)), ...cmd.ws.map((u) => () => openWs(u))];
  const deadline = start + cmd.timeoutMs;
  let failed = 0;
  // Opened in waves, interleaving SSE and WebSocket, each wave bounded by what is left of the deadline.
  const order = interleave(jobs, cmd.sse.length);
  for (let i = 0; i < order.length; i += cmd.concurrency) {
    const left = Math.max(0, deadline - now());
    const wave = await Promise.all(order.slice(i, i + cmd.concurrency).map((job) => withTimeout(job(), left, null)));
    for (const v of wave) {
      if (v) viewers.push(v);
      else failed++;
    }
  }
  const open = { sse: viewers.filter((v) => v.transport === "sse").length, ws: viewers.filter((v) => v.transport === "ws").length };
  return { op: "opened", open, failed, ms: now() - start };
}

/** SSE and WebSocket jobs alternated, so both transports connect at the same pace. */
function interleave<T>(jobs: T[], sseCount: number): T[] {
  const sse = jobs.slice(0, sseCount);
  const ws = jobs.slice(sseCount);
  const out: T[] = [];
  for (let i = 0; i < Math.max(sse.length, ws.length); i++) {
    if (i < sse.length) out.push(sse[i]!);
    if (i < ws.length) out.push(ws[i]!);
  }
  return out;
}

function until(cmd: Extract<Command, { op: "until" }>): Promise<Reply> {
  target = cmd.id;
  by = cmd.by ?? "id";
  const field = by === "id" ? "last" : "k";
  reached = viewers.filter((v) => v[field] >= target).length;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      onReached = null;
      target = Infinity;
      by = "id";
      const reply: Reply = { op: "reached", id: cmd.id, missing: viewers.length - reached, at: now(), wrong: viewers.filter((v) => v.wrong > 0).length };
      if (viewers.length > 0) collect();
      resolve(reply);
    };
    const timer = setTimeout(finish, cmd.timeoutMs);
    onReached = finish;
    if (reached >= viewers.length) finish();
  });
}

async function close(): Promise<Reply> {
  for (const c of pendingClose) {
    try {
      c();
    } catch {
      // already closed
    }
  }
  pendingClose.clear();
  viewers = [];
  return { op: "closed" };
}

port.on("message", async (cmd: Command) => {
  try {
    let reply: Reply;
    if (cmd.op === "open") reply = await open(cmd);
    else if (cmd.op === "until") reply = await until(cmd);
    else if (cmd.op === "samples") reply = { op: "samples", sse: Float64Array.from(samples.sse), ws: Float64Array.from(samples.ws) };
    else reply = await close();
    port.postMessage(reply);
  } catch (err) {
    port.postMessage({ op: "error", message: (err as Error).stack ?? String(err) } satisfies Reply);
  }
});
