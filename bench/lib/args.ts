/** The bench's flags: the full and --quick sizes, the --help text, and reading argv into Options (null for --help). */
import { parseArgs } from "node:util";
import { PHASES, type Sizes } from "./phases.ts";

const FULL: Sizes = {
  viewers: 100,
  fanoutLines: 100,
  posts: 1000,
  batches: 100,
  batchLines: 100,
  events: 100_000,
  messages: 50,
  ingestViewers: [0, 400, 2000],
  ingestBatches: 20,
  deltaViewers: 100,
  deltaLines: 100,
  deltas: 1000,
  deltaBatch: 10,
};

const QUICK: Sizes = {
  viewers: 5,
  fanoutLines: 20,
  posts: 100,
  batches: 10,
  batchLines: 100,
  events: 2000,
  messages: 10,
  ingestViewers: [0, 10, 20],
  ingestBatches: 5,
  deltaViewers: 10,
  deltaLines: 20,
  deltas: 1000,
  deltaBatch: 10,
};

export const HELP = `npm run bench [-- flags]

  --quick                small sizes (2,000 events, 5 + 5 viewers …), 1 round: for development
  --json                 print JSON instead of the table
  --bare-floor           the floor without static assets (bench/floor/bare.toml): no asset router in front of it
  --relay-var K=V        a Worker var for runrelay (repeatable), e.g. LOG_REQUESTS=errors
  --local-observability  keep wrangler's local trace collector on, for both (off by default: docs/bench.md)
  --rounds N             rounds per target, alternating relay / floor (default 3; --quick 1)
  --only a,b             run only these phases: ${Object.keys(PHASES).join(", ")}
  --viewers N            fan-out: SSE viewers, and as many WebSocket viewers (default 100)
  --fanout-lines N       fan-out: lines sent, one per batch (default 100)
  --posts N              sequential single-line POSTs (default 1,000)
  --batches N            sequential batches of --batch-lines (default 100)
  --batch-lines N        lines per batch, for the batch and ingest-latency figures (default 100)
  --events N             catch-up: events stored, then read back (default 100,000)
  --messages N           message round trips, and as many plain requests (default 50)
  --ingest-viewers a,b   ingest latency at these viewer counts, half SSE, half WS (default 0,400,2000)
  --ingest-batches N     batches sent at each viewer count (default 20)
  --delta-viewers N      delta fan-out: viewers in all, half SSE, half WS (default 100; --quick 10)
  --delta-lines N        delta fan-out: stamped stream_event deltas sent, one per batch (default 100)
  --deltas N             stream_event delta lines for the rows-written figure (default 1,000)
  --delta-batch N        lines per batch for those (default 10)
  --help                 this`;

export interface Options {
  sizes: Sizes;
  /** The floor without static assets (bench/floor/bare.toml). */
  bareFloor: boolean;
  /** Worker vars for runrelay's `wrangler dev`, over wrangler.toml's. */
  relayVars: Record<string, string>;
  /** Leave wrangler's local trace collector on (X_LOCAL_OBSERVABILITY), for both targets. */
  localObservability: boolean;
  rounds: number;
  json: boolean;
  quick: boolean;
  phases: string[];
}

export function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: "boolean" },
      json: { type: "boolean" },
      "bare-floor": { type: "boolean" },
      "relay-var": { type: "string", multiple: true },
      "local-observability": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      rounds: { type: "string" },
      only: { type: "string" },
      viewers: { type: "string" },
      "fanout-lines": { type: "string" },
      posts: { type: "string" },
      batches: { type: "string" },
      "batch-lines": { type: "string" },
      events: { type: "string" },
      messages: { type: "string" },
      "ingest-viewers": { type: "string" },
      "ingest-batches": { type: "string" },
      "delta-viewers": { type: "string" },
      "delta-lines": { type: "string" },
      deltas: { type: "string" },
      "delta-batch": { type: "string" },
    },
  });
  if (values.help) return null;
  const quick = values.quick ?? false;
  const base = quick ? QUICK : FULL;
  const int = (flag: string, fallback: number, min = 1): number => {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) return fallback;
    const x = Number(raw);
    if (!Number.isSafeInteger(x) || x < min) throw new Error(`--${flag} takes a whole number ≥ ${min}, not ${String(raw)}`);
    return x;
  };
  const ingestViewers = values["ingest-viewers"]?.split(",").map((s) => {
    const x = Number(s.trim());
    if (!Number.isSafeInteger(x) || x < 0) throw new Error(`--ingest-viewers takes whole numbers, not ${s}`);
    return x;
  });
  const phases = values.only ? values.only.split(",").map((s) => s.trim()) : Object.keys(PHASES);
  for (const p of phases) if (!PHASES[p]) throw new Error(`--only: no phase ${p} (there are ${Object.keys(PHASES).join(", ")})`);
  const relayVars: Record<string, string> = {};
  for (const kv of values["relay-var"] ?? []) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(kv);
    if (!m || m[1] === "RELAY_SECRET") throw new Error(`--relay-var takes NAME=value (not RELAY_SECRET), not ${kv}`);
    relayVars[m[1]!] = m[2]!;
  }
  const batchLines = int("batch-lines", base.batchLines);
  if (batchLines > 10_000) throw new Error("--batch-lines: the relay takes at most 10,000 lines a batch");
  return {
    quick,
    json: values.json ?? false,
    bareFloor: values["bare-floor"] ?? false,
    relayVars,
    localObservability: values["local-observability"] ?? false,
    rounds: int("rounds", quick ? 1 : 3),
    phases,
    sizes: {
      viewers: int("viewers", base.viewers),
      fanoutLines: int("fanout-lines", base.fanoutLines),
      posts: int("posts", base.posts),
      batches: int("batches", base.batches),
      batchLines,
      events: int("events", base.events),
      messages: int("messages", base.messages),
      ingestViewers: ingestViewers ?? base.ingestViewers,
      ingestBatches: int("ingest-batches", base.ingestBatches),
      deltaViewers: int("delta-viewers", base.deltaViewers, 2),
      deltaLines: int("delta-lines", base.deltaLines),
      deltas: int("deltas", base.deltas),
      deltaBatch: Math.min(int("delta-batch", base.deltaBatch), 10_000),
    },
  };
}
