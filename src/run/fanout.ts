/**
 * How the fan-out frames a batch for each transport: its entries, its live
 * deltas in batch order (drafts.ts), the drafts a viewer gets when it is
 * caught up mid-message, and the end of the run. Built once per batch per
 * transport; an SSE batch is one text, a WebSocket batch one message per
 * `events` run or delta; a batch larger than a frame (FLOW.frameChars) is
 * split into several, each entry whole.
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
  entryRuns,
  FLOW,
  type Draft,
  type FinalStatus,
} from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { Frame } from "./flow.ts";

/** A frame built here: text. */
type TextFrame = Frame & { text: string };
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

/** SSE text: the bridge copies it through, so consecutive pieces go as one message (up to a frame's size). */
const textual = (t: Transport) => t !== "ws";

/**
 * The frames of a batch: its entries in runs of at most FLOW.frameChars of
 * text (each entry whole, ids exact), and its deltas in order among them;
 * without the deltas for a viewer that gets the drafts after it instead.
 */
export function batchFrames(transport: Transport, segments: readonly Segment[], deltas: boolean, runId: string): Frame[] {
  const f = framing[transport];
  const out: TextFrame[] = [];
  for (const s of segments) {
    if ("delta" in s) {
      if (deltas) out.push({ text: f.delta(s.after, s.delta) });
    } else {
      for (const run of entryRuns(s.entries, FLOW.frameChars)) out.push({ text: f.events(run, runId), last: run.at(-1)!.id });
    }
  }
  if (transport === "sse") return joined(out, FLOW.frameChars).map(bytesOf);
  return textual(transport) ? joined(out, FLOW.frameChars) : out;
}

const encoder = new TextEncoder();

/**
 * A live SSE frame as its UTF-8 bytes, encoded once for every bridge it goes
 * to (the bridge hands bytes to its response as they are, as it does replay
 * frames): otherwise each of a thousand bridges encodes the same text.
 */
const bytesOf = (f: TextFrame): Frame & { text: ArrayBuffer } => ({ ...f, text: encoder.encode(f.text).buffer as ArrayBuffer });

/** A replay page's frames, each at most `cap` of text (or one entry). */
export function pageFrames(transport: Transport, entries: readonly StoredEntry[], cap: number, runId: string): TextFrame[] {
  const f = framing[transport];
  return entryRuns(entries, cap).map((run) => ({ text: f.events(run, runId), last: run.at(-1)!.id }));
}

/** The draft frames for a viewer caught up at `after`. */
export function draftFrames(transport: Transport, drafts: readonly Draft[], after: number): TextFrame[] {
  const f = framing[transport];
  const out = drafts.map((d) => ({ text: f.draft(after, d) })).filter((m) => m.text !== "");
  return textual(transport) ? joined(out, FLOW.frameChars) : out;
}

/** Consecutive pieces of text joined into frames of at most `max` (a piece is never cut). */
function joined(frames: TextFrame[], max: number): TextFrame[] {
  if (frames.length < 2) return frames;
  const out: TextFrame[] = [];
  let parts: string[] = [];
  let size = 0;
  let last: number | undefined;
  const flush = () => {
    if (parts.length > 0) out.push({ text: parts.join(""), ...(last !== undefined && { last }) });
    parts = [];
    size = 0;
    last = undefined;
  };
  for (const fr of frames) {
    if (size > 0 && size + fr.text.length > max) flush();
    parts.push(fr.text);
    size += fr.text.length;
    if (fr.last !== undefined) last = fr.last;
  }
  flush();
  return out;
}
