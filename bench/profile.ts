/**
 * `npm run profile` (node bench/profile.ts): where the relay's own time goes on ingest. It
 * starts runrelay under `wrangler dev` as the bench does, attaches V8's CPU
 * profiler through wrangler's inspector port (under `wrangler dev` the Worker
 * and its run objects share one isolate), drives single-line POSTs, batches
 * of 100 and message round trips, and prints for each the client's wall time
 * and the isolate's CPU time, per module of the bundle (esbuild marks each
 * with a `// path` comment) and per function.
 *
 *   npm run profile -- [--posts 1000] [--batches 100] [--messages 50] [--interval 500] [--top 25]
 *
 * Read it as proportions: sampling slows the isolate down (the finer
 * `--interval`, in µs, the more), and an async function's self time includes
 * the native work it starts (an RPC call, a console.log). docs/bench.md,
 * "Profiling", says what it found.
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { killAllSync, startDev } from "./lib/dev.ts";
import { storedLines } from "./lib/lines.ts";
import { relayTarget } from "./lib/targets.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: { posts: { type: "string" }, batches: { type: "string" }, messages: { type: "string" }, top: { type: "string" }, interval: { type: "string" } },
});
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Math.max(1, Math.floor(Number(v)) || fallback));
const [posts, batches, messages] = [num(values.posts, 1000), num(values.batches, 100), num(values.messages, 50)];
const [top, interval] = [num(values.top, 25), num(values.interval, 500)];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
type Send = <T>(method: string, params?: object) => Promise<T>;

/** A Chrome DevTools protocol session on the Worker's isolate. */
async function inspect(port: number): Promise<{ send: Send; close(): void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  // wrangler's inspector refuses a connection without a local Origin; Node's WebSocket (undici) takes headers as an extension.
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl, { headers: { Origin: "http://127.0.0.1" } } as unknown as string[]);
  await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  let next = 0;
  const pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: unknown };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id!);
    // workerd answers a command that returns nothing by echoing it (method and params, no result).
    if (msg.error) waiter.reject(new Error(JSON.stringify(msg.error)));
    else waiter.resolve(msg.result ?? {});
  };
  const send: Send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** For each script, the module each line belongs to (esbuild's `// path` comments). */
async function modulesOf(send: Send, scriptIds: Iterable<string>): Promise<Map<string, string[]>> {
  const byScript = new Map<string, string[]>();
  for (const id of scriptIds) {
    const { scriptSource } = await send<{ scriptSource: string }>("Debugger.getScriptSource", { scriptId: id }).catch(() => ({ scriptSource: "" }));
    let current = "(bundle)";
    byScript.set(
      id,
      scriptSource.split("\n").map((line) => {
        const m = /^\/\/ ((?:src|node_modules|bench)\/\S+|\.\.\/\S+)$/.exec(line);
        if (m) current = m[1]!.replace(/^(\.\.\/)+/, "").replace(/^node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*$/, "npm:$1");
        return current;
      }),
    );
  }
  return byScript;
}

/** Self time per module and per function (with the callers of native frames), and inclusive time of the relay's code. */
function summarise(profile: Profile, modules: Map<string, string[]>, wallMs: number, count: number): void {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const moduleOf = (n: ProfileNode) => (n.callFrame.url ? (modules.get(n.callFrame.scriptId)?.[n.callFrame.lineNumber] ?? n.callFrame.url) : "(native)");
  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"}  ${moduleOf(n)}:${n.callFrame.lineNumber + 1}`;
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const callers = new Map<string, Map<string, number>>();
  let busy = 0;
  for (const n of profile.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0) continue;
    if (n.callFrame.functionName !== "(idle)") busy += ms;
    add(byModule, n.callFrame.url ? moduleOf(n) : n.callFrame.functionName || "(native)", ms);
    add(byFunction, keyOf(n), ms);
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id)!);
      if (!seen.has(k)) add(inclusive, k, ms);
      seen.add(k);
    }
    const up = parent.get(n.id);
    if (up !== undefined && !n.callFrame.url) add(callers.get(keyOf(n)) ?? callers.set(keyOf(n), new Map()).get(keyOf(n))!, keyOf(byId.get(up)!), ms);
  }
  const per = (ms: number) => `${ms.toFixed(0).padStart(7)} ms ${(ms / count).toFixed(3).padStart(8)} ms each`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`wall ${(wallMs / count).toFixed(2)} ms each (${count}); the isolate was busy ${(busy / count).toFixed(2)} ms each`);
  console.log("\nself time, by module:");
  for (const [m, ms] of sorted(byModule)) console.log(`${per(ms)}  ${m}`);
  console.log("\nself time, by function (← who called a native one):");
  for (const [f, ms] of sorted(byFunction)) {
    const from = sorted(callers.get(f) ?? new Map()).slice(0, 2).map(([k, v]) => `${k.replace(/\s+/, " @ ")} ${v.toFixed(0)} ms`);
    console.log(`${per(ms)}  ${f}${from.length ? `   ← ${from.join(", ")}` : ""}`);
  }
  console.log("\ninclusive time, the relay's own code:");
  for (const [f, ms] of sorted(new Map([...inclusive].filter(([k]) => /\s(src\/|npm:hono)/.test(k))))) console.log(`${per(ms)}  ${f}`);
}

const secret = randomUUID();
process.on("exit", killAllSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(130));
const dev = await startDev({ name: "profile", root: ROOT, cwd: ROOT, vars: { RELAY_SECRET: secret }, timeoutMs: 120_000 });
try {
  const t = relayTarget(dev, secret);
  const { send, close } = await inspect(dev.inspectorPort);
  await send("Profiler.enable");
  await send("Debugger.enable"); // for Debugger.getScriptSource
  await send("Profiler.setSamplingInterval", { interval });
  const run = t.newRun("profile");
  // Warm-up, so the JIT has compiled the hot paths before anything is counted.
  for (let i = 0; i < 200; i++) await t.append(run, storedLines(i % 10 === 0 ? 100 : 1, i));
  let after = 0;
  const roundTrip = async () => {
    const poll = t.poll(run, after, 10);
    for (const until = Date.now() + 5_000; (await t.info(run)).waiting < 1; ) {
      if (Date.now() > until) throw new Error("the long-poll was not waiting after 5 s");
      await new Promise((r) => setTimeout(r, 2));
    }
    const id = await t.message(run, "profile message");
    if ((await poll) !== id) throw new Error("the long-poll did not return the message");
    after = id;
  };
  const sections: [string, number, () => Promise<unknown>][] = [
    ["single-line POSTs", posts, () => t.append(run, storedLines(1))],
    ["100-line POSTs", batches, () => t.append(run, storedLines(100))],
    ["message round trips (the long-poll, GET / until it waits, POST /messages)", messages, roundTrip],
  ];
  for (const [name, count, step] of sections) {
    console.error(`[profile] ${name}…`);
    const reloads = dev.reloads();
    await send("Profiler.start");
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await step();
    const wall = performance.now() - t0;
    const { profile } = await send<{ profile: Profile }>("Profiler.stop");
    console.log(`\n=== ${name} ===`);
    if (dev.reloads() > reloads) console.log("(wrangler reloaded the Worker meanwhile: a cold start is in these figures)");
    summarise(profile, await modulesOf(send, new Set(profile.nodes.filter((n) => n.callFrame.url).map((n) => n.callFrame.scriptId))), wall, count);
  }
  close();
} finally {
  await dev.stop();
}
