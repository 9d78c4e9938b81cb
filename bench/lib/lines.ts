/**
 * What the bench appends. runrelay stores no `stream_event` line (docs/protocol.md,
 * "Live deltas"), so the phases that measure the log (fan-out, ingest,
 * catch-up, viewers) append durable lines of about the same size: `user`
 * lines carrying a short tool result (`storedLine`). The deltas and rows
 * phases append what a streaming run sends most: `stream_event` text deltas
 * (`deltaLine`, about 270 bytes), which the floor stores like any line.
 */
const SESSION = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
const WORDS = ["Let ", "me ", "look ", "at ", "the ", "failing ", "test ", "first", ", then ", "run ", "it ", "again", ".\n\n", "The ", "helper "];

/** One `stream_event` content_block_delta line; `extra` fields are added at the top level. */
export function deltaLine(i: number, extra?: Record<string, unknown>): string {
  return JSON.stringify({
    type: "stream_event",
    event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: WORDS[i % WORDS.length] } },
    session_id: SESSION,
    parent_tool_use_id: null,
    uuid: crypto.randomUUID(),
    api_message_id: "msg_01bench",
    ...extra,
  });
}

export function deltaLines(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => deltaLine(from + i));
}

/** One durable line of about a delta's size: a `user` line with a tool result (runrelay stores it, as it stores every line but a delta). */
export function storedLine(i: number, extra?: Record<string, unknown>): string {
  return JSON.stringify({
    type: "user",
    message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01bench", content: WORDS[i % WORDS.length] }] },
    session_id: SESSION,
    parent_tool_use_id: null,
    uuid: crypto.randomUUID(),
    ...extra,
  });
}

export function storedLines(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => storedLine(from + i));
}

/**
 * A `stream_event` text delta stamped inside the event: its text is the send
 * time (ms on the shared clock), and `bench_k` its number (negative: warm-up,
 * not counted). Viewers compute receive time − send time.
 */
export function stampedDelta(k: number): string {
  return JSON.stringify({
    type: "stream_event",
    event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: String(now()) } },
    session_id: SESSION,
    parent_tool_use_id: null,
    uuid: crypto.randomUUID(),
    bench_k: k,
  });
}

/** The `message_start` a streaming message opens with (runrelay keeps the message's draft from it). */
export function messageStart(): string {
  return JSON.stringify({
    type: "stream_event",
    event: { type: "message_start", message: { id: "msg_01bench", type: "message", role: "assistant", content: [], model: "claude-bench" } },
    session_id: SESSION,
    parent_tool_use_id: null,
    uuid: crypto.randomUUID(),
  });
}

/** The shared clock of the bench's threads, in ms. */
export const now = () => performance.timeOrigin + performance.now();

/** A line stamped with its send time (viewers compute receive time − sentAt); warm-up lines are not counted. */
export function stampedLine(k: number, warm = false): string {
  return storedLine(k, { bench: { k, sentAt: now(), ...(warm && { warm: true }) } });
}
