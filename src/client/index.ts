/**
 * runrelay's client: follow a run live from a browser or Node, and talk to it.
 *
 *   const run = connect({ url, runId, token });
 *   for await (const entry of run) render(entry);
 *
 * Entries come in id order, each once: the client checks every id, skips a
 * repeat, and on a gap or a dropped connection reconnects by itself from the
 * last id it handed out. It uses the platform's EventSource or WebSocket (pass
 * constructors in where the runtime has none). No Worker-only imports.
 */
import { CLOSE_RUN_DELETED, CLOSE_TOKEN_EXPIRED, SSE_TOKEN_EXPIRED_EVENT } from "../protocol/constants.ts";
import { RelayError } from "../protocol/errors.ts";
// Types only: the relay is trusted to speak the contract, and a browser bundle stays free of the schemas.
import type { DeltaData, DraftData, Entry, EntryType, FinalStatus, InputAccepted, ServerFrame, SessionPostReply, UserMessage } from "../protocol/index.ts";
import { Acks } from "./acks.ts";
import { MessageDrafts } from "./drafts.ts";
import { RunApi, type RunEnd, type TokenSource } from "./http.ts";
import { answerPayload, ControlRequests, newUuid } from "./requests.ts";
import type { ClientEntry, ConnectionState, ConnectOptions, Listeners, RunConnection } from "./types.ts";

export { MessageDrafts, RelayError, type RunEnd, type TokenSource };
export * from "./requests.ts";
export type { ClientEntry, ConnectionState, ConnectOptions, RunConnection } from "./types.ts";
export type { DeltaData, DraftData, Entry, EntryType, FinalStatus, InputAccepted, UserMessage };

