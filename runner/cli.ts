#!/usr/bin/env node
/**
 * runrelay: run a Claude workflow next to the SDK and relay it live.
 *   runrelay sdk  --prompt "…"            the Agent SDK's query(), streaming input
 *   runrelay exec -- <command…>           any command that prints stream-json
 *   runrelay tail --file _stream.jsonl    a file an existing workflow writes
 */
import { execFile } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { SpoolInUseError } from "./lock.ts";
import { FatalError, RetryableError, type TokenSource } from "./relay.ts";
import { TookOverError } from "./shipper.ts";
import { RunId, Scope } from "../src/protocol/index.ts";
import { mintToken } from "./token.ts";
import { reporter } from "./report.ts";
import { runSession, type Source } from "./session.ts";
import { execSource } from "./sources/exec.ts";
import { loadAgentSdk, MissingSdkError, sdkSource } from "./sources/sdk.ts";
import { tailSource } from "./sources/tail.ts";

class UsageError extends Error {}

const COMMON = {
  url: { type: "string" },
  run: { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  "token-command": { type: "string" },
  "spool-dir": { type: "string" },
  "no-spool": { type: "boolean" },
  "idle-timeout": { type: "string" },
  "retry-max": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

const COMMON_HELP = `Relay options (a flag, or the environment variable on the right):
  --url URL            the relay, e.g. http://localhost:8787                RUNRELAY_URL
  --run ID             the run id (1-128 of A-Z a-z 0-9 . _ -)              RUNRELAY_RUN_ID
  --token TOKEN        a runner token for the run                           RUNRELAY_TOKEN
  --token-file PATH    read the token from a file, again whenever it expired  RUNRELAY_TOKEN_FILE
  --token-command CMD  run CMD (sh -c) for a token, again whenever it expired RUNRELAY_TOKEN_COMMAND
  --spool-dir DIR      keep each batch here until the relay has it (default .runrelay)  RUNRELAY_SPOOL_DIR
  --no-spool           keep batches in memory only
  --idle-timeout S     after a turn, wait S seconds for another message (default 0)
  --retry-max S        longest wait between retries; retries never give up (default 10)
  -q, --quiet          only errors
  -v, --verbose        a line per batch
  -h, --help           this help

A runner token under npm run dev: curl -s "$RUNRELAY_URL/api/v1/dev/token?run=$RUNRELAY_RUN_ID&scope=runner"
In production: runrelay token --run ID --scope runner (with RELAY_SECRET).`;

const COMMANDS = {
  sdk: {
    options: {
      prompt: { type: "string", short: "p" },
      "prompt-file": { type: "string" },
      cwd: { type: "string" },
      model: { type: "string" },
      "permission-mode": { type: "string" },
      "allowed-tools": { type: "string" },
      "include-partial-messages": { type: "boolean" },
      "no-partial": { type: "boolean" },
      resume: { type: "string" },
      "claude-path": { type: "string" },
      bare: { type: "boolean" },
    },
    help: `runrelay sdk --prompt TEXT [options]

Runs the Claude Agent SDK's query() in streaming-input mode and relays every message it yields.
Messages participants send become new user turns; an interrupt calls query.interrupt().
Needs the Agent SDK (npm install @anthropic-ai/claude-agent-sdk) and Claude credentials:
ANTHROPIC_API_KEY in the environment, or a Claude Code that is logged in.

Example:
  runrelay sdk --url http://localhost:8787 --run run-42 --token "$TOKEN" \\
    --prompt "Fix the failing test" --cwd /work/run-42 --allowed-tools Bash,Read,Edit

  -p, --prompt TEXT            the first user message
  --prompt-file PATH           the first user message, from a file
  --cwd DIR                    the agent's working directory
  --model MODEL                the model
  --permission-mode MODE       default, acceptEdits, plan, bypassPermissions, …
  --allowed-tools A,B          tools the agent may use without asking, e.g. Bash,Read
  --no-partial                 do not relay partial messages (by default the SDK's includePartialMessages
                               is on: text as it is typed reaches viewers as live deltas, never stored)
  --resume SESSION_ID          continue an earlier session
  --claude-path PATH           the Claude Code executable (default: the SDK's own)
  --bare                       Claude Code's minimal mode (no hooks, plugins or CLAUDE.md discovery)`,
  },
  exec: {
    options: {
      prompt: { type: "string", short: "p" },
      cwd: { type: "string" },
      "exit-grace": { type: "string" },
      interrupt: { type: "string" },
      "no-partial": { type: "boolean" },
    },
    help: `runrelay exec [--prompt TEXT] -- COMMAND [ARGS…]

Spawns a command that prints stream-json on stdout and relays each line (a line that is not
a JSON object is relayed as {"type":"runrelay_diagnostic","subtype":"non_json_output","text":…}).
Messages are written to its stdin as stream-json user lines. A restarted runner resumes a
claude command's session (--resume ID) instead of sending the prompt again.

Example (Claude Code, which needs ANTHROPIC_API_KEY or a logged-in claude):
  runrelay exec --url http://localhost:8787 --run run-42 --token "$TOKEN" --prompt "Fix the failing test" -- \\
    claude -p --output-format stream-json --input-format stream-json --verbose

  -p, --prompt TEXT          the first user message, written to stdin at start
  --cwd DIR                  the command's working directory
  --exit-grace S             once its input is closed, seconds the command has to exit before SIGTERM (default 10)
  --interrupt signal|control how a stop reaches the command: control writes Claude Code's interrupt
                             request to its stdin (the turn stops, the session goes on), signal sends
                             SIGINT (default: control for a command named claude, else signal)
  --no-partial               do not add --include-partial-messages to a claude command (by default it is
                             added: text as it is typed reaches viewers as live deltas, never stored)`,
  },
  tail: {
    options: { file: { type: "string", short: "f" }, inbox: { type: "string" }, "from-offset": { type: "string" } },
    help: `runrelay tail --file PATH [--inbox PATH] [--from-offset BYTES]

Follows a stream-json file an existing workflow writes (_stream.jsonl), from the start, through
truncation and late creation. Messages and interrupts are appended to the inbox file.

Example:
  runrelay tail --url http://localhost:8787 --run run-42 --token "$TOKEN" --file /work/run-42/_stream.jsonl

  -f, --file PATH        the file to follow
  --inbox PATH           where inputs go (default: _messages.jsonl next to the file)
  --from-offset BYTES    start at this byte offset instead of the start`,
  },
} as const;

type Command = keyof typeof COMMANDS;

const TOKEN_HELP = `runrelay token --run ID --scope runner|read|write|admin [--ttl SECONDS] [--secret SECRET]

Prints a token for a run, signed locally with the relay's secret.
A backend gives the runner a runner token and each viewer a read or write token.

Example:
  RELAY_SECRET=… runrelay token --run run-42 --scope runner --ttl 900

  --run ID          the run id; '*' (with --scope admin) for every run   RUNRELAY_RUN_ID
  --scope SCOPE     runner, read, write or admin
  --ttl SECONDS     how long it is valid (default 3600)
  --secret SECRET   the relay's secret                                   RELAY_SECRET
  -h, --help        this help`;

async function tokenCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { run: { type: "string" }, scope: { type: "string" }, ttl: { type: "string" }, secret: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(TOKEN_HELP + "\n");
    return 0;
  }
  const secret = values.secret ?? env.RELAY_SECRET;
  if (!secret) throw new UsageError("no secret: pass --secret or set RELAY_SECRET");
  const runId = values.run ?? env.RUNRELAY_RUN_ID;
  if (!runId || !(runId === "*" || RunId.safeParse(runId).success)) throw new UsageError("--run takes a run id (or '*' with --scope admin)");
  const scope = Scope.safeParse(values.scope);
  if (!scope.success) throw new UsageError("--scope takes runner, read, write or admin");
  if (runId === "*" && scope.data !== "admin") throw new UsageError("only an admin token may be for every run (--run '*')");
  const ttl = Number(values.ttl ?? "3600");
  if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError("--ttl takes a number of seconds > 0");
  process.stdout.write((await mintToken(secret, runId, scope.data, ttl)).token + "\n");
  return 0;
}

const USAGE = `runrelay: relay a Claude agent run live, and carry messages back to it.

Usage:
  runrelay sdk  --prompt TEXT [options]      run the Claude Agent SDK (needs ANTHROPIC_API_KEY
                                             or a logged-in Claude Code)
  runrelay exec [options] -- COMMAND…        run any command that prints stream-json
  runrelay tail --file PATH [options]        follow a file a workflow writes
  runrelay token --run ID --scope SCOPE      sign a token for a run (with RELAY_SECRET)
  runrelay COMMAND --help                    a command's options, with an example

In a clone of the runrelay repository: npm run runner -- COMMAND …

Exit codes: 0 completed, 1 failed / interrupted / error / another runner took over,
2 bad usage or the spool in use by another runner, 130 stopped by a signal.

${COMMON_HELP}`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  if (name === "token") {
    try {
      return await tokenCommand(rest, env);
    } catch (err) {
      process.stderr.write(`runrelay: error: ${(err as Error).message} (try runrelay token --help)\n`);
      return 2;
    }
  }
  if (!(name in COMMANDS)) {
    process.stderr.write(`runrelay: error: unknown command "${name}" (try runrelay --help)\n`);
    return 2;
  }
  const command = name as Command;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...COMMON, ...COMMANDS[command].options } as ParseArgsConfig["options"],
      allowPositionals: command === "exec",
      strict: true,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`runrelay: error: ${(err as Error).message} (try runrelay ${command} --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${COMMANDS[command].help}\n\n${COMMON_HELP}\n`);
    return 0;
  }
  const report = reporter({ quiet: values.quiet === true, verbose: values.verbose === true });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    report.info(`${signal}: interrupting, flushing, then ending the run as cancelled`);
    stop.abort();
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    const str = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
    const url = str("url") ?? env.RUNRELAY_URL;
    const runId = str("run") ?? env.RUNRELAY_RUN_ID;
    const token = tokenSource(str("token") ?? env.RUNRELAY_TOKEN, str("token-file") ?? env.RUNRELAY_TOKEN_FILE, str("token-command") ?? env.RUNRELAY_TOKEN_COMMAND);
    if (!url) throw new UsageError("no relay URL: pass --url or set RUNRELAY_URL");
    if (!runId) throw new UsageError("no run id: pass --run or set RUNRELAY_RUN_ID");
    const idle = Number(str("idle-timeout") ?? "0");
    if (!Number.isFinite(idle) || idle < 0) throw new UsageError("--idle-timeout takes a number of seconds ≥ 0");
    const retryMax = Number(str("retry-max") ?? "10");
    if (!Number.isFinite(retryMax) || retryMax <= 0) throw new UsageError("--retry-max takes a number of seconds > 0");
    const spoolDir = str("spool-dir") ?? env.RUNRELAY_SPOOL_DIR ?? ".runrelay";
    const { source, from } = sourceFor(command, values, positionals);
    if (command === "sdk") await loadAgentSdk(); // before anything is sent: a missing SDK is a setup error
    const outcome = await runSession(source, {
      relay: { url, runId, ...(token && { token }) },
      spool: values["no-spool"] ? null : join(spoolDir, `${runId}.spool.jsonl`),
      idleTimeoutSeconds: idle,
      retry: { baseMs: 250, maxMs: retryMax * 1000 },
      report,
      signal: stop.signal,
      ...(from !== undefined && { from }),
    });
    return outcome.exitCode;
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof MissingSdkError || err instanceof SpoolInUseError;
    const known = usage || err instanceof FatalError || err instanceof RetryableError || err instanceof TookOverError;
    report.error(known ? err.message : String((err as Error)?.message ?? err));
    return usage ? 2 : 1;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
}

