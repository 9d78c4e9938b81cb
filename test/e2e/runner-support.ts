/** Helpers for the runner's end-to-end tests: spawn the CLI, read a run, watch it live. */
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EventSource } from "eventsource";
import { expect, inject, onTestFinished } from "vitest";
import type { Entry, EventsPage } from "../../src/protocol/index.ts";
import { Inbox } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";

const CLI = fileURLToPath(new URL("../../runner/cli.ts", import.meta.url));
/** `node LINES COUNT INTERVAL_MS [TAG] [--result] [--hold FILE]`: numbered lines for `runrelay exec` (see the file). */
export const LINES = fileURLToPath(new URL("./runner-lines.mjs", import.meta.url));

export const newRunId = (name: string) => `e2e-runner-${name}-${crypto.randomUUID().slice(0, 8)}`;
/** What a backend gives the runner: the relay, the run, a runner token for it; plus `extra` (e.g. the fake API's variables). */
export async function runnerEnv(runId: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return { ...extra, RUNRELAY_URL: inject("relayUrl"), RUNRELAY_RUN_ID: runId, RUNRELAY_TOKEN: await tokenFor(runId, "runner") };
}

export const tempDir = (name: string) => mkdtemp(join(tmpdir(), `runrelay-${name}-`));

export interface RunnerProcess {
  pid: number;
  /** Its exit code once it has exited and its stderr is closed (-9 for SIGKILL). */
  exit: Promise<number>;
  /**
   * Once the process has exited, whether or not its stderr is closed: an agent a SIGKILLed
   * runner left behind still holds the stderr it inherited.
   */
  exited: Promise<number>;
  stderr: () => string;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts `runrelay …` as its own process, the way a backend would. A concurrent test passes its
 * own context (`it.concurrent(…, async (ctx) => …)`): the global `onTestFinished` cannot tell
 * concurrent tests apart.
 */
export function startRunner(args: string[], env: Record<string, string> = {}, cwd?: string, ctx: { onTestFinished: typeof onTestFinished } = { onTestFinished }): RunnerProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
    ...(cwd && { cwd }),
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = (resolve: (n: number) => void) => (c: number | null, signal: NodeJS.Signals | null) => resolve(c ?? (signal === "SIGKILL" ? -9 : -1));
  const exit = new Promise<number>((resolve) => child.once("close", code(resolve)));
  const exited = new Promise<number>((resolve) => child.once("exit", code(resolve)));
  // A test that fails before the runner exits must not leave it running.
  ctx.onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { pid: child.pid!, exit, exited, stderr: () => stderr, kill: (s) => void child.kill(s) };
}

export function relayApi(base: string) {
  const url = (runId: string, path = "") => `${base}/api/v1/workflows/${runId}${path}`;
  return {
    url,
    async log(runId: string): Promise<Entry[]> {
      const all: Entry[] = [];
      for (;;) {
        const res = await fetch(url(runId, `/events?after=${all.at(-1)?.id ?? 0}`), { headers: ADMIN });
        expect(res.status).toBe(200);
        const page = (await res.json()) as EventsPage;
        if (page.events.length === 0) return all;
        all.push(...page.events);
      }
    },
    post: (runId: string, path: string, body?: unknown) =>
      fetch(url(runId, path), {
        method: "POST",
        headers: { ...ADMIN, ...(body !== undefined && { "Content-Type": "application/json" }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      }),
    /** An EventSource on the run (with a read token): every entry it delivers, until `end`. */
    async watch(runId: string) {
      const seen = new Inbox<{ id: number; event: string; data: Record<string, unknown> }>();
      const es = new EventSource(url(runId, `/stream?token=${await tokenFor(runId, "read")}`));
      const note = (event: string) => (e: MessageEvent) =>
        event === "end" ? (seen.close(), es.close()) : seen.push({ id: Number(e.lastEventId), event, data: JSON.parse(e.data) });
      for (const event of ["message", "input", "status", "end"]) es.addEventListener(event, note(event));
      return { seen, close: () => es.close(), opened: new Promise((r) => es.addEventListener("open", r, { once: true })) };
    },
  };
}

/** A short description of a stream-json line, to compare sequences. */
export function describeLine(d: Record<string, unknown>): string {
  const content = (d.message as { content?: unknown } | undefined)?.content;
  const blocks = Array.isArray(content) ? (content as { type: string }[]).map((b) => b.type).join("+") : typeof content;
  switch (d.type) {
    case "system":
      return `system:${d.subtype}`;
    case "assistant":
    case "user":
      return `${d.type}:${blocks}`;
    case "result":
      return `result:${d.subtype}`;
    default:
      return String(d.type);
  }
}

/** The notable lines of a run (what a chat view shows), in order. */
export const conversation = (entries: Entry[]) =>
  entries
    .filter((e) => e.type !== "sdk" || ["system", "assistant", "user", "result"].includes(String(e.data.type)))
    .filter((e) => !(e.type === "sdk" && e.data.type === "system" && e.data.subtype !== "init"))
    .map((e) => (e.type === "sdk" ? describeLine(e.data) : `${e.type}:${e.data.kind ?? e.data.status}`));
