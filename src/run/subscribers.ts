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
 * missed or counted twice.
 *
 * A WebSocket viewer's token expiry (`exp`) is kept in its attachment too: a
 * frame due to it after that time is replaced by a `token_expired` error and
 * the socket is closed with 4401; the object's alarm closes idle ones. (SSE
 * streams are ended by the Worker's bridge, which holds them.)
 */
import {
  CLOSE_RUN_ENDED,
  CLOSE_TOKEN_EXPIRED,
  wsTokenExpired,
  type Draft,
  type FinalStatus,
  type Scope,
} from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import { batchMessages, draftMessages, framing } from "./fanout.ts";
import type { EventLog, StoredEntry } from "./log.ts";
import { logLine } from "./logline.ts";
import type { Transport } from "./subscribe.ts";

interface Attachment {
  transport: Transport;
  /** Id of the last entry sent to this socket. */
  cursor: number;
  /** A WebSocket viewer's token expiry, in seconds since the epoch (none for the relay secret). */
  exp?: number;
  /** Set once the socket has been told its token expired and closed: it is sent nothing more. */
  expired?: true;
  /** Caught up and sent the drafts: it gets live deltas. */
  live?: true;
}

export interface RunState {
  lastId: number;
  /** The final status once the run has ended. */
  ended: FinalStatus | null;
}

/** A replay frame holds at most this many entries, or about 1 MiB of data. */
const REPLAY_PAGE = 500;
const REPLAY_PAGE_CHARS = 1024 * 1024;
const RUN_TAG = "run:";
const SCOPE_TAG = "scope:";

const attachment = (ws: WebSocket) => ws.deserializeAttachment() as Attachment | null;
const expired = (att: Attachment, now = Date.now()) => att.exp !== undefined && now >= att.exp * 1000;

