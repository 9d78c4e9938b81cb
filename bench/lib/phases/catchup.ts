/** The catch-up phase and its readers: a stored run read from the start over SSE, a WebSocket and JSON pages, with the Worker's memory. */
import NodeWs from "ws";
import { now, storedLines } from "../lines.ts";
import type { Target } from "../targets.ts";
import { Deadline, sleep, type Phase, type PhaseResult } from "./shared.ts";

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
    ws: () => readWs(t.wsUrl(run, 0), n, new Deadline(60_000 + n * 5, "catch-up over WebSocket"), (url) => new WebSocket(url)),
    // The same without compression: Node's WebSocket, like a browser, always offers permessage-deflate, and workerd
    // then compresses every frame; the `ws` package can leave the offer out (SSE, under wrangler dev, is not compressed).
    wsraw: () => readWs(t.wsUrl(run, 0), n, new Deadline(60_000 + n * 5, "catch-up over WebSocket, uncompressed"), uncompressed),
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

/** How an `events` frame starts, and each of its entries (runrelay's `{"id":N,"ts":…}`, the floor's `{"id":N,"data":…}`): the bench's lines hold neither. */
const EVENTS_FRAME = '{"type":"events","events":[';
const ENTRY_ID = /\{"id":(\d+),/g;

/** A WebSocket that does not offer permessage-deflate (`ws`, with the same event handlers as Node's). */
const uncompressed = (url: string) => new NodeWs(url, { perMessageDeflate: false }) as unknown as WebSocket;

function readWs(url$: Promise<string>, last: number, dl: Deadline, open: (url: string) => WebSocket): Promise<void> {
  return url$.then(
    (url) =>
      new Promise<void>((resolve, reject) => {
        const ws = open(url);
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
          if (!text.startsWith(EVENTS_FRAME)) return;
          // A lean reader, as the SSE one: each entry's id read from the frame's text, the frame not parsed.
          for (const m of text.matchAll(ENTRY_ID)) {
            const id = Number(m[1]);
            if (id !== seen + 1) return finish(new Error(`WS: id ${id} after ${seen}`));
            seen = id;
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
