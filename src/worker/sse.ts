/**
 * The Worker's SSE bridge: an SSE response fed by one of the run object's
 * hibernatable WebSockets. The object sends ready-made SSE text (framed once
 * per batch, src/protocol/framing.ts), so the bridge copies frames through
 * without parsing them. The bridge also ends the stream when the viewer's
 * token expires (`event: token_expired`): the object hibernates meanwhile,
 * so the timer lives here, in the Worker that holds the response.
 *
 * Flow control (docs/protocol.md, "Flow control"): the bridge hands text to
 * the response only when its reader asks for more, and keeps the rest in its
 * own queue; as the reader takes frames it acknowledges their last id to the
 * object (`{"type":"ack","after":N}`), which keeps at most `maxBufferBytes`
 * of unacknowledged entries on their way to the bridge, live or replayed. So
 * the stream is paced by its reader end to end, and a reader that keeps up is
 * never dropped, however large a batch or a catch-up. A reader that stops
 * reading stops the object's sends once that much is queued for it; if it
 * then takes nothing for two whole keep-alive intervals while text waits for
 * it, it is dropped (it reconnects with its last id and catches up from
 * storage). Text goes to the reader in pieces sized to how fast it takes
 * them (PIECE), so a slow reader is seen making progress through a large
 * entry, and a fast one is not slowed by many small writes.
 */
import { ackFrame, FLOW, SSE_KEEPALIVE, sseRetry, sseTokenExpired } from "../protocol/index.ts";
import { logLine } from "./log.ts";
import { encodeAll, encoder, lastId, sizeOf, type Piece } from "./pieces.ts";

