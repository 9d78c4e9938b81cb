/** Shared by the sources: what a line the agent printed becomes, and a user message on the wire. */
import { randomUUID } from "node:crypto";
import type { UserMessage } from "../../src/protocol/index.ts";

/**
 * A printed line as stream-json: a JSON object passes through as is; anything
 * else is wrapped, never dropped:
 * `{"type":"runrelay_diagnostic","subtype":"non_json_output","text":"…"}`.
 */
export function asStreamJson(text: string): string {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return text;
  } catch {
    // not JSON
  }
  return JSON.stringify({ type: "runrelay_diagnostic", subtype: "non_json_output", text });
}

/** A stream-json user line, as Claude Code reads it with `--input-format stream-json` (with the relay's uuid for the message, if it gave one). */
export function userLine(message: UserMessage, uuid: string = randomUUID()): { uuid: string; line: string } {
  return { uuid, line: JSON.stringify({ type: "user", message, parent_tool_use_id: null, session_id: "", uuid }) + "\n" };
}
