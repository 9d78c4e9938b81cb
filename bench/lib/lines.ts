/**
 * What the bench appends: stream-json lines shaped like the Agent SDK's
 * `stream_event` text deltas (the bulk of a streaming run, about 270 bytes
 * each), optionally stamped with a send time for latency.
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

/** The shared clock of the bench's threads, in ms. */
export const now = () => performance.timeOrigin + performance.now();

/** A line stamped with its send time (viewers compute receive time − sentAt); warm-up lines are not counted. */
export function stampedLine(k: number, warm = false): string {
  return deltaLine(k, { bench: { k, sentAt: now(), ...(warm && { warm: true }) } });
}