export interface BridgeOptions {
  /** Interval of `: keep-alive` comments, so proxies keep an idle stream open. */
  keepAliveMs: number;
  /** Text queued for a reader and not yet read by it, at most; the object's window for the bridge too. */
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
 * Text goes to the reader in pieces: the frames that wait, joined, or a part
 * of a large one. Each piece costs the response about the same whatever its
 * size, so a reader that takes them quickly gets larger ones; one that takes
 * them slowly gets smaller ones, so it is seen making progress (see `tick`).
 */
const PIECE = { min: 16 * 1024, start: 512 * 1024, max: 1024 * 1024 };
/** A reader that takes a piece within this long (ms) gets twice as large ones; past SLOW, half as large. */
const QUICK_MS = 100;
const SLOW_MS = 1000;

/** Frames being handed to the reader, piece by piece. */
interface Handing {
  bytes: Uint8Array;
  offset: number;
  /** Their size as the object counts it (characters of text, bytes), and the id of their last entry. */
  chars: number;
  id: number | null;
}

/**
 * An SSE response fed by a WebSocket from the run object. The stream ends when
 * the object closes the socket (after `event: end`), when the client goes away
 * (`cancel`), or when the client stops reading.
 */
export function sseBridge(ws: WebSocket, opts: BridgeOptions): Response {
  const bound = opts.maxBufferBytes;
  // An ack every eighth of the window: with the object's marks (a sixteenth), never less than it waits for.
  const ackEvery = Math.max(1, Math.floor(bound / 8));
  /** Frames received and not yet started; the ones being handed over; their size (characters, as the object counts them). */
  const queue: Piece[] = [];
  let handing: Handing | null = null;
  let queued = 0;
  let piece = PIECE.start;
  /** When the last piece was handed over while more waited (the reader, not the object, sets the pace then). */
  let handedAt: number | null = null;
  /** The reader asked for more while nothing was waiting: the next text goes straight to it. */
  let asking = false;
  /** The reader took something since the last keep-alive tick; keep-alive ticks since it last did. */
  let progress = false;
  let idle = 0;
  /** Taken by the reader since the last ack: its size, and the last entry id in it. */
  let taken = 0;
  let takenId: number | null = null;
  let open = true;
  let stopTimers = () => {};
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const release = () => {
    open = false;
    stopTimers();
    try {
      ws.close(1000, "viewer gone");
    } catch {
      // already closed
    }
  };
  /** Frames the reader has taken whole: once an eighth of the window has gone, the object hears so. */
  const took = (h: Handing) => {
    queued -= h.chars;
    if (h.id === null) return;
    takenId = h.id;
    taken += h.chars;
    if (taken < ackEvery) return;
    taken = 0;
    try {
      ws.send(ackFrame(takenId));
    } catch {
      // closing
    }
  };
  /** The next piece to the reader, if there is one; false if nothing waits. */
  const handNext = (): boolean => {
    if (!handing) {
      if (queue.length === 0) return false;
      let end = 1;
      for (let size = sizeOf(queue[0]!); end < queue.length && size + sizeOf(queue[end]!) <= piece; end++) size += sizeOf(queue[end]!);
      const pieces = queue.splice(0, end);
      let id: number | null = null;
      for (let i = pieces.length - 1; i >= 0 && id === null; i--) id = lastId(pieces[i]!);
      handing = { bytes: encodeAll(pieces), offset: 0, chars: pieces.reduce((n, p) => n + sizeOf(p), 0), id };
    }
    const h = handing;
    const end = Math.min(h.bytes.length, h.offset + piece);
    controller.enqueue(h.offset === 0 && end === h.bytes.length ? h.bytes : h.bytes.subarray(h.offset, end));
    h.offset = end;
    progress = true;
    if (end === h.bytes.length) {
      handing = null;
      took(h);
    }
    handedAt = handing || queue.length > 0 ? Date.now() : null;
    return true;
  };
  /** What is queued still goes to the reader, then the stream ends. */
  const finish = () => {
    if (!open) return;
    release();
    if (handing) controller.enqueue(handing.bytes.subarray(handing.offset));
    for (const p of queue.splice(0)) controller.enqueue(typeof p === "string" ? encoder.encode(p) : p);
    handing = null;
    queued = 0;
    controller.close();
  };
  const drop = () => {
    logLine({ type: "sse", event: "dropped_slow", runId: opts.runId, bufferedBytes: queued });
    finish();
  };
  const push = (p: Piece) => {
    if (!open || sizeOf(p) === 0) return;
    // More than the bound unread (the object's window keeps entries within it): drop it rather than hold more.
    if (queued > bound) return drop();
    queue.push(p);
    queued += sizeOf(p);
    if (asking) asking = !handNext();
  };
  /** Every keep-alive interval: a reader that took nothing for two whole ones while text waits for it has stopped. */
  const tick = () => {
    idle = progress ? 0 : idle + 1;
    if (idle >= 2 && (handing || queue.length > 0)) return drop();
    progress = false;
    push(SSE_KEEPALIVE);
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        push(sseRetry(FLOW.sseRetryMs));
        ws.binaryType = "arraybuffer"; // replay frames come as bytes
        ws.accept();
        ws.addEventListener("message", (e) => push(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer)));
        ws.addEventListener("close", finish);
        ws.addEventListener("error", finish);
        const timer = setInterval(tick, opts.keepAliveMs);
        // The token's end: a last event without `id:`, so the client resumes from the last entry it has.
        const stopExpiry = opts.expiresAt === undefined ? () => {} : at(opts.expiresAt, () => (push(sseTokenExpired()), finish()));
        stopTimers = () => {
          clearInterval(timer);
          stopExpiry();
        };
      },
      /** The reader wants more (the stream queues nothing itself: its high-water mark is 0). */
      pull() {
        if (handedAt !== null) {
          const ms = Date.now() - handedAt;
          piece = ms < QUICK_MS ? Math.min(PIECE.max, piece * 2) : ms > SLOW_MS ? Math.max(PIECE.min, piece / 2) : piece;
        }
        asking = open && !handNext();
      },
      cancel: release,
    },
    { highWaterMark: 0 },
  );

  return new Response(body, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    },
  });
}

/** A run viewer's bridge: the relay's keep-alive interval and buffer bound, and the end of the viewer's token (`exp`, seconds). */
export function viewerBridge(ws: WebSocket, l: { sseKeepAliveSeconds: number; sseMaxBufferBytes: number }, runId: string, exp: number | undefined): Response {
  return sseBridge(ws, {
    keepAliveMs: l.sseKeepAliveSeconds * 1000,
    maxBufferBytes: l.sseMaxBufferBytes,
    runId,
    ...(exp !== undefined && { expiresAt: exp * 1000 }),
  });
}
