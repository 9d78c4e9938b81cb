/**
 * The `exec` source: spawns any command that prints stream-json on stdout,
 * e.g. `claude -p --output-format stream-json --input-format stream-json --verbose`.
 * Each stdout line is one line; injected messages are written to its stdin as
 * stream-json user lines; its stderr passes through. An interrupt is, for
 * Claude Code, a stream-json control request on its stdin (the turn stops, the
 * session goes on) and, for other commands, SIGINT. A restarted runner
 * resumes a `claude` command's session with `--resume ID` and does not send
 * the prompt again.
 *
 * A `claude` command is started with `--permission-prompt-tool stdio`: it asks
 * for a tool's permission with a `control_request` line on stdout and waits for
 * the `control_response` that a participant's answer becomes on its stdin;
 * the other control messages participants send go to its stdin too (control.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import type { Source, SourceLine, SourceStart } from "../session.ts";
import { asStreamJson, userLine } from "./lines.ts";

export interface ExecSourceOptions {
  command: string[];
  /** After its input is closed, how long the command has to exit before it gets SIGTERM (default 10 s). */
  exitGraceMs?: number;
  /** The first user message, written to stdin at start. */
  prompt?: string;
  cwd?: string;
  /**
   * How a participant's stop reaches the command: `control` writes Claude Code's
   * interrupt control request to its stdin, `signal` sends SIGINT. Default:
   * `control` when the command's basename is `claude`, else `signal`.
   */
  interrupt?: "signal" | "control";
  /** Add `--include-partial-messages` to a `claude` command (default true): its deltas reach viewers live. */
  partial?: boolean;
}

const PARTIAL_FLAG = "--include-partial-messages";
const PERMISSION_FLAG = "--permission-prompt-tool";

/** A `claude` command's arguments: partial messages and stdio permission prompts unless given, and the session to resume. */
export function claudeArgs(given: string[], opts: { partial?: boolean; resume?: string | undefined }): string[] {
  const has = (flag: string) => given.some((a) => a === flag || a.startsWith(`${flag}=`));
  return [
    ...given,
    ...(opts.partial !== false && !has(PARTIAL_FLAG) ? [PARTIAL_FLAG] : []),
    ...(has(PERMISSION_FLAG) ? [] : [PERMISSION_FLAG, "stdio"]),
    ...(opts.resume ? ["--resume", opts.resume] : []),
  ];
}

/** True if the command is Claude Code (its basename is `claude`). */
export const isClaude = (command: string[]) => command[0] !== undefined && basename(command[0]) === "claude";

/** Claude Code's stream-json interrupt: stops the current turn, keeps the session. */
export const interruptRequest = (requestId = randomUUID()) =>
  JSON.stringify({ type: "control_request", request_id: requestId, request: { subtype: "interrupt" } }) + "\n";

export function execSource(opts: ExecSourceOptions): Source {
  let child: ChildProcess | undefined;
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (!child?.stdin || child.stdin.writableEnded) return reject(new Error("the command's stdin is closed"));
      child.stdin.write(text, (err) => (err ? reject(err) : resolve()));
    });

  const interruptBy = opts.interrupt ?? (isClaude(opts.command) ? "control" : "signal");

  return {
    async *lines(_from?: number, start: SourceStart = {}): AsyncIterable<SourceLine> {
      const [cmd, ...given] = opts.command;
      if (!cmd) throw new Error("exec needs a command after --");
      // Resuming: Claude Code takes the session id; any other command finds it in RUNRELAY_RESUME_SESSION.
      const args = isClaude(opts.command) ? claudeArgs(given, { partial: opts.partial, resume: start.resume }) : given;
      const env = { ...process.env, ...start.env, ...(start.resume && { RUNRELAY_RESUME_SESSION: start.resume }) };
      const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"], env, ...(opts.cwd && { cwd: opts.cwd }) });
      child = proc;
      proc.stdin!.on("error", () => {}); // the command may exit before reading its input
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        proc.once("error", (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
        proc.once("close", (code, signal) => resolve({ code, signal }));
      });
      exited.catch(() => {}); // observed below
      // Written while stdout is already being read: a command may print (or exit) before it reads its input.
      if (opts.prompt && !start.resume) write(userLine({ role: "user", content: opts.prompt }).line).catch(() => {});
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
    resumable: true,
    async inject(message, input) {
      const { uuid, line } = userLine(message, input.uuid);
      await write(line);
      return uuid;
    },
    control: {
      write: (message) => write(JSON.stringify(message) + "\n"),
      answersRequests: isClaude(opts.command),
      interruptsByRequest: interruptBy === "control",
    },
    async interrupt() {
      if (interruptBy === "signal") child?.kill("SIGINT");
      else await write(interruptRequest());
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
