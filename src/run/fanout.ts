/**
 * How the fan-out frames a batch for each transport: its entries, its live
 * deltas in batch order (drafts.ts), the drafts a viewer gets when it is
 * caught up mid-message, and the end of the run. Built once per batch per
 * transport; an SSE batch is one text, a WebSocket batch one message per
 * `events` run or delta.
 */
import {
  sessionDelta,
  sessionEvents,
  sseDelta,
  sseDraft,
  sseEnd,
  sseEvents,
  wsDelta,
  wsDraft,
  wsEnd,
  wsEvents,
  type Draft,
  type FinalStatus,
} from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { StoredEntry } from "./log.ts";
import type { Transport } from "./subscribe.ts";

interface Framing {
  events(entries: readonly StoredEntry[], runId: string): string;
  delta(after: number, line: string): string;
  draft(after: number, draft: Draft): string;
  end(status: FinalStatus, lastId: number): string;
}

export const framing: Record<Transport, Framing> = {
  sse: { events: sseEvents, delta: sseDelta, draft: sseDraft, end: sseEnd },
  ws: { events: wsEvents, delta: wsDelta, draft: wsDraft, end: wsEnd },
  // The remote-session stream has no drafts (its clients take `stream_event`s only) and no end: a session stays open.
  session: { events: sessionEvents, delta: sessionDelta, draft: () => "", end: () => "" },
};

/** SSE text, one message per batch (the Worker's bridge copies it through). */
const textual = (t: Transport) => t !== "ws";

/** The messages to send for a batch; without its deltas for a viewer that gets the drafts after it instead. */
export function batchMessages(transport: Transport, segments: readonly Segment[], deltas: boolean, runId: string): string[] {
  const f = framing[transport];
  const out: string[] = [];
  for (const s of segments) {
    if ("delta" in s) {
      if (deltas) out.push(f.delta(s.after, s.delta));
    } else if (s.entries.length > 0) {
      out.push(f.events(s.entries, runId));
    }
  }
  return textual(transport) && out.length > 1 ? [out.join("")] : out;
}

/** The draft frames for a viewer caught up at `after`. */
export function draftMessages(transport: Transport, drafts: readonly Draft[], after: number): string[] {
  const f = framing[transport];
  const out = drafts.map((d) => f.draft(after, d)).filter((m) => m !== "");
  return textual(transport) && out.length > 1 ? [out.join("")] : out;
}
