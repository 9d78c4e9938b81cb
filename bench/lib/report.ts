/** The figures the bench reports, how each is made from the rounds, and the table. */
import type { PhaseResult, Sizes } from "./phases.ts";
import { median, percentile, spread } from "./stats.ts";
import type { TargetName } from "./targets.ts";

export type Better = "lower" | "higher";

/**
 * A goal a figure is judged by: issue 14's "must hold" at the sizes it names
 * (100 + 100 fan-out viewers, 100-line batches, 100,000 catch-up events,
 * 2,000 viewers), on runrelay's own value or on its ratio to the floor.
 */
export interface Goal {
  on: "value" | "ratio";
  op: "<=" | ">=";
  limit: number;
}

export type Metric = { key: string; label: string; unit: string; better: Better; phase: string; goal?: Goal } & (
  | { from: "pct"; sample: string; p: number }
  | { from: "value"; value: string }
  | { from: "ratio"; num: string; den: string }
);

/** One target's rounds: each round's merged phase results. */
export type Rounds = PhaseResult[];

export interface Figure {
  /** The figure over all rounds: a percentile of every round's samples pooled, or the median of the rounds' values. */
  value: number | null;
  /** The same figure per round. */
  rounds: (number | null)[];
  /** Half the rounds' range over their median. */
  spread: number | null;
}

export interface Row {
  metric: Metric;
  relay: Figure;
  floor: Figure;
  /** relay / floor. */
  ratio: number | null;
  /** Whether the figure meets its goal (null: it has none, or no value). */
  holds: boolean | null;
}

const n = (x: number) => x.toLocaleString("en-US");

const at = (on: Goal["on"], op: Goal["op"], limit: number, when = true): { goal?: Goal } => (when ? { goal: { on, op, limit } } : {});

