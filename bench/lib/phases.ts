/**
 * The measurements. Each phase runs against one Target on a fresh run and
 * returns per-round values and raw samples (ms). Every loop has a count and
 * a deadline; a phase that overruns throws, and run.ts reports it.
 */
import type { ViewerPool } from "./pool.ts";
import { deltaLines, messageStart, now, stampedDelta, stampedLine, storedLine, storedLines } from "./lines.ts";
import type { Target } from "./targets.ts";

export interface Sizes {
  /** Fan-out: viewers per transport, and lines sent. */
  viewers: number;
  fanoutLines: number;
  /** Sequential single-line POSTs; batches of `batchLines`. */
  posts: number;
  batches: number;
  batchLines: number;
  /** Catch-up: events stored, then read back. */
  events: number;
  /** Message round trips (and as many plain requests). */
  messages: number;
  /** Ingest latency: viewer counts (half SSE, half WebSocket) and batches sent at each. */
  ingestViewers: number[];
  ingestBatches: number;
  /** Delta fan-out: viewers in all (half SSE, half WebSocket), and stamped deltas sent, one per batch. */
  deltaViewers: number;
  deltaLines: number;
  /** stream_event delta lines appended for the rows-written figure, and lines per batch. */
  deltas: number;
  deltaBatch: number;
}

export interface Ctx {
  t: Target;
  pool: ViewerPool;
  sizes: Sizes;
  /** Says what is going on (stderr). */
  say(msg: string): void;
  /** Something worth reporting next to the figures (a viewer that missed a line, …). */
  note(msg: string): void;
}

export interface PhaseResult {
  values: Record<string, number | null>;
  samples: Record<string, number[]>;
}

export type Phase = (ctx: Ctx) => Promise<PhaseResult>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A phase's time budget: `check()` throws once it is spent. */
class Deadline {
  readonly #end: number;
  readonly what: string;
  constructor(ms: number, what: string) {
    this.#end = Date.now() + ms;
    this.what = what;
  }
  check(): void {
    if (Date.now() > this.#end) throw new Error(`${this.what}: over its time budget`);
  }
  left(): number {
    return Math.max(0, this.#end - Date.now());
  }
}

const CONNECT_MS = (viewers: number) => 60_000 + viewers * 60;
const DELIVER_MS = 30_000;

async function viewersOn(ctx: Ctx, runId: string, after: number, perTransport: number, stamped: boolean, deltas = false) {
  const { t } = ctx;
  const sse = await Promise.all(Array.from({ length: perTransport }, () => t.sseUrl(runId, after)));
  const ws = await Promise.all(Array.from({ length: perTransport }, () => t.wsUrl(runId, after)));
  const opened = await ctx.pool.open({ sse, ws, stamped, deltas, timeoutMs: CONNECT_MS(perTransport * 2) });
  if (opened.failed > 0) ctx.note(`${t.name}: ${opened.failed} of ${perTransport * 2} viewers did not connect`);
  ctx.say(`${t.name}: ${opened.open.sse} SSE + ${opened.open.ws} WS viewers connected in ${(opened.ms / 1000).toFixed(1)} s`);
  return opened;
}

/** Fan-out: single-line batches, each stamped with its send time, to N SSE + N WebSocket viewers; the next goes once all have it. */
export const fanout: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const dl = new Deadline(CONNECT_MS(sizes.viewers * 2) + 120_000 + sizes.fanoutLines * 2_000, "fan-out");
  const run = t.newRun("fanout");
  let last = await t.append(run, [storedLine(0)]);
  await viewersOn(ctx, run, last, sizes.viewers, true);
  let missed = 0;
  try {
    const warmup = 5;
    for (let k = -warmup; k < sizes.fanoutLines; k++) {
      dl.check();
      last = await t.append(run, [stampedLine(k, k < 0)]);
      const r = await ctx.pool.until(last, Math.min(DELIVER_MS, dl.left()));
      if (r.missing > 0) missed++;
    }
    const s = await ctx.pool.samples();
    if (missed > 0) ctx.note(`${t.name}: fan-out: ${missed} line(s) did not reach every viewer within ${DELIVER_MS / 1000} s`);
    const sse = Array.from(s.sse);
    const ws = Array.from(s.ws);
    return { values: {}, samples: { "fanout.sse": sse, "fanout.ws": ws, "fanout.all": [...sse, ...ws] } };
  } finally {
    await ctx.pool.close();
  }
};

/**
 * Delta fan-out: single `stream_event` text deltas, each stamped with its send
 * time inside the event, to N/2 SSE + N/2 WebSocket viewers; the next goes
 * once every viewer has the last. runrelay sends each as a live delta (SSE
 * `event: delta`, WebSocket `delta` frame) and stores none; the floor stores
 * each as a row and sends it as an ordinary line: the "before".
 */
export const deltas: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const half = Math.max(1, Math.floor(sizes.deltaViewers / 2));
  const dl = new Deadline(CONNECT_MS(half * 2) + 120_000 + sizes.deltaLines * 2_000, "delta fan-out");
  const run = t.newRun("deltafan");
  const first = await t.append(run, [storedLine(0)]);
  await viewersOn(ctx, run, first, half, false, true);
  let missed = 0;
  try {
    await t.append(run, [messageStart()]);
    const warmup = 5;
    for (let k = -warmup; k < sizes.deltaLines; k++) {
      dl.check();
      await t.append(run, [stampedDelta(k)]);
      const r = await ctx.pool.until(k, Math.min(DELIVER_MS, dl.left()), "k");
      if (r.missing > 0) missed++;
    }
    const s = await ctx.pool.samples();
    if (missed > 0) ctx.note(`${t.name}: delta fan-out: ${missed} delta(s) did not reach every viewer within ${DELIVER_MS / 1000} s`);
    const sse = Array.from(s.sse);
    const ws = Array.from(s.ws);
    return { values: {}, samples: { "delta.sse": sse, "delta.ws": ws, "delta.all": [...sse, ...ws] } };
  } finally {
    await ctx.pool.close();
  }
};

