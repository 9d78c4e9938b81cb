/**
 * The Worker's SSE bridge: an SSE response fed by one of the run object's
 * hibernatable WebSockets. The object sends ready-made SSE text (framed once
 * per batch, src/protocol/framing.ts), so the bridge copies frames through
 * without parsing them.
 */
import { SSE_KEEPALIVE } from "../protocol/index.ts";
import { logLine } from "./log.ts";

export interface BridgeOptions {
  /** Interval of `: keep-alive` comments, so proxies keep an idle stream open. */
  keepAliveMs: number;
  /** Bytes queued for a client that does not read; past this it is dropped (it reconnects and catches up). */
  maxBufferBytes: number;
  /** The run, for the log line written when a slow reader is dropped. */
  runId?: string;
}

/**
 * An SSE response fed by a WebSocket from the run object. The stream ends when
 * the object closes the socket (after `event: end`), when the client goes away
 * (`cancel`), or when the client reads too slowly.
 */
export function sseBridge(ws: WebSocket, opts: BridgeOptions): Response {
  const encoder = new TextEncoder();
  let open = true;
  let stopKeepAlive = () => {};
  const release = () => {
    open = false;
    stopKeepAlive();
    try {
      ws.close(1000, "viewer gone");
    } catch {
      // already closed
    }
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const finish = () => {
          if (!open) return;
          release();
          controller.close();
        };
        const push = (text: string) => {
          if (!open) return;
          controller.enqueue(encoder.encode(text));
          const desired = controller.desiredSize ?? 0;
          if (desired >= 0) return;
          // A slow reader: drop it rather than buffer without bound.
          logLine({ type: "sse", event: "dropped_slow", runId: opts.runId, bufferedBytes: opts.maxBufferBytes - desired });
          finish();
        };
        ws.accept();
        ws.addEventListener("message", (e) => push(typeof e.data === "string" ? e.data : ""));
        ws.addEventListener("close", finish);
        ws.addEventListener("error", finish);
        const timer = setInterval(() => push(SSE_KEEPALIVE), opts.keepAliveMs);
        stopKeepAlive = () => clearInterval(timer);
      },
      cancel: release,
    },
    new ByteLengthQueuingStrategy({ highWaterMark: opts.maxBufferBytes }),
  );

  return new Response(body, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    },
  });
}
