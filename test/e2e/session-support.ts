/** Anthropic's own browser SDK (`@anthropic-ai/claude-agent-sdk/browser`, unchanged) as a client of a run. */
import { query, type CanUseTool, type Query, type SDKMessage, type SDKUserMessage } from "@anthropic-ai/claude-agent-sdk/browser";
import { inject } from "vitest";
import { Inbox } from "../support/inbox";
import { tokenFor } from "./auth";

/** A prompt the test feeds: what is pushed is sent by the SDK as a user message. */
export class PromptQueue implements AsyncIterable<SDKUserMessage> {
  readonly #items = new Inbox<SDKUserMessage>();
  push(text: string, uuid = crypto.randomUUID()): string {
    this.#items.push({ type: "user", message: { role: "user", content: text }, parent_tool_use_id: null, session_id: "", uuid } as SDKUserMessage);
    return uuid;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    for (let i = 0; ; i++) {
      const items = await this.#items.until((all) => all.length > i, "a prompt").catch(() => null);
      if (!items) return;
      yield items[i]!;
    }
  }
}

export interface SessionConsumer {
  q: Query;
  /** Every message the query yielded, in order. */
  messages: Inbox<SDKMessage>;
  deliveries: Inbox<{ event_id: string; status: string }>;
  prompt: PromptQueue;
  /** Ends the query. */
  close(): void;
}

/** `query({ prompt, sse: { streamUrl, sendUrl, sessionId, headers }, canUseTool })` pointed at a run, with a token of `scope`. */
export async function sessionConsumer(
  runId: string,
  opts: { canUseTool?: CanUseTool; fromSequenceNum?: number; scope?: "read" | "write" } = {},
): Promise<SessionConsumer> {
  const base = `${inject("relayUrl")}/api/v1/workflows/${runId}`;
  const token = await tokenFor(runId, opts.scope ?? "write");
  const messages = new Inbox<SDKMessage>();
  const deliveries = new Inbox<{ event_id: string; status: string }>();
  const prompt = new PromptQueue();
  const abortController = new AbortController();
  const q = query({
    prompt,
    abortController,
    ...(opts.canUseTool && { canUseTool: opts.canUseTool }),
    sse: {
      streamUrl: `${base}/session/events/stream`,
      sendUrl: `${base}/session/events`,
      sessionId: runId,
      headers: { Authorization: `Bearer ${token}` },
      ...(opts.fromSequenceNum !== undefined && { fromSequenceNum: opts.fromSequenceNum }),
      onDeliveryUpdate: (u) => deliveries.push(u),
    },
  });
  void (async () => {
    try {
      for await (const m of q) messages.push(m);
    } catch {
      // aborted by close()
    }
    messages.close();
  })();
  return { q, messages, deliveries, prompt, close: () => abortController.abort() };
}

/** The `n`th `result` the consumer was given (1-based). */
export const nthResult = async (c: SessionConsumer, n = 1) =>
  (await c.messages.until((m) => m.filter((x) => x.type === "result").length >= n, `result ${n}`)).filter((x) => x.type === "result")[n - 1]!;

type ToolResultBlock = { type: string; tool_use_id?: string; is_error?: boolean; content?: unknown };

/** The tool result blocks the consumer was given. */
export const toolResults = (messages: SDKMessage[]): ToolResultBlock[] =>
  messages.flatMap((m) => {
    const content = m.type === "user" ? (m.message as { content?: unknown }).content : undefined;
    return Array.isArray(content) ? (content as ToolResultBlock[]).filter((b) => b.type === "tool_result") : [];
  });