export function connect(opts: ConnectOptions): RunConnection {
  const ES = opts.EventSource ?? (globalThis as { EventSource?: typeof EventSource }).EventSource;
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  const api = new RunApi(opts.url, opts.runId, opts.token, opts.fetch ?? globalThis.fetch.bind(globalThis));
  const retry = opts.retry ?? { baseMs: 250, maxMs: 5000 };
  const transport = opts.transport ?? "sse";
  const listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = { entry: new Set(), delta: new Set(), draft: new Set(), state: new Set(), end: new Set(), error: new Set(), request: new Set() };
  const emit = <K extends keyof Listeners>(event: K, ...args: Parameters<Listeners[K]>) => {
    for (const l of listeners[event]) (l as (...a: Parameters<Listeners[K]>) => void)(...args);
  };

  let state: ConnectionState = "connecting";
  let lastEventId = opts.after ?? 0;
  let attempt = 0;
  let current: { close(): void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Each iterator's entries not yet taken, and how to wake it.
  const iterators = new Set<{ queue: ClientEntry[]; wake?: () => void }>();
  // Entries handed out before anyone iterated or listened, for the first iterator (then no more).
  let backlog: ClientEntry[] | null = [];
  const requests = new ControlRequests();
  const wakeAll = () => iterators.forEach((it) => it.wake?.());
  const terminal = () => state === "ended" || state === "closed" || state === "failed";

  const setState = (next: ConnectionState) => {
    if (state === next) return;
    state = next;
    emit("state", next);
    wakeAll();
  };

  /** Hands out an entry if it is the next one; false if the stream has a gap. */
  const handOut = (entry: ClientEntry): boolean => {
    if (entry.id <= lastEventId) return true; // a repeat: already handed out
    if (entry.id !== lastEventId + 1) return false;
    lastEventId = entry.id;
    attempt = 0;
    if (backlog && listeners.entry.size === 0) backlog.push(entry);
    else backlog = null;
    for (const it of iterators) it.queue.push(entry);
    wakeAll();
    emit("entry", entry);
    const request = requests.entry(entry);
    if (request) emit("request", request);
    return true;
  };

  /** A delta or draft counts only where this connection is: right after the last entry handed out. */
  const live = (event: "delta" | "draft", data: DeltaData | DraftData) => {
    if (data.after === lastEventId) emit(event, data as never);
  };

  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
    current?.close();
    current = undefined;
  };

  const finish = (end: RunEnd) => {
    if (terminal()) return;
    stop();
    setState("ended");
    emit("end", end);
  };

  /** The relay refused for good: say why, and stop. */
  const fail = (error: RelayError) => {
    if (terminal()) return;
    stop();
    emit("error", error);
    setState("failed");
  };

  /**
   * After a drop: wait (with backoff; at once when the token expired), take a fresh token, ask the relay
   * where things stand, then open again.
   */
  const reconnect = (now = false) => {
    if (terminal() || timer !== undefined) return;
    current?.close();
    current = undefined;
    setState("reconnecting");
    const ceiling = now ? 0 : Math.min(retry.maxMs, retry.baseMs * 2 ** attempt++);
    timer = setTimeout(() => {
      timer = undefined;
      api
        .refresh()
        .then(() => api.endedAfter(lastEventId))
        .then(
          (end) => (end ? finish(end) : open()),
          (err) => (err instanceof RelayError && err.status >= 400 && err.status < 500 ? fail(err) : reconnect()),
        );
    }, ceiling / 2 + (Math.random() * ceiling) / 2);
  };
  /** The relay ended the stream because its token expired: renew and resume at once (a fixed token fails then). */
  const expired = () => reconnect(api.renews);

  function open(): void {
    if (terminal()) return;
    if (transport === "ws") openWs();
    else openSse();
  }

  function openSse(): void {
    if (!ES) return;
    const es = new ES(api.streamUrl(`/stream?after=${lastEventId}`));
    let closed = false;
    current = { close: () => ((closed = true), es.close()) };
    const onEntry = (type: EntryType) => (e: MessageEvent) => {
      if (closed) return;
      if (!handOut({ id: Number(e.lastEventId), type, data: JSON.parse(e.data) })) reconnect();
    };
    es.addEventListener("open", () => !closed && setState("live"));
    // Unnamed events are `sdk` entries; `input` and `status` are named (docs/protocol.md).
    for (const [event, type] of [["message", "sdk"], ["input", "input"], ["status", "status"]] as const) {
      es.addEventListener(event, onEntry(type) as EventListener);
    }
    for (const event of ["delta", "draft"] as const) {
      es.addEventListener(event, ((e: MessageEvent) => !closed && live(event, JSON.parse(e.data))) as EventListener);
    }
    es.addEventListener("end", ((e: MessageEvent) => !closed && finish(JSON.parse(e.data) as RunEnd)) as EventListener);
    es.addEventListener(SSE_TOKEN_EXPIRED_EVENT, () => !closed && expired());
    // EventSource would reconnect on its own; the client does it instead, from the last id it handed out.
    es.addEventListener("error", () => !closed && reconnect());
  }

  function openWs(): void {
    if (!WS) return;
    const ws = new WS(api.streamUrl(`/ws?after=${lastEventId}`).replace(/^http/, "ws"));
    let closed = false;
    current = { close: () => ((closed = true), ws.close()) };
    const acks = new Acks((frame) => ws.send(frame)); // flow control: the relay sends as fast as entries are handed out
    ws.addEventListener("open", () => !closed && (acks.opened(lastEventId), setState("live")));
    ws.addEventListener("message", (e) => {
      if (closed) return;
      const text = String(e.data);
      const f = JSON.parse(text) as ServerFrame;
      if (f.type === "events") {
        for (const entry of f.events) if (!handOut(entry)) return reconnect();
        acks.processed(text.length, lastEventId);
      } else if (f.type === "delta" || f.type === "draft") live(f.type, f);
      else if (f.type === "end") finish({ status: f.status, lastEventId: f.lastEventId });
      // The relay ends a socket whose token expired with this frame, then close code 4401; act on the frame,
      // since a close can take seconds to arrive through proxies.
      else if (f.type === "error" && f.error.code === "token_expired") expired();
      else if (f.type === "error") emit("error", new RelayError(0, f.error.code, f.error.message));
    });
    ws.addEventListener("close", (e) => {
      if (closed) return;
      if (e.code === CLOSE_RUN_DELETED) fail(new RelayError(404, "run_not_found", "the run was deleted"));
      else if (e.code === CLOSE_TOKEN_EXPIRED) expired();
      else reconnect();
    });
    ws.addEventListener("error", () => !closed && reconnect()); // a failed handshake may fire only this
  }

  if (transport === "ws" && !WS) throw new Error("no WebSocket here: pass one in ConnectOptions.WebSocket");
  if (transport === "sse" && !ES) throw new Error("no EventSource here: pass one in ConnectOptions.EventSource");
  // A token function is asked first; if it fails, the client retries with backoff as after a drop.
  if (api.renews) api.refresh().then(open, () => reconnect());
  else open();

  return {
    get state() {
      return state;
    },
    get lastEventId() {
      return lastEventId;
    },
    on(event, listener) {
      listeners[event].add(listener as never);
      return () => listeners[event].delete(listener as never);
    },
    send(message, o = {}) {
      return api.post(
        "/messages",
        { message, ...(o.clientId && { clientId: o.clientId }) },
        o.idempotencyKey ? { "Idempotency-Key": o.idempotencyKey } : {},
      );
    },
    interrupt(o = {}) {
      return api.post("/interrupt", o.clientId ? { clientId: o.clientId } : {});
    },
    get requests() {
      return requests.all;
    },
    get pending() {
      return requests.pending;
    },
    async respond(requestId, decision, o = {}) {
      const uuid = o.uuid ?? newUuid();
      requests.sending(uuid);
      const body = { session_id: opts.runId, events: [{ payload: answerPayload(requestId, decision, uuid) }] };
      const reply = await api.post<SessionPostReply>("/session/events", body, {}, 200);
      return { eventId: reply.events[0]!.sequence_num, uuid };
    },
    close() {
      if (terminal()) return;
      stop();
      setState("closed");
    },
    async *[Symbol.asyncIterator]() {
      const it: { queue: ClientEntry[]; wake?: () => void } = { queue: backlog ?? [] };
      backlog = null;
      iterators.add(it);
      try {
        for (;;) {
          while (it.queue.length > 0) yield it.queue.shift()!;
          if (terminal()) return;
          await new Promise<void>((resolve) => (it.wake = resolve));
          it.wake = undefined;
        }
      } finally {
        iterators.delete(it);
      }
    },
  };
}
