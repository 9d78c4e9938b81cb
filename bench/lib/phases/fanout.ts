/** The fan-out phases: stamped lines, and stamped live deltas, to SSE and WebSocket viewers at once. */
import { messageStart, stampedDelta, stampedLine, storedLine } from "../lines.ts";
import { CONNECT_MS, DELIVER_MS, Deadline, viewersOn, type Phase } from "./shared.ts";

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
