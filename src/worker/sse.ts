/**
 * The Worker's SSE bridge: an SSE response fed by one of the run object's
 * hibernatable WebSockets. The object sends ready-made SSE text (framed once
 * per batch, src/protocol/framing.ts), so the bridge copies frames through
 * without parsing them. The bridge also ends the stream when the viewer's
 * token expires (`event: token_expired`): the object hibernates meanwhile,
 * so the timer lives here, in the Worker that holds the response.
 */
import { SSE_KEEPALIVE, sseTokenExpired } from "../protocol/index.ts";
import { logLine } from "./log.ts";

export interface BridgeOptions {
  /** Interval of `: keep-alive` comments, so proxies keep an idle stream open. */
  keepAliveMs: number;
  /** Bytes queued for a client that does not read; past this it is dropped (it reconnects and catches up). */
  maxBufferBytes: number;
  /** The run, for the log line written when a slow reader is dropped. */
  runId?: string;
  /** When the viewer's token expires (ms since the epoch): the stream ends then with `event: token_expired`. */
  expiresAt?: number;
}

/** setTimeout's longest delay (2^31-1 ms, about 24.8 days); tokens may live 30 days. */
const MAX_DELAY = 2 ** 31 - 1;

/** Calls `fn` at `at` (ms since the epoch), however far away; returns a cancel. */
function at(when: number, fn: () => void): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const delay = when - Date.now();
    timer = setTimeout(delay > MAX_DELAY ? arm : fn, Math.max(0, Math.min(delay, MAX_DELAY)));
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * An SSE response fed by a WebSocket from the run object. The stream ends when
 * the object closes the socket (after `event: end`), when the client goes away
 * (`cancel`), or when the client reads too slowly.
 */
export function sseBridge(ws: WebSocket, opts: BridgeOptions): Response {
  const encoder = new TextEncoder();
  let open = true;
  let stopTimers = () => {};
  const release = () => {
    open = false;
    stopTimers();
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
        // The token's end: a last event without `id:`, so the client resumes from the last entry it has.
        const stopExpiry = opts.expiresAt === undefined ? () => {} : at(opts.expiresAt, () => (push(sseTokenExpired()), finish()));
        stopTimers = () => {
          clearInterval(timer);
          stopExpiry();
        };
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
