/**
 * `npm run bench`: runrelay against the floor (bench/floor), each under its
 * own `wrangler dev` on 127.0.0.1, in alternating rounds (relay, floor,
 * relay, floor …), and one table of runrelay / floor ratios with absolute
 * figures. Figures with a goal in issue 14 say whether they meet it (the
 * tests have no thresholds: this is where speed is judged). docs/bench.md
 * says what each figure means.
 *
 *   npm run bench                      full size (takes a while; 2,000 viewers at the end of each round)
 *   npm run bench -- --quick           everything small, for development
 *   npm run bench -- --json            machine-readable output instead of the table
 *   npm run bench -- --help            every flag
 *
 * Runs on the Node 22 in node_modules/.bin (type stripping), which npm scripts put first on PATH.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { HELP, options, type Options } from "./lib/args.ts";
import { killAllSync, startDev, type Dev } from "./lib/dev.ts";
import { PHASES, type Ctx, type PhaseResult } from "./lib/phases.ts";
import { ViewerPool } from "./lib/pool.ts";
import { metrics, rows, table, type Rounds } from "./lib/report.ts";
import { floorTarget, relayTarget, type Target, type TargetName } from "./lib/targets.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FLOOR = fileURLToPath(new URL("./floor/", import.meta.url));

const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  let opts: Options | null;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const o = opts;

  // Everything started is stopped: at the end, on error, on Ctrl-C (SIGINT) and SIGTERM; the exit handler is the last resort.
  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | null = null;
  let interrupted = false;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch((err) => say(`while stopping: ${(err as Error).message}`));
    })());
  const onSignal = (sig: NodeJS.Signals, code: number) =>
    process.on(sig, () => {
      // A second signal does not wait: the exit handler kills what is left.
      if (stopping) process.exit(code);
      interrupted = true;
      say(`${sig}: stopping everything the bench started…`);
      const force = setTimeout(() => process.exit(code), 15_000);
      void stopAll().finally(() => {
        clearTimeout(force);
        process.exit(code);
      });
    });
  onSignal("SIGINT", 130);
  onSignal("SIGTERM", 143);
  process.once("exit", killAllSync);

  const started = new Date();
  const load0 = loadavg()[0]!;
  const notes: string[] = [];
  const errors: string[] = [];
  const results: Record<TargetName, Rounds> = { relay: [], floor: [] };
  const reloads: Record<TargetName, number> = { relay: 0, floor: 0 };
  try {
    const pool = new ViewerPool();
    stops.push(() => pool.stop());
    const secret = `bench-${randomUUID()}`;
    say("starting wrangler dev for runrelay (the repo root) and for the floor (bench/floor)…");
    const devs: Dev[] = [];
    // wrangler's local trace collector (on by default since 4.16x) stores every invocation's spans in SQLite, in the
    // runtime's process: a cost per SQL statement and RPC call of a dev server, which a deployed Worker does not pay.
    const env: Record<string, string> = o.localObservability ? {} : { X_LOCAL_OBSERVABILITY: "false" };
    const relayDev = await startDev({ name: "relay", root: ROOT, cwd: ROOT, vars: { ...o.relayVars, RELAY_SECRET: secret }, env, timeoutMs: 120_000 });
    stops.push(() => relayDev.stop());
    devs.push(relayDev);
    const floorDev = await startDev({ name: "floor", root: ROOT, cwd: FLOOR, ...(o.bareFloor && { config: "bare.toml" }), env, timeoutMs: 120_000 });
    stops.push(() => floorDev.stop());
    devs.push(floorDev);
    say(`runrelay on ${relayDev.url}, floor on ${floorDev.url}`);
    const targets: Target[] = [relayTarget(relayDev, secret), floorTarget(floorDev)];
    for (const t of targets) await warmUp(t);

    for (let round = 1; round <= o.rounds; round++) {
      for (const t of targets) {
        say(`round ${round}/${o.rounds}: ${t.name}`);
        const reloadsBefore = t.dev.reloads();
        const merged: PhaseResult = { values: {}, samples: {} };
        const ctx: Ctx = {
          t,
          pool,
          sizes: o.sizes,
          say,
          note: (msg) => {
            notes.push(`round ${round}: ${msg}`);
            say(`note: ${msg}`);
          },
        };
        for (const name of o.phases) {
          if (interrupted) return 130; // the signal handler stops everything and exits
          const t0 = Date.now();
          try {
            const r = await PHASES[name]!(ctx);
            Object.assign(merged.values, r.values);
            Object.assign(merged.samples, r.samples);
          } catch (err) {
            const msg = `round ${round}, ${t.name}, ${name}: ${(err as Error).message}`;
            errors.push(msg);
            say(`error: ${msg}`);
            await pool.close().catch(() => {});
          }
          say(`${t.name}: ${name} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        }
        results[t.name].push(merged);
        const reloaded = t.dev.reloads() - reloadsBefore;
        if (reloaded > 0) {
          reloads[t.name] += reloaded;
          ctx.note(`${t.name}: wrangler reloaded the Worker ${reloaded} time(s) during this round (a watched file changed); its figures may be off`);
        }
        await sleep(1000);
      }
    }
  } catch (err) {
    errors.push((err as Error).stack ?? String(err));
    say(`error: ${(err as Error).message}`);
  } finally {
    say("stopping…");
    await stopAll();
  }

  const all = metrics(o.sizes).filter((m) => o.phases.includes(m.phase));
  const table$ = rows(all, results);
  const meta = {
    started: started.toISOString(),
    seconds: Math.round((Date.now() - started.getTime()) / 1000),
    node: process.version,
    wrangler: versionOf("wrangler"),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
    loadavg1m: { start: Number(load0.toFixed(2)), end: Number(loadavg()[0]!.toFixed(2)) },
    rounds: o.rounds,
    quick: o.quick,
    floor: o.bareFloor ? "bare" : "assets",
    relayVars: o.relayVars,
    localObservability: o.localObservability,
    phases: o.phases,
    sizes: o.sizes,
  };
  if (o.json) {
    const figures = table$.map((r) => ({
      key: r.metric.key,
      label: r.metric.label.trim(),
      unit: r.metric.unit,
      better: r.metric.better,
      relay: r.relay,
      floor: r.floor,
      ratio: r.ratio,
      goal: r.metric.goal ?? null,
      holds: r.holds,
    }));
    // Every value each round measured (peaks of RSS, reconnects … included), without the raw samples.
    const values = { relay: results.relay.map((r) => r.values), floor: results.floor.map((r) => r.values) };
    process.stdout.write(`${JSON.stringify({ ...meta, figures, values, notes, errors, reloads }, null, 2)}\n`);
  } else {
    const s = o.sizes;
    const lines = [
      `runrelay bench — ${meta.started}, ${meta.seconds} s; node ${meta.node}, wrangler ${meta.wrangler}, ${meta.cpus}; load ${meta.loadavg1m.start} → ${meta.loadavg1m.end}`,
      `${o.rounds} round(s) each, alternating runrelay / floor (${o.bareFloor ? "bare: no static assets" : "with static assets, as runrelay"})${o.quick ? " (--quick)" : ""}; ${s.events.toLocaleString("en-US")} catch-up events; ` +
        `figures are pooled percentiles or medians of rounds${o.rounds > 1 ? " (± half the rounds' range)" : ""}` +
        `; wrangler's local trace collector ${o.localObservability ? "on" : "off"}` +
        (Object.keys(o.relayVars).length ? `; runrelay's vars: ${Object.entries(o.relayVars).map(([k, v]) => `${k}=${v}`).join(", ")}` : ""),
      "",
      table(table$, o.rounds > 1),
    ];
    const judged = table$.filter((r) => r.holds !== null);
    if (judged.length) lines.push("", `goals (issue 14): ${judged.filter((r) => r.holds).length} of ${judged.length} hold`);
    if (notes.length) lines.push("", "notes:", ...notes.map((x) => `  - ${x}`));
    if (errors.length) lines.push("", "errors:", ...errors.map((x) => `  - ${x}`));
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return errors.length > 0 ? 1 : 0;
}

/** A first request of every kind, so the first round does not pay for compiling the Worker. */
async function warmUp(t: Target): Promise<void> {
  const run = t.newRun("warmup");
  for (let i = 0; i < 5; i++) await t.append(run, [`{"type":"system","subtype":"init","n":${i}}`]);
  await t.append(run, [`{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"warm"}}}`]);
  await t.info(run);
  await t.page(run, 0);
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}/node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

// Exit at once: idle keep-alive connections would otherwise hold the process open for a few seconds.
process.exit(await main());
