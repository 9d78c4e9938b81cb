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
import { HELP } from "./help.ts";
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
      "permission-timeout": { type: "string" },
    },
    help: HELP.sdk,
  },
  exec: {
    options: {
      prompt: { type: "string", short: "p" },
      cwd: { type: "string" },
      "exit-grace": { type: "string" },
      interrupt: { type: "string" },
      "no-partial": { type: "boolean" },
      "permission-timeout": { type: "string" },
    },
    help: HELP.exec,
  },
  tail: {
    options: { file: { type: "string", short: "f" }, inbox: { type: "string" }, "from-offset": { type: "string" } },
    help: HELP.tail,
  },
} as const;

type Command = keyof typeof COMMANDS;

async function tokenCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { run: { type: "string" }, scope: { type: "string" }, ttl: { type: "string" }, secret: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP.token + "\n");
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

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP.usage + "\n");
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
    process.stdout.write(`${COMMANDS[command].help}\n\n${HELP.common}\n`);
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
    const permissionTimeout = str("permission-timeout") === undefined ? undefined : Number(str("permission-timeout"));
    if (permissionTimeout !== undefined && !(Number.isFinite(permissionTimeout) && permissionTimeout > 0)) {
      throw new UsageError("--permission-timeout takes a number of seconds > 0");
    }
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
      ...(permissionTimeout !== undefined && { permissionTimeoutSeconds: permissionTimeout }),
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
