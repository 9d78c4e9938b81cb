/**
 * The `sdk` source: runs the Claude Agent SDK's `query()` in streaming-input
 * mode. Its prompt is an async queue that starts with the initial prompt and
 * receives every injected message; every message the SDK yields is one line.
 * A restarted runner resumes the session (the SDK's `resume`) and does not
 * send the prompt again.
 *
 * Permission prompts: the SDK's `canUseTool` ships the same `control_request`
 * line a `claude` command prints (`can_use_tool`) and waits for a participant's
 * answer (prompts.ts); client requests such as `initialize` are carried out
 * here (control.ts). Such lines, and the runner's answers to control
 * requests, are merged into the SDK's messages in order, so a prompt follows
 * the assistant message that asked for the tool.
 */
import { randomUUID } from "node:crypto";
import { setImmediate } from "node:timers/promises";
import type { CanUseTool, Options, PermissionMode, PermissionResult, Query, SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";
import type { UserMessage } from "../../src/protocol/index.ts";
import { permissionResult, type ControlRequestBody, type Json } from "../prompts.ts";
import type { Source, SourceLine, SourceStart } from "../session.ts";
import { AsyncQueue } from "./queue.ts";

export interface SdkSourceOptions {
  prompt: string;
  cwd?: string;
  model?: string;
  permissionMode?: Options["permissionMode"];
  allowedTools?: string[];
  includePartialMessages?: boolean;
  /** Continue an earlier session, with the prompt as its next turn (a restarted runner resumes its own session without it). */
  resume?: string;
  /** Path to the Claude Code executable; the SDK's own by default. */
  claudePath?: string;
  /** Extra Claude Code flags, e.g. { bare: null }. */
  extraArgs?: Record<string, string | null>;
}

type AgentSdk = typeof import("@anthropic-ai/claude-agent-sdk");

/** The SDK is missing: it is an optional peer dependency, needed by the `sdk` source only. */
export class MissingSdkError extends Error {
  constructor() {
    super(
      "the sdk command needs the Claude Agent SDK, which is not installed: run `npm install @anthropic-ai/claude-agent-sdk` " +
        "where runrelay is installed (exec and tail do not need it)",
    );
    this.name = "MissingSdkError";
  }
}

/** Loads the Agent SDK (an optional peer dependency), with a clear error when it is not installed. */
export async function loadAgentSdk(): Promise<AgentSdk> {
  try {
    return await import("@anthropic-ai/claude-agent-sdk");
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((err as Error).message).includes("@anthropic-ai/claude-agent-sdk")) {
      throw new MissingSdkError();
    }
    throw err;
  }
}

export function sdkSource(opts: SdkSourceOptions): Source {
  const input = new AsyncQueue<SDKUserMessage>();
  let session: Query | undefined;
  /** What `lines()` yields: the SDK's messages and the runner's own lines, in order. */
  let output: AsyncQueue<string> | undefined;
  let started!: (q: Query | Error) => void;
  /** The session, once the SDK has started it (a control request may arrive before). */
  const ready = new Promise<Query>((resolve, reject) => (started = (q) => (q instanceof Error ? reject(q) : resolve(q))));
  ready.catch(() => {});

  const userMessage = (message: UserMessage, uuid: string = randomUUID()): SDKUserMessage & { uuid: string } => ({
    type: "user",
    message: message as SDKUserMessage["message"],
    parent_tool_use_id: null,
    session_id: "",
    uuid: uuid as SDKUserMessage["uuid"] & string,
  });

  /** A participant answers the prompt: the same wire form as a `claude` command's, with the SDK's fields. */
  const canUseTool = (ask: NonNullable<SourceStart["ask"]>): CanUseTool => async (toolName, toolInput, o) => {
    await setImmediate(); // the assistant message that asked for the tool reaches the lines first
    const fields = { permission_suggestions: o.suggestions, decision_reason: o.decisionReason, blocked_path: o.blockedPath, tool_use_id: o.toolUseID };
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    const answer = await ask({ subtype: "can_use_tool", tool_name: toolName, input: toolInput, ...defined }, o.signal);
    return permissionResult(answer, toolInput) as PermissionResult;
  };

  async function* run(start: SourceStart): AsyncIterable<SourceLine> {
    const { query } = await loadAgentSdk();
    const resume = start.resume ?? opts.resume;
    if (!start.resume) input.push(userMessage({ role: "user", content: opts.prompt }));
    session = query({
      prompt: input,
      options: {
        ...(opts.cwd && { cwd: opts.cwd }),
        ...(opts.model && { model: opts.model }),
        ...(opts.permissionMode && { permissionMode: opts.permissionMode }),
        ...(opts.allowedTools && { allowedTools: opts.allowedTools }),
        ...(opts.includePartialMessages && { includePartialMessages: true }),
        ...(resume && { resume }),
        ...(start.env && { env: { ...process.env, ...start.env } }),
        ...(opts.claudePath && { pathToClaudeCodeExecutable: opts.claudePath }),
        ...(opts.extraArgs && { extraArgs: opts.extraArgs }),
        ...(start.ask && { canUseTool: canUseTool(start.ask) }),
      },
    });
    started(session);
    const out = (output = new AsyncQueue<string>());
    const messages = session;
    void (async () => {
      try {
        for await (const message of messages) out.push(JSON.stringify(message));
        out.close();
      } catch (err) {
        out.fail(err instanceof Error ? err : new Error(String(err)));
      }
    })();
    try {
      for await (const text of out) yield { text };
    } finally {
      input.close();
    }
  }

  return {
    async *lines(_from?: number, start: SourceStart = {}): AsyncIterable<SourceLine> {
      try {
        yield* run(start);
      } finally {
        started(new Error("the agent's session has ended")); // nothing if it had started
      }
    },
    resumable: true,
    async inject(message, given) {
      const m = userMessage(message, given.uuid);
      input.push(m);
      return m.uuid;
    },
    async interrupt() {
      await session?.interrupt();
    },
    control: {
      async handle(request: ControlRequestBody): Promise<Json | undefined> {
        const q = await ready;
        if (request.subtype === "initialize") return (await q.initializationResult()) as unknown as Json;
        if (request.subtype === "set_permission_mode" && typeof request.mode === "string") {
          return ((await q.setPermissionMode(request.mode as PermissionMode)) as Json | undefined) ?? undefined;
        }
        if (request.subtype === "set_model" && (typeof request.model === "string" || request.model === undefined)) {
          await q.setModel(request.model);
          return undefined;
        }
        throw new Error(`the sdk runner does not handle ${request.subtype}`);
      },
      emit(line) {
        if (!output || output.closed) return false;
        output.push(line);
        return true;
      },
    },
    end() {
      input.close();
    },
  };
}
