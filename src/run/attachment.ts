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

export const attachment = (ws: WebSocket) => ws.deserializeAttachment() as Attachment | null;

export const expired = (att: Attachment, now = Date.now()) => att.exp !== undefined && now >= att.exp * 1000;
