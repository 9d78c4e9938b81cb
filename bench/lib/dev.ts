/**
 * `wrangler dev` for the bench: started as test/support/wrangler.ts does it
 * (a free 127.0.0.1 port, its own inspector port and --persist-to folder),
 * but keeping only the tail of its output (a long bench makes a lot of it),
 * counting reloads (wrangler rebuilds when a watched file changes), and able
 * to find the `workerd` process that runs the Worker, to read its memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/support/wrangler.ts";

export interface Dev {
  name: string;
  url: string;
  /** The `wrangler dev` process (it runs in a process group of its own). */
  pid: number;
  /** Its inspector port (Chrome DevTools protocol), for profiling by hand. */
  inspectorPort: number;
  /** How many times wrangler reloaded the Worker since it was ready. */
  reloads(): number;
  /** The last lines it printed. */
  tail(): string;
  /** Resident memory of the workerd process that runs the Worker, in MiB (undefined if it cannot be read). */
  rssMiB(): number | undefined;
  /** CPU time (user + system, ms) used so far by wrangler and every process under it: both workerds, esbuild (undefined if it cannot be read). */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

const TAIL_CHARS = 64 * 1024;


/** Every `wrangler dev` started and not yet stopped, so an exit handler can kill them synchronously. */
export const running = new Set<{ pid: number; dir: string }>();

export async function startDev(opts: { name: string; root: string; cwd: string; config?: string; vars?: Record<string, string>; env?: Record<string, string>; timeoutMs: number }): Promise<Dev> {
  const wrangler = join(opts.root, "node_modules", "wrangler", "bin", "wrangler.js");
  const state = await mkdtemp(join(tmpdir(), `runrelay-bench-${opts.name}-`));
  const [port, inspector] = [await freePort(), await freePort()];
  const args = [
    wrangler, "dev",
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
    "--persist-to", state, "--show-interactive-dev-session=false", "--log-level", "log",
    ...(opts.config ? ["--config", opts.config] : []),
    ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stopped as a whole, and not hit by the terminal's Ctrl-C before we stop it
  });
  const entry = { pid: child.pid!, dir: state };
  running.add(entry);
  const url = `http://127.0.0.1:${port}`;
  let tail = "";
  let ready = false;
  let reloads = 0;
  let pending = ""; // an incomplete last line
  let runtime: number | undefined; // the runtime workerd's pid, once looked up
  const ready$ = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = pending + chunk.toString();
      const cut = text.lastIndexOf("\n");
      pending = cut === -1 ? text : text.slice(cut + 1);
      const complete = cut === -1 ? "" : text.slice(0, cut + 1);
      tail = (tail + complete).slice(-TAIL_CHARS);
      if (!ready && complete.includes(`Ready on ${url}`)) {
        ready = true;
        resolve();
      }
      if (ready) reloads += complete.split("Reloading local server").length - 1;
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${opts.name}: wrangler dev exited (${code}) before it was ready:\n${tail}${pending}`)));
  });
  const dev: Dev = {
    name: opts.name,
    url,
    pid: child.pid!,
    inspectorPort: inspector,
    reloads: () => reloads,
    tail: () => tail + pending,
    rssMiB: () => {
      // The pid is looked up once (a /proc walk) and again only if it stops answering (workerd restarted).
      let mib = runtime === undefined ? undefined : rssMiB(runtime);
      if (mib === undefined) {
        runtime = runtimePid(child.pid!, port);
        mib = runtime === undefined ? undefined : rssMiB(runtime);
      }
      return mib;
    },
    cpuMs: () => cpuMsOf([child.pid!, ...descendants(child.pid!)]),
    stop: async () => {
      await stopProcess(child);
      rmSync(state, { recursive: true, force: true });
      running.delete(entry);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready$,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${opts.name}: wrangler dev was not ready within ${opts.timeoutMs / 1000} s:\n${tail}`)), opts.timeoutMs))),
    ]);
  } catch (err) {
    await dev.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return dev;
}

/** SIGTERM to wrangler (it stops its workerd and esbuild); after 5 s, SIGKILL to its whole process group. */
async function stopProcess(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  const group = descendants(pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signal(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) signal(-pid, "SIGKILL"); // its group, while it still exists
  }
  // Anything it started that outlived it: killed by id.
  for (const p of group) if (alive(p)) signal(p, "SIGKILL");
}

/** The exit handler's last resort: synchronous, by process group id. */
export function killAllSync(): void {
  for (const { pid, dir } of running) {
    if (alive(pid)) signal(-pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The fields of /proc/<pid>/stat from the 3rd (state) on: `pid (comm) state
 * ppid …`, and comm may hold spaces and parentheses. Throws if the process
 * has exited.
 */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Parent of every process, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      map.set(Number(name), Number(statFields(name)[1]));
    } catch {
      // it just exited
    }
  }
  return map;
}

function descendants(root: number): number[] {
  const map = parents();
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of map) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/**
 * The workerd that runs the Worker. wrangler dev runs two: a proxy bound to
 * the public port, and the runtime (bound to port 0, with the inspector).
 */
function runtimePid(root: number, publicPort: number): number | undefined {
  const workerds = descendants(root).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "workerd";
    } catch {
      return false;
    }
  });
  const cmdline = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  };
  const runtime = workerds.filter((p) => !cmdline(p).includes(`--socket-addr=entry=127.0.0.1:${publicPort}`));
  return (runtime.length > 0 ? runtime : workerds).at(-1);
}

/** Clock ticks per second of `utime` and `stime` in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time the live processes among `pids` have used, in ms; undefined if none could be read. */
function cpuMsOf(pids: number[]): number | undefined {
  let ticks = 0;
  let read = 0;
  for (const pid of pids) {
    try {
      const fields = statFields(pid);
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: the 14th and 15th fields
      read++;
    } catch {
      // it just exited
    }
  }
  return read === 0 ? undefined : (ticks * 1000) / TICKS_PER_SECOND;
}

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
