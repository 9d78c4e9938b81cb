/**
 * Catch-up: a socket that is behind the log (new, resumed, woken after
 * eviction, or held back by its window) is sent the stored entries after its
 * cursor, in frames of at most a quarter of its window, as fast as its reader
 * acknowledges them (flow.ts). The cursor is re-read from the attachment each
 * time round, because a live batch may have moved it meanwhile; once it
 * reaches the last id, or the first batch still on its way to it (its
 * `horizon`, publisher.ts), the next batch reaches the socket live
 * (subscribers.ts).
 *
 * A socket whose window is full waits: one that acknowledges is continued by
 * its next `ack` (Subscribers.ack; the state is in its attachment, so this
 * holds across hibernation); one that never has is taken to read FLOW.paceChars
 * every FLOW.paceMs, so an old client still catches up, at a fixed pace, and
 * cannot make the object buffer the whole log.
 */
import { FLOW } from "../protocol/index.ts";
import { attachment, saveAttachment, type Attachment } from "./attachment.ts";
import { budget, drain, frameCap, sizeOf, type Frame } from "./flow.ts";
import type { Pages } from "./pages.ts";
import type { Transport } from "./subscribe.ts";

/** Frames built at most per round (a round sends at most a window anyway). */
const MAX_FRAMES = 64;

/** What the replay needs from the subscribers. */
export interface ReplayHost {
  readonly ctx: DurableObjectState;
  readonly pages: Pages;
  windowOf(transport: Transport): number;
  expireIfDue(ws: WebSocket): boolean;
  runIdOf(ws: WebSocket): string | undefined;
  /** Sends what fits in the socket's window, tracked (deliver.ts): how many frames went out, or -1 if it refused one (it is closed). */
  deliver(ws: WebSocket, att: Attachment, frames: readonly Frame[]): number;
  /** Where the socket's catch-up stops: the id before a batch on its way to it, or null for the log's end. */
  horizon(ws: WebSocket, cursor: number): number | null;
  /** The socket has every stored entry, or every one before a batch on its way to it (`waiting`): the drafts, the end if the run has ended. */
  caughtUp(ws: WebSocket, att: Attachment, waiting: boolean): void;
}

export class Replays {
  /** Sockets with a catch-up running in this instance. */
  readonly #running = new Set<WebSocket>();

  constructor(private readonly host: ReplayHost) {}

  /** Starts catching the socket up, unless that is already running here. */
  start(ws: WebSocket): void {
    if (this.#running.has(ws)) return;
    this.#running.add(ws);
    this.host.ctx.waitUntil(this.#run(ws).finally(() => this.#running.delete(ws)));
  }

  async #run(ws: WebSocket): Promise<void> {
    const host = this.host;
    for (;;) {
      // Yield first and between rounds: the upgrade response goes out, and
      // appends, acks and other sockets get their turn.
      await scheduler.wait(0);
      const att = attachment(ws);
      if (!att || ws.readyState !== WebSocket.OPEN || host.expireIfDue(ws)) return;
      const window = host.windowOf(att.transport);
      const flow = (att.flow ??= { marks: [] });
      // Frames for what may be sent now, no more (what is read and not sent is read again next time).
      const cap = frameCap(window);
      const frames: Frame[] = [];
      const runId = att.transport === "session" ? (host.runIdOf(ws) ?? "") : ""; // only the session framing names the run
      const horizon = host.horizon(ws, att.cursor);
      for (let left = budget(flow, window), after = att.cursor; left > 0 && frames.length < MAX_FRAMES; ) {
        const frame = host.pages.frame(att.transport, after, Math.min(cap, left), runId, horizon ?? undefined);
        if (!frame) break;
        frames.push(frame);
        after = frame.last!;
        left -= sizeOf(frame);
      }
      if (frames.length === 0 && budget(flow, window) > 0) return host.caughtUp(ws, att, horizon !== null);
      const sent = frames.length > 0 ? host.deliver(ws, att, frames) : 0;
      if (sent < 0) return;
      if (sent > 0) continue;
      // The window is full. Its acks continue the replay, or, for a reader that never acknowledged, time does.
      if (flow.acks) return;
      await scheduler.wait(FLOW.paceMs);
      const now = ws.readyState === WebSocket.OPEN ? attachment(ws) : null;
      if (now?.flow && !now.flow.acks) {
        drain(now.flow, FLOW.paceChars);
        saveAttachment(ws, now);
      }
    }
  }
}
