/**
 * The `sdk` source: runs the Claude Agent SDK's `query()` in streaming-input
 * mode. Its prompt is an async queue that starts with the initial prompt and
 * receives every injected message; every message the SDK yields is one line.
 * A restarted runner resumes the session (the SDK's `resume`) and does not
 * send the prompt again.
 */
import { randomUUID } from "node:crypto";
import type { Options, Query, SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";
import type { UserMessage } from "../../src/protocol/index.ts";
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

  const userMessage = (message: UserMessage): SDKUserMessage & { uuid: string } => ({
    type: "user",
    message: message as SDKUserMessage["message"],
    parent_tool_use_id: null,
    session_id: "",
    uuid: randomUUID(),
  });

  return {
    async *lines(_from?: number, start: SourceStart = {}): AsyncIterable<SourceLine> {
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
        },
      });
      try {
        for await (const message of session) yield { text: JSON.stringify(message) };
      } finally {
        input.close();
      }
    },
    resumable: true,
    async inject(message) {
      const m = userMessage(message);
      input.push(m);
      return m.uuid;
    },
    async interrupt() {
      await session?.interrupt();
    },
    end() {
      input.close();
    },
  };
}
