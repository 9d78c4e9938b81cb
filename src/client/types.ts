/** The client's public types: options, connection states, events and the connection itself. */
import type { DeltaData, DraftData, Entry, InputAccepted, UserMessage } from "../protocol/index.ts";
import type { RunEnd, TokenSource } from "./http.ts";
import type { ControlRequest, PermissionDecision, RequestAnswered } from "./requests.ts";

/** An entry as a client sees it (SSE carries no timestamps). */
export type ClientEntry = Omit<Entry, "ts"> & { ts?: number };

/** `failed`: the relay refused for good (a bad or expired token, a deleted run …); see the `error` event. */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "ended" | "closed" | "failed";

export interface ConnectOptions {
  /** The relay, e.g. https://relay.example.com (or "" for the page's own origin). */
  url: string;
  runId: string;
  /**
   * A read token (or write, to send messages and interrupts), or a function that returns a fresh one:
   * it is called before every (re)connection, and when the relay ends a stream because its token
   * expired, so a long-lived view renews its tokens and resumes from its last id.
   */
  token?: TokenSource;
  transport?: "sse" | "ws";
  /** Start after this id (default 0: from the start). */
  after?: number;
  /** Reconnect backoff (default 250 ms, doubling to 5 s). */
  retry?: { baseMs: number; maxMs: number };
  EventSource?: typeof EventSource;
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export type Listeners = {
  entry: (entry: ClientEntry) => void;
  /** A live delta (a `stream_event` line, never stored), right after the entry it follows; not iterated. */
  delta: (delta: DeltaData) => void;
  /** The in-flight message so far, when the connection is caught up mid-message; the deltas that follow continue it. */
  draft: (draft: DraftData) => void;
  state: (state: ConnectionState) => void;
  end: (end: RunEnd) => void;
  error: (error: Error) => void;
  /** The agent asked something (a permission prompt), or a request was settled (its `outcome` is then set). */
  request: (request: ControlRequest) => void;
};

/**
 * A live run. Iterate it (each iterator gets every entry handed out from when it starts; entries that
 * arrive before the first iterator or `entry` listener are kept for it), or listen with `on("entry")`.
 */
export interface RunConnection extends AsyncIterable<ClientEntry> {
  readonly state: ConnectionState;
  /** The id of the last entry handed out. */
  readonly lastEventId: number;
  on<K extends keyof Listeners>(event: K, listener: Listeners[K]): () => void;
  /** Sends a message to the running agent (needs a write token). */
  send(message: string | UserMessage, opts?: { clientId?: string; idempotencyKey?: string }): Promise<InputAccepted>;
  /** Asks the agent to stop its current turn (needs a write token). */
  interrupt(opts?: { clientId?: string }): Promise<InputAccepted>;
  /** The agent's control requests so far (permission prompts …), in the order asked; `pending`: those not settled yet. */
  readonly requests: ControlRequest[];
  readonly pending: ControlRequest[];
  /**
   * Answers a request (needs a write token): resolves once the relay stored the answer; rejects with a `RelayError`,
   * code `request_settled` (409) when another answer came first, `unknown_request` (404). Pass `uuid` to retry safely.
   */
  respond(requestId: string, decision: PermissionDecision, opts?: { uuid?: string }): Promise<RequestAnswered>;
  close(): void;
}
