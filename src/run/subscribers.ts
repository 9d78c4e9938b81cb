/**
 * Subscribers: the run's live viewers, every one a hibernatable WebSocket —
 * external WebSocket viewers and the Worker's SSE bridges alike. Each socket's
 * cursor (the last id it was sent) lives in its attachment, so it survives
 * hibernation and eviction.
 *
 * Ordering: a socket is sent a batch only if the batch starts right after its
 * cursor. A socket that is behind (new, resumed, or woken after eviction)
 * catches up from storage in pages; once its cursor reaches the last id, the
 * next batch reaches it live. The cursor check makes the replay-to-live
 * hand-off exact: no gap, no repeat, whatever interleaves.
 *
 * Live deltas (drafts.ts) go only to a socket that is caught up and has had
 * the drafts (`live` in its attachment): a socket that catches up gets the
 * drafts as they stand then, and the deltas from there on, so none is
 * missed or counted twice. A socket catches up from storage only as far as
 * the publisher's `horizon` (publisher.ts): to the first batch still on its
 * way to it, which brings it the drafts after that batch.
 *
 * Flow control (flow.ts, replay.ts): a catch-up is sent as fast as the
 * socket's reader acknowledges it, within a window. Live batches go out as
 * they are written, split into frames of at most FLOW.frameChars; to a socket
 * that acknowledges (an SSE bridge, a WebSocket viewer that sends acks), only
 * what fits in its window: the rest it catches up from storage as its acks
 * come in, so it is never sent more than it can hold, live or not.
 *
 * A WebSocket viewer's token expiry (`exp`) is kept in its attachment too: a
 * frame due to it after that time is replaced by a `token_expired` error and
 * the socket is closed with 4401; the object's alarm closes idle ones. (SSE
 * streams are ended by the Worker's bridge, which holds them.)
 */
import { CLOSE_RUN_ENDED, CLOSE_TOKEN_EXPIRED, wsTokenExpired, type Draft, type Scope } from "../protocol/index.ts";
import { attachment, expired, saveAttachment, type Attachment } from "./attachment.ts";
import { batchFrames, draftFrames, framing } from "./fanout.ts";
import { deliver } from "./deliver.ts";
import { acknowledge, windowOf, type Frame } from "./flow.ts";
import type { EventLog } from "./log.ts";
import { Pages } from "./pages.ts";
import type { BatchFrames, Published, RunState } from "./published.ts";
import { Replays } from "./replay.ts";
import type { Transport } from "./subscribe.ts";

export type { BatchFrames, Published, RunState };

const RUN_TAG = "run:";
const SCOPE_TAG = "scope:";

