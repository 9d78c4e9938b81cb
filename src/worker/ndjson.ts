/**
 * NDJSON batches: split a request body into stream-json lines, checking each.
 * A batch is accepted whole or refused with the number of the first bad line.
 */
import { nestsDeeperThan, STREAM_EVENT_TYPE, tooDeepMessage, type Limits } from "../protocol/index.ts";
import { controlMarkOf, type ControlMark } from "../run/controls.ts";
import type { LineMark } from "../run/drafts.ts";
import { ApiError } from "./errors.ts";

export interface Batch {
  /** Each line's JSON text, trimmed; every one is a JSON object. */
  lines: string[];
  /** UTF-8 bytes of the durable lines (a `stream_event` line is relayed, never stored). */
  bytes: number;
  /** In line order: each `stream_event` line (a live delta) and each `assistant` line with its message id (drafts.ts). */
  marks: LineMark[];
  /** The agent's control lines (permission prompts, answers, cancels), in order (run/controls.ts). */
  controls: ControlMark[];
}

const NEWLINE = 0x0a;
const isSpace = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0d;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Parses a body of newline-separated JSON objects. Blank lines are skipped;
 * line numbers count every line of the body, from 1.
 */
export function parseNdjson(body: Uint8Array, limits: Pick<Limits, "maxLineBytes" | "maxBatchLines" | "maxJsonDepth">): Batch {
  const lines: string[] = [];
  const marks: LineMark[] = [];
  const controls: ControlMark[] = [];
  let bytes = 0;
  let lineNo = 0;
  for (let start = 0; start < body.length; ) {
    let end = body.indexOf(NEWLINE, start);
    if (end === -1) end = body.length;
    const next = end + 1;
    lineNo++;
    // Trim spaces, tabs and CRs at both ends without copying.
    while (start < end && isSpace(body[start])) start++;
    while (end > start && isSpace(body[end - 1])) end--;
    if (end > start) {
      const size = end - start;
      if (size > limits.maxLineBytes) {
        throw new ApiError(413, "line_too_large", `line ${lineNo} is ${size} bytes; a line may be at most ${limits.maxLineBytes}`);
      }
      if (lines.length === limits.maxBatchLines) {
        throw new ApiError(413, "batch_too_large", `a batch may hold at most ${limits.maxBatchLines} lines`);
      }
      const { text, value } = parseLine(body.subarray(start, end), lineNo, limits.maxJsonDepth);
      const mark = markOf(value);
      if (mark !== undefined) marks.push([lines.length, mark]);
      if (mark !== null) bytes += size;
      const control = mark === undefined ? controlMarkOf(value) : undefined;
      if (control) controls.push(control);
      lines.push(text);
    }
    start = next;
  }
  if (lines.length === 0) throw new ApiError(400, "empty_batch", "the body holds no lines; send one JSON object per line");
  return { lines, bytes, marks, controls };
}

/** null: a live delta; a string: an `assistant` line, its message id; undefined: any other line. */
function markOf(value: Record<string, unknown>): string | null | undefined {
  if (value.type === STREAM_EVENT_TYPE) return null;
  if (value.type !== "assistant") return undefined;
  const id = (value.message as { id?: unknown } | null | undefined)?.id;
  return typeof id === "string" ? id : undefined;
}

function parseLine(raw: Uint8Array, lineNo: number, maxDepth: number): { text: string; value: Record<string, unknown> } {
  let text: string;
  try {
    text = decoder.decode(raw);
  } catch {
    throw new ApiError(400, "invalid_line", `line ${lineNo} is not valid UTF-8`);
  }
  // Before parsing: a parser, the log's serialisers and RPC all recurse once per level.
  if (nestsDeeperThan(text, maxDepth)) throw new ApiError(400, "too_deep", tooDeepMessage(`line ${lineNo}`, maxDepth));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "invalid_line", `line ${lineNo} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new ApiError(400, "invalid_line", `line ${lineNo} is ${kind}, not a JSON object`);
  }
  // The line is kept as sent (exact numbers, key order). A bare CR can only be
  // whitespace between tokens in valid JSON; it would split an SSE data line.
  return { text: text.includes("\r") ? text.replaceAll("\r", " ") : text, value: value as Record<string, unknown> };
}
