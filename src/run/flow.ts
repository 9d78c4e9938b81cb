/**
 * Flow control (docs/protocol.md, "Flow control"): how much of the log is on
 * its way to one viewer socket, kept in the socket's attachment so it survives
 * hibernation. Sizes are characters of frame text, as the reader counts them.
 *
 * Every frame of entries sent is recorded as a mark (its last id, its size);
 * an `ack` with `after` ≥ a mark's id releases it. A socket may be sent a
 * frame while less than a quarter of its window is in flight, or while the
 * frame fits in what is left of it; so the object never holds more than a
 * window (or one entry that is larger on its own) for a socket. Marks are
 * coalesced: a mark grows until it holds a sixteenth of the window, so an ack
 * that falls inside one leaves less than that counted, and a reader that acks
 * every sixteenth (the client library, FLOW.ackEvery) never waits on an ack it
 * will not send.
 */
import { FLOW } from "../protocol/index.ts";
import type { Transport } from "./subscribe.ts";

export interface Flow {
  /** It acknowledges: the Worker's SSE bridges always, a WebSocket viewer once it has sent an `ack`. */
  acks?: true;
  /** Frames sent and not acknowledged, oldest first, flat: last id, size, last id, size … */
  marks: number[];
}

/**
 * A frame as the fan-out and the replay send it: text, or for an SSE bridge
 * the UTF-8 bytes of it (a replay frame, as SQLite builds it); `last`: the id
 * of its last entry (none for deltas and drafts).
 */
export interface Frame {
  text: string | ArrayBuffer;
  last?: number;
}

/** A frame's size, as its reader counts it: characters of text, or bytes. */
export const sizeOf = (f: Frame): number => (typeof f.text === "string" ? f.text.length : f.text.byteLength);

/** Marks kept at most (an attachment holds 2 KiB): past it the oldest two are merged. */
const MAX_MARKS = 32;

/** The window of a socket: a WebSocket viewer's, or an SSE bridge's (the bytes the Worker holds for its reader). */
export const windowOf = (transport: Transport, sseBuffer: number): number => (transport === "ws" ? FLOW.wsWindow : sseBuffer);

/** The largest frame a replay builds for a window: a quarter of it, so several are in flight. */
export const frameCap = (window: number): number => Math.max(1, Math.min(FLOW.frameChars, Math.floor(window / 4)));

export function inFlight(flow: Flow | undefined): number {
  let n = 0;
  if (flow) for (let i = 1; i < flow.marks.length; i += 2) n += flow.marks[i]!;
  return n;
}

/** May a frame of `chars` be sent now? */
export function mayPush(flow: Flow, chars: number, window: number): boolean {
  const n = inFlight(flow);
  return n < window / 4 || n + chars <= window;
}

/** Frame text that may be sent now: what is left of the window, or a frame of any size while less than a quarter is in flight. */
export function budget(flow: Flow, window: number): number {
  const n = inFlight(flow);
  return n < window / 4 ? Math.max(window - n, frameCap(window)) : window - n;
}

/** Records a frame sent: its last id and size. */
export function record(flow: Flow, last: number, chars: number, window: number): void {
  const m = flow.marks;
  const k = m.length;
  if (k > 0 && m[k - 1]! < window / 16) {
    m[k - 2] = last;
    m[k - 1]! += chars;
  } else {
    m.push(last, chars);
  }
  if (m.length > 2 * MAX_MARKS) m.splice(0, 4, m[2]!, m[1]! + m[3]!);
}

/** Releases the frames up to `after`; true if any was. */
export function acknowledge(flow: Flow, after: number): boolean {
  let i = 0;
  while (i < flow.marks.length && flow.marks[i]! <= after) i += 2;
  if (i > 0) flow.marks.splice(0, i);
  return i > 0;
}

/** A reader that never acknowledges is taken to have read `chars` more, oldest first (the fixed pace). */
export function drain(flow: Flow, chars: number): void {
  const m = flow.marks;
  while (chars > 0 && m.length > 0) {
    const take = Math.min(chars, m[1]!);
    chars -= take;
    if (take === m[1]) m.splice(0, 2);
    else m[1]! -= take;
  }
}
