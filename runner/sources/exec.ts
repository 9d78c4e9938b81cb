/**
 * The `exec` source: spawns any command that prints stream-json on stdout,
 * e.g. `claude -p --output-format stream-json --input-format stream-json --verbose`.
 * Each stdout line is one line; injected messages are written to its stdin as
 * stream-json user lines; an interrupt sends SIGINT; its stderr passes through.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Source, SourceLine } from "../session.ts";
import { asStreamJson, userLine } from "./lines.ts";

export interface ExecSourceOptions {
  command: string[];
  /** After its input is closed, how long the command has to exit before it gets SIGTERM (default 10 s). */
  exitGraceMs?: number;
  /** The first user message, written to stdin at start. */
  prompt?: string;
  cwd?: string;
}

export function execSource(opts: ExecSourceOptions): Source {
  let child: ChildProcess | undefined;
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (!child?.stdin || child.stdin.writableEnded) return reject(new Error("the command's stdin is closed"));
      child.stdin.write(text, (err) => (err ? reject(err) : resolve()));
    });

  return {
    async *lines(): AsyncIterable<SourceLine> {
      const [cmd, ...args] = opts.command;
      if (!cmd) throw new Error("exec needs a command after --");
      const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"], ...(opts.cwd && { cwd: opts.cwd }) });
      child = proc;
      proc.stdin!.on("error", () => {}); // the command may exit before reading its input
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        proc.once("error", (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
        proc.once("close", (code, signal) => resolve({ code, signal }));
      });
      exited.catch(() => {}); // observed below
      // Written while stdout is already being read: a command may print (or exit) before it reads its input.
      if (opts.prompt) write(userLine({ role: "user", content: opts.prompt }).line).catch(() => {});
      try {
        for await (const raw of createInterface({ input: proc.stdout!, crlfDelay: Infinity })) {
          const text = raw.trim();
          if (text) yield { text: asStreamJson(text) };
        }
        const { code, signal } = await exited;
        if (code !== 0) throw new Error(`${cmd} exited with ${code === null ? `signal ${signal}` : `code ${code}`}`);
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      }
    },
    async inject(message) {
      const { uuid, line } = userLine(message);
      await write(line);
      return uuid;
    },
    async interrupt() {
      child?.kill("SIGINT");
    },
    end() {
      child?.stdin?.end();
      // A command that ignores the end of its input is stopped, so the runner cannot hang on it.
      const proc = child;
      const grace = setTimeout(() => {
        if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      }, opts.exitGraceMs ?? 10_000);
      grace.unref();
      proc?.once("close", () => clearTimeout(grace));
    },
  };
}