export function metrics(s: Sizes): Metric[] {
  const m: Metric[] = [];
  const fan = `${s.viewers} SSE + ${s.viewers} WS viewers`;
  for (const p of [50, 99]) {
    const goal = at("ratio", "<=", 1.2, s.viewers === 100);
    m.push({ key: `fanout.all.p${p}`, label: `fan-out latency p${p} (${fan})`, unit: "ms", better: "lower", phase: "fanout", from: "pct", sample: "fanout.all", p, ...goal });
  }
  for (const tr of ["sse", "ws"] as const) {
    for (const p of [50, 99]) {
      const label = `  ${tr === "sse" ? "SSE" : "WS"} viewers p${p}`;
      m.push({ key: `fanout.${tr}.p${p}`, label, unit: "ms", better: "lower", phase: "fanout", from: "pct", sample: `fanout.${tr}`, p });
    }
  }
  const dh = Math.max(1, Math.floor(s.deltaViewers / 2));
  const dv = `${dh} SSE + ${dh} WS viewers`;
  m.push({ key: "delta.all.p50", label: `delta fan-out latency p50 (${dv})`, unit: "ms", better: "lower", phase: "deltas", from: "pct", sample: "delta.all", p: 50 });
  m.push({ key: "delta.all.p99", label: `delta fan-out latency p99 (${dv})`, unit: "ms", better: "lower", phase: "deltas", from: "pct", sample: "delta.all", p: 99 });
  for (const tr of ["sse", "ws"] as const) {
    for (const p of [50, 99]) {
      const label = `  ${tr === "sse" ? "SSE" : "WS"} viewers p${p}`;
      m.push({ key: `delta.${tr}.p${p}`, label, unit: "ms", better: "lower", phase: "deltas", from: "pct", sample: `delta.${tr}`, p });
    }
  }
  m.push({ key: "post.single.rps", label: `single-line POSTs, sequential (${n(s.posts)})`, unit: "req/s", better: "higher", phase: "ingest", from: "value", value: "post.single.rps", ...at("ratio", ">=", 0.9) });
  m.push({ key: "post.single.p50", label: "  single-line POST latency p50", unit: "ms", better: "lower", phase: "ingest", from: "pct", sample: "post.single", p: 50 });
  m.push({ key: "post.single.cpu", label: "  machine time per single-line POST (CPU, all processes)", unit: "ms", better: "lower", phase: "ingest", from: "value", value: "post.single.cpu" });
  m.push({ key: "post.batch.lps", label: `lines in batches of ${s.batchLines} (${n(s.batches)} batches)`, unit: "lines/s", better: "higher", phase: "ingest", from: "value", value: "post.batch.lps", ...at("ratio", ">=", 3, s.batchLines === 100) });
  m.push({ key: "post.batch.p50", label: `  ${s.batchLines}-line POST latency p50`, unit: "ms", better: "lower", phase: "ingest", from: "pct", sample: "post.batch", p: 50 });
  m.push({ key: "post.batch.cpu", label: `  machine time per ${s.batchLines}-line POST (CPU, all processes)`, unit: "ms", better: "lower", phase: "ingest", from: "value", value: "post.batch.cpu" });
  m.push({ key: "catchup.seed.lps", label: `storing ${n(s.events)} events for the catch-up (batches of 1,000)`, unit: "lines/s", better: "higher", phase: "catchup", from: "value", value: "catchup.seed.lps" });
  const what = { sse: "SSE", ws: "WebSocket", wsraw: "WebSocket, uncompressed", json: "JSON pages" };
  for (const tr of ["sse", "ws", "wsraw", "json"] as const) {
    const goal = at("value", ">=", 250_000, (tr === "sse" || tr === "ws") && s.events === 100_000);
    m.push({ key: `catchup.${tr}.eps`, label: `catch-up of ${n(s.events)} events, ${what[tr]}`, unit: "events/s", better: "higher", phase: "catchup", from: "value", value: `catchup.${tr}.eps`, ...goal });
    if (tr === "sse") {
      m.push({ key: "catchup.sse.reconnects", label: "  SSE reconnects in that catch-up (reader dropped as slow)", unit: "count", better: "lower", phase: "catchup", from: "value", value: "catchup.sse.reconnects" });
    }
  }
  for (const tr of ["sse", "ws", "wsraw", "json"] as const) {
    const goal = at("value", "<=", 50, (tr === "sse" || tr === "ws") && s.events === 100_000);
    m.push({ key: `catchup.${tr}.mem`, label: `workerd RSS growth in catch-up, ${what[tr]}`, unit: "MiB", better: "lower", phase: "catchup", from: "value", value: `catchup.${tr}.mem`, ...goal });
  }
  m.push({ key: "msg.rtt.p50", label: "message round trip p50 (POST /messages → GET /inputs)", unit: "ms", better: "lower", phase: "messages", from: "pct", sample: "msg.rtt", p: 50 });
  m.push({ key: "plain.p50", label: "plain request p50 (the run's GET /)", unit: "ms", better: "lower", phase: "messages", from: "pct", sample: "plain", p: 50 });
  m.push({ key: "msg.ratio", label: "message round trip / plain request", unit: "x", better: "lower", phase: "messages", from: "ratio", num: "msg.rtt.p50", den: "plain.p50", ...at("value", "<=", 1.3) });
  for (const v of s.ingestViewers) {
    const who = `${n(v)} viewers`;
    m.push({ key: `ingest.${v}.p50`, label: `ingest latency p50, ${s.batchLines}-line batch, ${who}`, unit: "ms", better: "lower", phase: "viewers", from: "pct", sample: `ingest.${v}`, p: 50 });
    m.push({ key: `ingest.${v}.p99`, label: `ingest latency p99, ${s.batchLines}-line batch, ${who}`, unit: "ms", better: "lower", phase: "viewers", from: "pct", sample: `ingest.${v}`, p: 99 });
    if (v > 0) {
      m.push({ key: `deliver.${v}.p50`, label: `  until all ${who} have it, p50`, unit: "ms", better: "lower", phase: "viewers", from: "pct", sample: `deliver.${v}`, p: 50 });
      if (s.ingestViewers.includes(0)) {
        const goal = at("value", "<=", 2, v === 2000 && s.batchLines === 100);
        m.push({ key: `ingest.${v}.x`, label: `  ingest p50 with ${who} / with none`, unit: "x", better: "lower", phase: "viewers", from: "ratio", num: `ingest.${v}.p50`, den: "ingest.0.p50", ...goal });
      }
      m.push({ key: `wrong.${v}`, label: `  of the ${who}, those that missed, repeated or reordered an id`, unit: "count", better: "lower", phase: "viewers", from: "value", value: `wrong.${v}`, ...at("value", "<=", 0) });
    }
  }
  m.push({ key: "rows.per1000", label: `rows written per 1,000 stream_event deltas (batches of ${s.deltaBatch})`, unit: "rows", better: "lower", phase: "rows", from: "value", value: "rows.per1000" });
  return m;
}