/** Sequential single-line POSTs, then sequential batches of `batchLines`. */
export const ingest: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const dl = new Deadline(60_000 + sizes.posts * 200 + sizes.batches * 2_000, "POSTs");
  const run = t.newRun("posts");
  for (let i = 0; i < 20; i++) await t.append(run, [storedLine(i)]); // warm-up
  const singles = storedLines(sizes.posts);
  const single: number[] = [];
  let start = now();
  for (const line of singles) {
    dl.check();
    const t0 = now();
    await t.append(run, [line]);
    single.push(now() - t0);
  }
  const rps = sizes.posts / ((now() - start) / 1000);
  const batches = Array.from({ length: sizes.batches }, (_, b) => storedLines(sizes.batchLines, b * sizes.batchLines));
  const batch: number[] = [];
  start = now();
  for (const lines of batches) {
    dl.check();
    const t0 = now();
    await t.append(run, lines);
    batch.push(now() - t0);
  }
  const lps = (sizes.batches * sizes.batchLines) / ((now() - start) / 1000);
  return { values: { "post.single.rps": rps, "post.batch.lps": lps }, samples: { "post.single": single, "post.batch": batch } };
};

/** Catch-up: `events` stored, then read from the start by one SSE client, one WebSocket, and JSON pages; with the Worker's memory. */
export const catchup: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const n = sizes.events;
  const run = t.newRun("catchup");
  const seedDl = new Deadline(60_000 + n * 5, "catch-up: storing the events");
  const SEED_BATCH = 1000;
  let seeded = 0;
  const seedStart = now();
  while (seeded < n) {
    seedDl.check();
    const count = Math.min(SEED_BATCH, n - seeded);
    seeded = await t.append(run, storedLines(count, seeded));
  }
  const seedLps = n / ((now() - seedStart) / 1000);
  ctx.say(`${t.name}: ${n} events stored (${Math.round(seedLps)} lines/s in batches of ${SEED_BATCH})`);
  const values: PhaseResult["values"] = { "catchup.seed.lps": seedLps };
  const readers = {
    sse: () => readSse(t.sseUrl(run, 0), n, new Deadline(60_000 + n * 5, "catch-up over SSE")),
    ws: () => readWs(t.wsUrl(run, 0), n, new Deadline(60_000 + n * 5, "catch-up over WebSocket")),
    json: () => readPages(t, run, n, new Deadline(60_000 + n * 5, "catch-up over JSON pages")),
  };
  for (const [name, read] of Object.entries(readers)) {
    await sleep(300); // let the last phase's work settle before the baseline
    const base = t.dev.rssMiB();
    let peak = base ?? 0;
    const sampler = setInterval(() => {
      const mib = t.dev.rssMiB();
      if (mib !== undefined && mib > peak) peak = mib;
    }, 25);
    const t0 = now();
    let reconnects: number | void;
    try {
      reconnects = await read();
    } finally {
      clearInterval(sampler);
    }
    if (name === "sse") values["catchup.sse.reconnects"] = reconnects ?? 0;
    const secs = (now() - t0) / 1000;
    const after = t.dev.rssMiB();
    if (after !== undefined && after > peak) peak = after;
    values[`catchup.${name}.eps`] = n / secs;
    values[`catchup.${name}.mem`] = base === undefined ? null : peak - base;
    values[`catchup.${name}.rss`] = base === undefined ? null : peak;
    ctx.say(`${t.name}: catch-up over ${name}: ${Math.round(n / secs)} events/s, workerd RSS ${base?.toFixed(0)} → ${peak.toFixed(0)} MiB`);
  }
  return { values, samples: {} };
};

