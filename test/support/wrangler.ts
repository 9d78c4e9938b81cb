/** Starts a real `wrangler dev` on a free loopback port, for end-to-end tests. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Relay {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * `persistTo`: keep the relay's storage in this folder (left in place on stop),
 * so a second relay started on it sees the same runs. `cwd`: run `wrangler dev`
 * on the wrangler.toml of another folder (default: this project's).
 */
export async function startRelay(opts: { vars?: Record<string, string>; persistTo?: string; cwd?: string } = {}): Promise<Relay> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  const state = opts.persistTo ?? (await mkdtemp(join(tmpdir(), "runrelay-e2e-")));
  const [port, inspector] = [await freePort(), await freePort()];
  const args = [
    wrangler, "dev",
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
    // "log", not "info": the Worker's console.log lines (its JSON logs) are at level log.
    "--persist-to", state, "--show-interactive-dev-session=false", "--log-level", "log",
    ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? root,
    // X_LOCAL_OBSERVABILITY: wrangler's local trace collector (docs/bench.md, "How it runs") writes every
    // invocation's spans to SQLite in the runtime's process; the tests read none of them.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    const onData = (chunk: Buffer) => {
      const from = Math.max(0, log.length - 200); // the marker may straddle two chunks
      log += chunk.toString();
      if (!ready && log.includes(`Ready on ${url}`, from)) {
        ready = true;
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`wrangler dev exited (${code}) before it was ready:\n${log}`)));
  });
  return {
    url,
    output: () => log,
    stop: async () => {
      await stop(child);
      if (!opts.persistTo) await rm(state, { recursive: true, force: true });
    },
  };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