/** --token, --token-file or --token-command (one of them): a file or a command is asked again whenever the token expires. */
export function tokenSource(token: string | undefined, file: string | undefined, command: string | undefined): TokenSource | undefined {
  const given = [token, file, command].filter((v) => v !== undefined && v !== "");
  if (given.length > 1) throw new UsageError("give one of --token, --token-file and --token-command (or their RUNRELAY_ variables)");
  if (file) return async () => readFile(file, "utf8");
  if (command) {
    return async () => {
      try {
        return (await promisify(execFile)("/bin/sh", ["-c", command], { timeout: 60_000, maxBuffer: 1024 * 1024 })).stdout;
      } catch (err) {
        const e = err as { code?: unknown; stderr?: string; message: string };
        throw new Error(`--token-command failed${typeof e.code === "number" ? ` (exit ${e.code})` : ""}: ${(e.stderr || e.message).trim().split("\n").at(-1)}`);
      }
    };
  }
  return token || undefined;
}

function sourceFor(command: Command, values: Record<string, string | boolean | undefined>, positionals: string[]): { source: Source; from?: number } {
  const str = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
  if (command === "sdk") {
    const promptFile = str("prompt-file");
    const prompt = str("prompt") ?? (promptFile ? readFileSync(promptFile, "utf8") : undefined);
    if (!prompt?.trim()) throw new UsageError("no prompt: pass --prompt TEXT or --prompt-file PATH");
    const tools = str("allowed-tools");
    return {
      source: sdkSource({
        prompt,
        ...(str("cwd") && { cwd: str("cwd") }),
        ...(str("model") && { model: str("model") }),
        ...(str("permission-mode") && { permissionMode: str("permission-mode") as never }),
        ...(tools && { allowedTools: tools.split(",").map((t) => t.trim()).filter(Boolean) }),
        includePartialMessages: values["no-partial"] !== true,
        ...(str("resume") && { resume: str("resume") }),
        ...(str("claude-path") && { claudePath: str("claude-path") }),
        ...(values.bare && { extraArgs: { bare: null } }),
      }),
    };
  }
  if (command === "exec") {
    if (positionals.length === 0) throw new UsageError("exec needs a command: runrelay exec [options] -- COMMAND [ARGS…]");
    const grace = Number(str("exit-grace") ?? "10");
    if (!Number.isFinite(grace) || grace < 0) throw new UsageError("--exit-grace takes a number of seconds ≥ 0");
    const interrupt = str("interrupt");
    if (interrupt !== undefined && interrupt !== "signal" && interrupt !== "control") throw new UsageError("--interrupt takes signal or control");
    return {
      source: execSource({
        command: positionals,
        exitGraceMs: grace * 1000,
        partial: values["no-partial"] !== true,
        ...(interrupt && { interrupt: interrupt as "signal" | "control" }),
        ...(str("prompt") && { prompt: str("prompt") }),
        ...(str("cwd") && { cwd: str("cwd") }),
      }),
    };
  }
  const file = str("file");
  if (!file) throw new UsageError("tail needs --file PATH");
  const fromOffset = str("from-offset");
  const from = fromOffset === undefined ? undefined : Number(fromOffset);
  if (from !== undefined && !(Number.isInteger(from) && from >= 0)) throw new UsageError("--from-offset takes a byte offset ≥ 0");
  return { source: tailSource({ file, inbox: str("inbox") ?? join(dirname(file), "_messages.jsonl") }), ...(from !== undefined && { from }) };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
