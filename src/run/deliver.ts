/**
 * Sending frames to one viewer socket: the fan-out's live batches and the
 * replay's pages alike. The socket's cursor moves to the last entry sent, and
 * the frames are recorded in its flow (flow.ts) when it is tracked.
 */
import { saveAttachment, type Attachment } from "./attachment.ts";
import { mayPush, record, sizeOf, type Frame } from "./flow.ts";
import { logLine } from "./logline.ts";

export interface DeliverOptions {
  /** The socket's window (flow.ts). */
  window: number;
  /** Record the frames in its flow (its marks). */
  track: boolean;
  /** Stop before a frame of entries that does not fit in the window. */
  paced: boolean;
  /** For the log line, if the socket refuses a frame. */
  runId?: () => string | undefined;
}

/**
 * Sends frames in order; saves the attachment if any entry went out. Returns
 * how many frames were sent, or -1 if the socket refused one: it is closed
 * then (one that refuses a frame while open would be retried forever), and
 * its client reconnects from its last id.
 */
export function deliver(ws: WebSocket, att: Attachment, frames: readonly Frame[], opts: DeliverOptions): number {
  let n = 0;
  let moved = false;
  try {
    for (const frame of frames) {
      const last = frame.last;
      if (last !== undefined && opts.paced && !mayPush((att.flow ??= { marks: [] }), sizeOf(frame), opts.window)) break;
      ws.send(frame.text);
      n++;
      if (last === undefined) continue;
      att.cursor = last;
      moved = true;
      if (opts.track) record((att.flow ??= { marks: [] }), last, sizeOf(frame), opts.window);
    }
  } catch {
    logLine({ type: "socket", event: "dropped", runId: opts.runId?.(), transport: att.transport, reason: "send failed" });
    try {
      ws.close(1011, "send failed");
    } catch {
      // already closing
    }
    return -1;
  }
  if (moved) saveAttachment(ws, att);
  return n;
}
