/**
 * What the run object keeps with each viewer socket, in its attachment, so it
 * survives hibernation and eviction (the attachment holds at most 2 KiB).
 */
import type { Flow } from "./flow.ts";
import type { Transport } from "./subscribe.ts";

export interface Attachment {
  transport: Transport;
  /** Id of the last entry sent to this socket. */
  cursor: number;
  /** A WebSocket viewer's token expiry, in seconds since the epoch (none for the relay secret). */
  exp?: number;
  /** Set once the socket has been told its token expired and closed: it is sent nothing more. */
  expired?: true;
  /** Caught up and sent the drafts: it gets live deltas. */
  live?: true;
  /** Flow control (flow.ts): what is on its way to it; absent for a WebSocket viewer that is caught up and never acknowledged. */
  flow?: Flow;
}

/**
 * Each socket's attachment as last saved, kept in memory too: the fan-out,
 * every ack and every catch-up round read it, and deserializing it each time
 * costs more than a copy. Reads get a copy, so what a caller changes and does
 * not save is not seen by the next; after hibernation or eviction the
 * in-memory one is gone and the attachment is read again.
 */
const saved = new WeakMap<WebSocket, Attachment>();

const copy = (a: Attachment): Attachment => (a.flow ? { ...a, flow: { ...a.flow, marks: a.flow.marks.slice() } } : { ...a });

/** The socket's attachment (a copy: change it, then `saveAttachment`). */
export function attachment(ws: WebSocket): Attachment | null {
  let att = saved.get(ws);
  if (att === undefined) {
    const read = ws.deserializeAttachment() as Attachment | null;
    if (!read) return null;
    saved.set(ws, (att = read));
  }
  return copy(att);
}

/** Saves the socket's attachment: with the socket, so it survives hibernation, and in memory. */
export function saveAttachment(ws: WebSocket, att: Attachment): void {
  ws.serializeAttachment(att);
  saved.set(ws, copy(att));
}

export const expired = (att: Attachment, now = Date.now()) => att.exp !== undefined && now >= att.exp * 1000;