export function figure(metric: Metric, rounds: Rounds, all: Metric[]): Figure {
  if (metric.from === "pct") {
    const per = rounds.map((r) => percentile(r.samples[metric.sample] ?? [], metric.p) ?? null);
    const pooled = rounds.flatMap((r) => r.samples[metric.sample] ?? []);
    return withSpread(percentile(pooled, metric.p) ?? null, per);
  }
  if (metric.from === "value") {
    const per = rounds.map((r) => r.values[metric.value] ?? null);
    const present = per.filter((x): x is number => x !== null);
    return withSpread(present.length ? median(present)! : null, per);
  }
  const num = all.find((x) => x.key === metric.num)!;
  const den = all.find((x) => x.key === metric.den)!;
  const a = figure(num, rounds, all);
  const b = figure(den, rounds, all);
  const per = a.rounds.map((x, i) => (x === null || !b.rounds[i] ? null : x / b.rounds[i]!));
  return withSpread(a.value === null || !b.value ? null : a.value / b.value, per);
}

function withSpread(value: number | null, rounds: (number | null)[]): Figure {
  const present = rounds.filter((x): x is number => x !== null);
  return { value, rounds, spread: spread(present) ?? null };
}

export function rows(all: Metric[], results: Record<TargetName, Rounds>): Row[] {
  return all.map((metric) => {
    const relay = figure(metric, results.relay, all);
    const floor = figure(metric, results.floor, all);
    const ratio = relay.value === null || floor.value === null || floor.value === 0 ? null : relay.value / floor.value;
    return { metric, relay, floor, ratio, holds: holds(metric.goal, metric.goal?.on === "ratio" ? ratio : relay.value) };
  });
}

function holds(goal: Goal | undefined, x: number | null): boolean | null {
  if (!goal || x === null || !Number.isFinite(x)) return null;
  return goal.op === "<=" ? x <= goal.limit : x >= goal.limit;
}

/** A goal as the table shows it, e.g. `ratio <= 1.2: holds`. */
function goalText(r: Row): string {
  const g = r.metric.goal;
  if (!g) return "";
  const limit = g.limit >= 1000 ? n(g.limit) : String(g.limit);
  return `${g.on === "ratio" ? "ratio " : ""}${g.op === "<=" ? "≤" : "≥"} ${limit}: ${r.holds === null ? "n/a" : r.holds ? "holds" : "misses"}`;
}

export function fmt(x: number | null, unit: string): string {
  if (x === null || !Number.isFinite(x)) return "n/a";
  if (unit === "x") return `${x.toFixed(2)}x`;
  if (unit === "ms" || unit === "MiB") return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
  return Math.round(x).toLocaleString("en-US");
}

/** The table: one line per figure, runrelay's and the floor's (± the rounds' spread), and their ratio. */
export function table(all: Row[], showSpread: boolean): string {
  const head = ["figure", "unit", "runrelay", "floor", "runrelay / floor", "better", "goal (issue 14)"];
  const body = all.map((r) => {
    const cell = (f: Figure) => fmt(f.value, r.metric.unit) + (showSpread && f.spread !== null && f.value !== null ? ` ±${Math.round(f.spread * 100)}%` : "");
    return [r.metric.label, r.metric.unit, cell(r.relay), cell(r.floor), r.ratio === null ? "n/a" : `${r.ratio.toFixed(2)}`, r.metric.better, goalText(r)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === 1 || i >= 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