/**
 * A lean SSE reader (no EventSource: the client's parsing should not be what
 * is measured): counts `id:` events up to `last`. Like EventSource, it
 * reconnects with `Last-Event-ID` when the stream ends early (runrelay drops
 * a reader that falls SSE_MAX_BUFFER_BYTES behind); resolves with the number
 * of reconnects.
 */
async function readSse(url$: Promise<string>, last: number, dl: Deadline): Promise<number> {
  const url = await url$;
  let seen = 0;
  let reconnects = 0;
  for (let attempt = 0; seen < last; attempt++) {
    if (attempt > 1000) throw new Error(`SSE: more than 1,000 reconnects, at id ${seen} of ${last}`);
    dl.check();
    if (attempt > 0) reconnects++;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), dl.left());
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream", ...(seen > 0 && { "Last-Event-ID": String(seen) }) };
      const res = await fetch(url, { signal: ac.signal, headers });
      if (res.status !== 200 || !res.body) throw new Error(`GET /stream: HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      while (seen < last) {
        const { value, done } = await reader.read();
        if (done) break; // ended early: reconnect from `seen`
        buf += decoder.decode(value, { stream: true });
        let from = 0;
        for (let end = buf.indexOf("\n\n", from); end !== -1; end = buf.indexOf("\n\n", from)) {
          if (buf.startsWith("id: ", from)) {
            const id = Number(buf.slice(from + 4, buf.indexOf("\n", from)));
            if (id !== seen + 1) throw new Error(`SSE: id ${id} after ${seen}`);
            seen = id;
          }
          from = end + 2;
        }
        buf = buf.slice(from);
      }
    } catch (err) {
      if (ac.signal.aborted && dl.left() === 0) throw new Error(`${dl.what}: over its time budget (at id ${seen} of ${last})`);
      throw err;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }
  return reconnects;
}

function readWs(url$: Promise<string>, last: number, dl: Deadline): Promise<void> {
  return url$.then(
    (url) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url);
        let seen = 0;
        const timer = setTimeout(() => finish(new Error(`${dl.what}: over its time budget (at id ${seen} of ${last})`)), dl.left());
        const finish = (err?: Error) => {
          clearTimeout(timer);
          ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
          ws.close();
          if (err) reject(err);
          else resolve();
        };
        // Flow control, as the client library does it (docs/protocol.md): an ack at open, then every 256 KiB processed.
        // The floor ignores them.
        let unacked = 0;
        const ack = () => ws.send(`{"type":"ack","after":${seen}}`);
        ws.onopen = ack;
        ws.onmessage = (e) => {
          const text = String(e.data);
          const frame = JSON.parse(text) as { type: string; events?: { id: number }[] };
          if (frame.type !== "events") return;
          for (const ev of frame.events ?? []) {
            if (ev.id !== seen + 1) return finish(new Error(`WS: id ${ev.id} after ${seen}`));
            seen = ev.id;
          }
          if (seen >= last) return finish();
          unacked += text.length;
          if (unacked >= 256 * 1024) (unacked = 0), ack();
        };
        ws.onerror = () => finish(new Error(`WS: error at id ${seen} of ${last}`));
        ws.onclose = (e) => finish(new Error(`WS: closed (${e.code}) at id ${seen} of ${last}`));
      }),
  );
}

async function readPages(t: Target, runId: string, last: number, dl: Deadline): Promise<void> {
  let seen = 0;
  for (let pages = 0; seen < last && pages <= last; pages++) {
    dl.check();
    const ids = await t.page(runId, seen);
    if (ids.length === 0) throw new Error(`JSON pages: an empty page at id ${seen} of ${last}`);
    if (ids[0] !== seen + 1) throw new Error(`JSON pages: id ${ids[0]} after ${seen}`);
    seen = ids.at(-1)!;
  }
}

/** `POST /messages` → a waiting `GET /inputs` returns; against the plain request (`GET /` of the run). */
export const messages: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const dl = new Deadline(60_000 + sizes.messages * 3_000, "message round trips");
  const run = t.newRun("messages");
  await t.append(run, [storedLine(0)]);
  const plain: number[] = [];
  for (let i = -5; i < sizes.messages; i++) {
    dl.check();
    const t0 = now();
    await t.info(run);
    if (i >= 0) plain.push(now() - t0);
  }
  const rtt: number[] = [];
  let after = 0;
  for (let i = -3; i < sizes.messages; i++) {
    dl.check();
    const poll = t.poll(run, after, 10);
    // Only once the long-poll is waiting in the object does the clock start.
    const waitDl = Date.now() + 5_000;
    while ((await t.info(run)).waiting < 1) {
      if (Date.now() > waitDl) throw new Error("the long-poll was not waiting after 5 s");
      await sleep(2);
    }
    const t0 = now();
    const posted = t.message(run, `bench message ${i}`);
    const got = await poll;
    const t1 = now();
    const id = await posted;
    if (got !== id) throw new Error(`the long-poll returned input ${got}, not ${id}`);
    if (i >= 0) rtt.push(t1 - t0);
    after = id;
  }
  // Let the last input be acknowledged, so nothing waits on in the object.
  await t.poll(run, after, 0);
  return { values: {}, samples: { "msg.rtt": rtt, plain } };
};

/** Ingest latency per batch with 0 / … viewers (half SSE, half WebSocket); each batch goes once every viewer has the last. */
export const ingestWithViewers: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const samples: PhaseResult["samples"] = {};
  const values: PhaseResult["values"] = {};
  for (const v of sizes.ingestViewers) {
    const dl = new Deadline(CONNECT_MS(v) + 60_000 + sizes.ingestBatches * (DELIVER_MS + 5_000), `ingest with ${v} viewers`);
    const run = t.newRun(`ingest${v}`);
    let last = await t.append(run, [storedLine(0)]);
    const half = Math.floor(v / 2);
    if (v > 0) await viewersOn(ctx, run, last, half, false);
    const ingest: number[] = [];
    const deliver: number[] = [];
    let missed = 0;
    let wrong = 0;
    try {
      const batches = Array.from({ length: sizes.ingestBatches + 2 }, (_, b) => storedLines(sizes.batchLines, b * sizes.batchLines));
      for (let b = 0; b < batches.length; b++) {
        dl.check();
        const t0 = now();
        last = await t.append(run, batches[b]!);
        const t1 = now();
        const r = v > 0 ? await ctx.pool.until(last, Math.min(DELIVER_MS, dl.left())) : null;
        if (r && r.missing > 0) missed++;
        if (r) wrong = r.wrong;
        if (b < 2) continue; // warm-up
        ingest.push(t1 - t0);
        if (r) deliver.push(r.at - t0);
      }
    } finally {
      if (v > 0) await ctx.pool.close();
    }
    if (missed > 0) ctx.note(`${t.name}: ingest with ${v} viewers: ${missed} batch(es) did not reach every viewer within ${DELIVER_MS / 1000} s`);
    if (v > 0) values[`wrong.${v}`] = wrong;
    if (wrong > 0) ctx.note(`${t.name}: ingest with ${v} viewers: ${wrong} viewer(s) received an id that was not the next one (a gap, a repeat or out of order)`);
    samples[`ingest.${v}`] = ingest;
    if (v > 0) samples[`deliver.${v}`] = deliver;
    await sleep(500 + v); // closed viewers are noticed and let go before the next measurement
  }
  return { values, samples };
};

/** Rows written per 1,000 stream_event delta lines, from the run's `rowsWritten` (null when it does not report one). */
export const rowsWritten: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const dl = new Deadline(60_000 + sizes.deltas * 50, "rows written");
  const run = t.newRun("deltas");
  await t.append(run, [storedLine(0)]);
  const before = await t.info(run);
  for (let sent = 0; sent < sizes.deltas; ) {
    dl.check();
    const count = Math.min(sizes.deltaBatch, sizes.deltas - sent);
    await t.append(run, deltaLines(count, sent));
    sent += count;
  }
  const after = await t.info(run);
  const rows = before.rowsWritten === undefined || after.rowsWritten === undefined ? null : ((after.rowsWritten - before.rowsWritten) * 1000) / sizes.deltas;
  return { values: { "rows.per1000": rows }, samples: {} };
};

export const PHASES: Record<string, Phase> = { fanout, deltas, ingest, catchup, messages, viewers: ingestWithViewers, rows: rowsWritten };
