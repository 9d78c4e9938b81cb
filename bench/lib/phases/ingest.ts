/** The ingest phases: sequential POSTs, ingest latency with viewers watching, and rows written per delta line. */
import { deltaLines, now, storedLine, storedLines } from "../lines.ts";
import { CONNECT_MS, DELIVER_MS, Deadline, sleep, viewersOn, type Phase, type PhaseResult } from "./shared.ts";

/**
 * Sequential single-line POSTs, then sequential batches of `batchLines`; for
 * each, also the machine time a POST costs: the CPU time of every process
 * under `wrangler dev` and of the bench itself (its viewer thread is idle
 * here), per request. On two cores, where a server's work after one answer
 * overlaps the next request, it says what the rates only suggest.
 */
export const ingest: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const machine = () => {
    const servers = t.dev.cpuMs();
    const { user, system } = process.cpuUsage();
    return servers === undefined ? undefined : servers + (user + system) / 1000;
  };
  const perPost = (from: number | undefined, count: number) => {
    const to = machine();
    return from === undefined || to === undefined ? null : (to - from) / count;
  };
  const dl = new Deadline(60_000 + sizes.posts * 200 + sizes.batches * 2_000, "POSTs");
  const run = t.newRun("posts");
  for (let i = 0; i < 20; i++) await t.append(run, [storedLine(i)]); // warm-up
  const singles = storedLines(sizes.posts);
  const single: number[] = [];
  let start = now();
  let cpu = machine();
  for (const line of singles) {
    dl.check();
    const t0 = now();
    await t.append(run, [line]);
    single.push(now() - t0);
  }
  const rps = sizes.posts / ((now() - start) / 1000);
  const singleCpu = perPost(cpu, sizes.posts);
  const batches = Array.from({ length: sizes.batches }, (_, b) => storedLines(sizes.batchLines, b * sizes.batchLines));
  const batch: number[] = [];
  start = now();
  cpu = machine();
  for (const lines of batches) {
    dl.check();
    const t0 = now();
    await t.append(run, lines);
    batch.push(now() - t0);
  }
  const lps = (sizes.batches * sizes.batchLines) / ((now() - start) / 1000);
  const values = { "post.single.rps": rps, "post.single.cpu": singleCpu, "post.batch.lps": lps, "post.batch.cpu": perPost(cpu, sizes.batches) };
  return { values, samples: { "post.single": single, "post.batch": batch } };
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