export class Subscribers {
  /** Sockets with a catch-up running in this instance. */
  readonly #catchingUp = new Set<WebSocket>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly log: EventLog,
    private readonly state: () => RunState,
    /** Called with a new WebSocket viewer's token expiry (ms), so the alarm closes it then if it is idle. */
    private readonly expiresAt: (ms: number) => void,
    /** The in-flight messages' drafts (drafts.ts). */
    private readonly drafts: () => Draft[] = () => [],
  ) {}

  /** Accepts a new subscriber to run `runId` after `cursor` (`first`: a frame to send before anything else); returns the client end. */
  accept(transport: Transport, cursor: number, runId: string, scope: Scope, exp?: number, first?: string): WebSocket {
    const { 0: client, 1: server } = new WebSocketPair();
    // Tags are fixed at accept and survive hibernation: the transport (for counts), the run id, the token's scope.
    this.ctx.acceptWebSocket(server, [transport, `${RUN_TAG}${runId}`, `${SCOPE_TAG}${scope}`]);
    const ws = transport === "ws" && exp !== undefined;
    server.serializeAttachment({ transport, cursor, ...(ws && { exp }) } satisfies Attachment);
    if (ws) this.expiresAt(exp * 1000);
    if (first !== undefined) server.send(first);
    this.#catchUp(server);
    return client;
  }

  /** If the socket's token has expired: the `token_expired` error and close 4401 (once), and true. */
  expireIfDue(ws: WebSocket, now = Date.now()): boolean {
    const att = attachment(ws);
    if (!att || !expired(att, now)) return false;
    if (att.expired) return true; // closing: touching it again would hold its close up
    try {
      ws.serializeAttachment({ ...att, expired: true } satisfies Attachment);
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
    return this.ctx.getTags(ws).find((t) => t.startsWith(prefix))?.slice(prefix.length);
  }

  /**
   * Fans a batch that was just written out to every subscriber: its entries,
   * with its live deltas in order (`segments`; default: the entries only),
   * the frames built once per transport. Call right after the write, with no
   * `await` in between.
   */
  publish(batch: readonly StoredEntry[], segments?: readonly Segment[]): void {
    const parts = segments ?? [{ entries: batch }];
    const firstDelta = parts.find((p) => "delta" in p);
    // The id before the batch: before its first entry, or the position of its deltas.
    const before = batch.length > 0 ? batch[0]!.id - 1 : firstDelta && "delta" in firstDelta ? firstDelta.after : undefined;
    if (before === undefined) return;
    const last = batch.at(-1)?.id ?? before;
    const frames: Partial<Record<string, string[]>> = {};
    let state: RunState | undefined;
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const att = attachment(ws);
      if (!att) continue;
      if (expired(att, now)) {
        this.expireIfDue(ws, now);
      } else if (att.cursor === before) {
        const key = `${att.transport}:${att.live === true}`;
        const messages = (frames[key] ??= batchMessages(att.transport, parts, att.live === true, this.runIdOf(ws) ?? ""));
        if (!this.#send(ws, att, messages, last)) continue;
        state ??= this.state();
        if (!att.live) this.#sendDrafts(ws, att, state);
        this.#endIfDone(ws, att, state);
      } else if (att.cursor < before) {
        this.#catchUp(ws);
      }
    }
  }

  /** Replays from `after` on this socket, then goes on live. */
  resume(ws: WebSocket, after: number): void {
    const att = attachment(ws);
    if (!att) return;
    att.cursor = after;
    delete att.live; // no deltas until it has caught up again
    ws.serializeAttachment(att);
    this.#catchUp(ws);
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

  #catchUp(ws: WebSocket): void {
    if (this.#catchingUp.has(ws)) return;
    this.#catchingUp.add(ws);
    this.ctx.waitUntil(this.#replay(ws).finally(() => this.#catchingUp.delete(ws)));
  }

  /** Sends stored entries after the socket's cursor, a page at a time, until it has them all. */
  async #replay(ws: WebSocket): Promise<void> {
    for (;;) {
      // Yield first and between pages: the upgrade response goes out, and
      // appends and other sockets get their turn. The cursor is re-read each
      // time because a live batch may have advanced it meanwhile.
      await scheduler.wait(0);
      const att = attachment(ws);
      if (!att || ws.readyState !== WebSocket.OPEN || this.expireIfDue(ws)) return;
      const page = this.log.read(att.cursor, REPLAY_PAGE, REPLAY_PAGE_CHARS);
      const last = page.at(-1)?.id;
      if (last === undefined) {
        const state = this.state();
        if (!att.live) this.#sendDrafts(ws, att, state);
        this.#endIfDone(ws, att, state);
        return;
      }
      if (!this.#send(ws, att, [framing[att.transport].events(page, this.runIdOf(ws) ?? "")], last)) return;
    }
  }

  /** A socket caught up with the log: the drafts as they stand, and from now on the live deltas. */
  #sendDrafts(ws: WebSocket, att: Attachment, state: RunState): void {
    const drafts = state.ended ? [] : this.drafts();
    att.live = true;
    this.#send(ws, att, draftMessages(att.transport, drafts, att.cursor), att.cursor);
  }

  /** Sends frames and advances the socket's cursor; false if the socket could not take them. */
  #send(ws: WebSocket, att: Attachment, messages: readonly string[], lastId: number): boolean {
    const changed = att.cursor !== lastId;
    try {
      for (const m of messages) ws.send(m);
    } catch {
      // A socket that refuses a frame while open would be retried forever: close it,
      // and the client reconnects from its last id.
      logLine({ type: "socket", event: "dropped", runId: this.runIdOf(ws), transport: att.transport, reason: "send failed" });
      try {
        ws.close(1011, "send failed");
      } catch {
        // already closing
      }
      return false;
    }
    if (changed || att.live !== attachment(ws)?.live) {
      att.cursor = lastId;
      ws.serializeAttachment(att);
    }
    return true;
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