export class Subscribers {
  readonly #replays: Replays;
  /** Each socket's tags, as read once (they are fixed when it is accepted; `getTags` copies them every time). */
  readonly #tags = new WeakMap<WebSocket, string[]>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly log: EventLog,
    private readonly state: () => RunState,
    /** Called with a new WebSocket viewer's token expiry (ms), so the alarm closes it then if it is idle. */
    private readonly expiresAt: (ms: number) => void,
    /** The in-flight messages' drafts (drafts.ts). */
    private readonly drafts: () => Draft[] = () => [],
    /** The bytes the Worker holds for an SSE reader (SSE_MAX_BUFFER_BYTES): an SSE bridge's window. */
    private readonly sseBuffer: () => number = () => 1024 * 1024,
    /** Where a socket's catch-up stops (Publisher.horizon): a batch on its way to it, or null for the log's end. */
    private readonly horizon: (ws: WebSocket, cursor: number) => number | null = () => null,
  ) {
    this.#replays = new Replays({
      ctx,
      pages: new Pages(ctx.storage.sql, log),
      windowOf: (t) => this.#windowOf(t),
      expireIfDue: (ws) => this.expireIfDue(ws),
      runIdOf: (ws) => this.runIdOf(ws),
      deliver: (ws, att, frames) => this.#deliver(ws, att, frames, true, true),
      horizon: (ws, cursor) => this.horizon(ws, cursor),
      caughtUp: (ws, att, waiting) => this.#caughtUp(ws, att, waiting),
    });
  }

  /** Accepts a new subscriber to run `runId` after `cursor` (`first`: a frame to send before anything else); returns the client end. */
  accept(transport: Transport, cursor: number, runId: string, scope: Scope, exp?: number, first?: string): WebSocket {
    const { 0: client, 1: server } = new WebSocketPair();
    // Tags are fixed at accept and survive hibernation: the transport (for counts), the run id, the token's scope.
    this.ctx.acceptWebSocket(server, [transport, `${RUN_TAG}${runId}`, `${SCOPE_TAG}${scope}`]);
    const ws = transport === "ws" && exp !== undefined;
    // The Worker's bridges acknowledge as their readers pull; a WebSocket viewer says so with its first ack.
    const flow = transport === "ws" ? undefined : { acks: true as const, marks: [] };
    saveAttachment(server, { transport, cursor, ...(ws && { exp }), ...(flow && { flow }) } satisfies Attachment);
    if (ws) this.expiresAt(exp * 1000);
    if (first !== undefined) server.send(first);
    this.#replays.start(server);
    return client;
  }

  /** If the socket's token has expired: the `token_expired` error and close 4401 (once), and true. */
  expireIfDue(ws: WebSocket, now = Date.now()): boolean {
    const att = attachment(ws);
    if (!att || !expired(att, now)) return false;
    if (att.expired) return true; // closing: touching it again would hold its close up
    try {
      saveAttachment(ws, { ...att, expired: true } satisfies Attachment);
      ws.send(wsTokenExpired());
      ws.close(CLOSE_TOKEN_EXPIRED, "token expired");
    } catch {
      // already closing
    }
    return true;
  }

  /** In the alarm: closes the WebSocket viewers whose token has expired; the earliest expiry left (ms), if any. */
  expireTokens(now: number): number | null {
    let next: number | null = null;
    for (const ws of this.ctx.getWebSockets("ws")) {
      const exp = attachment(ws)?.exp;
      if (exp === undefined || this.expireIfDue(ws, now)) continue; // closed now or before
      if (next === null || exp * 1000 < next) next = exp * 1000;
    }
    return next;
  }

  count(transport: Transport): number {
    return this.ctx.getWebSockets(transport).length;
  }

  transportOf(ws: WebSocket): Transport | undefined {
    return attachment(ws)?.transport;
  }

  runIdOf(ws: WebSocket): string | undefined {
    return this.#tag(ws, RUN_TAG);
  }

  scopeOf(ws: WebSocket): Scope | undefined {
    return this.#tag(ws, SCOPE_TAG) as Scope | undefined;
  }

  #tag(ws: WebSocket, prefix: string): string | undefined {
    let tags = this.#tags.get(ws);
    if (!tags) this.#tags.set(ws, (tags = this.ctx.getTags(ws)));
    return tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
  }

  /**
   * Sends a batch (publisher.ts) to those of `sockets` whose cursor is right
   * before it: its entries, with its live deltas in order (`segments`;
   * default: the entries only), the frames built once per transport and kind
   * of viewer, in `frames`, shared by every part of its publishing; a socket
   * that was not live gets the drafts after it, and the end if it ended the
   * run (`state`, as it stood after the batch). A socket that is behind
   * catches up.
   */
  publish({ batch, segments, before, drafts, state, redraft }: Published, sockets: readonly WebSocket[], frames: BatchFrames): void {
    const parts = segments ?? [{ entries: batch }];
    const now = Date.now();
    for (const ws of sockets) {
      const att = attachment(ws);
      if (!att) continue;
      if (expired(att, now)) {
        this.expireIfDue(ws, now);
      } else if (att.cursor === before) {
        // Deltas only to a socket that has had the drafts; a remote session has no drafts, so it always gets them.
        const deltas = att.live === true || att.transport === "session";
        const batchOf = (frames[`${att.transport}:${deltas}`] ??= batchFrames(att.transport, parts, deltas, this.runIdOf(ws) ?? ""));
        // A socket that acknowledges gets what fits in its window; the rest it catches up from storage.
        const acks = att.flow?.acks === true;
        const sent = this.#deliver(ws, att, batchOf, acks, acks);
        if (sent < 0) continue;
        if (sent < batchOf.length) {
          if (att.live) {
            delete att.live; // it missed deltas: it gets the drafts when it has caught up
            saveAttachment(ws, att);
          }
          continue;
        }
        if (!att.live || redraft) this.#sendDrafts(ws, att, state, drafts);
        this.#endIfDone(ws, att, state);
      } else if (att.cursor < before) {
        this.#catchUp(ws, att);
      }
    }
  }

  /** An `ack` from the socket's reader (the client library, or the Worker's SSE bridge): it has processed every entry up to `after`. */
  ack(ws: WebSocket, after: number): void {
    const att = attachment(ws);
    if (!att) return;
    const flow = (att.flow ??= { marks: [] });
    const first = flow.acks !== true;
    flow.acks = true;
    const released = acknowledge(flow, Math.min(after, att.cursor));
    if (!first && !released) return;
    saveAttachment(ws, att);
    if (att.cursor < this.log.lastId() && att.cursor < (this.horizon(ws, att.cursor) ?? Infinity)) this.#catchUp(ws, att);
  }

  /** Replays from `after` on this socket, then goes on live. */
  resume(ws: WebSocket, after: number): void {
    const att = attachment(ws);
    if (!att) return;
    att.cursor = after;
    delete att.live; // no deltas until it has caught up again
    if (att.flow) att.flow.marks = []; // counted again from here
    saveAttachment(ws, att);
    this.#replays.start(ws);
  }

  /**
   * Catches a socket that is behind up from storage. One that was live missed
   * a batch (the object was evicted before it was published): it gets the
   * drafts again once it has caught up, since storage holds no deltas.
   */
  #catchUp(ws: WebSocket, att: Attachment): void {
    if (att.live) {
      delete att.live;
      saveAttachment(ws, att);
    }
    this.#replays.start(ws);
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  #windowOf(transport: Transport): number {
    return windowOf(transport, this.sseBuffer());
  }

  /** Sends frames to the socket (deliver.ts); `paced`: only what fits in its window. */
  #deliver(ws: WebSocket, att: Attachment, frames: readonly Frame[], track: boolean, paced = false): number {
    return deliver(ws, att, frames, { window: this.#windowOf(att.transport), track, paced, runId: () => this.runIdOf(ws) });
  }

  /**
   * A socket caught up with the log, or `waiting` for a batch on its way to it
   * (which brings the drafts): the drafts, the end if the run has ended; a
   * viewer that never acknowledged is no longer counted.
   */
  #caughtUp(ws: WebSocket, att: Attachment, waiting: boolean): void {
    const state = this.state();
    const uncounted = att.flow !== undefined && !att.flow.acks;
    if (uncounted) delete att.flow;
    if (!att.live && !waiting) this.#sendDrafts(ws, att, state);
    else if (uncounted) saveAttachment(ws, att);
    if (!waiting) this.#endIfDone(ws, att, state);
  }

  /** A socket caught up: the drafts as they stand (or as a batch left them), and from now on the live deltas. */
  #sendDrafts(ws: WebSocket, att: Attachment, state: RunState, drafts = this.drafts()): void {
    att.live = true;
    const frames = draftFrames(att.transport, state.ended ? [] : drafts, att.cursor);
    if (this.#deliver(ws, att, frames, false) >= 0) saveAttachment(ws, att);
  }

  /** Once the run has ended and the socket has every entry: the end frame, then close (a remote session stays open). */
  #endIfDone(ws: WebSocket, att: Attachment, state: RunState): void {
    if (!state.ended || att.cursor < state.lastId || att.transport === "session" || this.expireIfDue(ws)) return;
    try {
      ws.send(framing[att.transport].end(state.ended, state.lastId));
      ws.close(CLOSE_RUN_ENDED, "run ended");
    } catch {
      // already closing
    }
  }
}
