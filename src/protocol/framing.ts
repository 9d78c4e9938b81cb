/**
 * How log entries are framed on the wire, as text built by joining strings:
 * the run object builds each frame once per batch and every transport copies
 * it through. No dependencies.
 */
import { SSE_TOKEN_EXPIRED_EVENT } from "./constants.ts";
import type { InputKind } from "./inputs.ts";
import type { Draft } from "./live.ts";
import type { EntryType, FinalStatus } from "./run.ts";

/** An entry as stored: its data is the JSON text of an object, kept as received. */
export interface EntryText {
  id: number;
  ts: number;
  type: EntryType;
  /** JSON text of the entry's data object. */
  data: string;
}

/** An entry as JSON text. */
export const entryJson = (e: EntryText): string => `{"id":${e.id},"ts":${e.ts},"type":"${e.type}","data":${e.data}}`;

/**
 * SSE: `sdk` entries are unnamed events whose data is the stream-json line, so
 * `EventSource.onmessage` receives SDK messages; other types are named events.
 */
export function sseEvents(entries: readonly EntryText[]): string {
  let text = "";
  for (const e of entries) {
    text += e.type === "sdk" ? `id: ${e.id}\ndata: ${e.data}\n\n` : `id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`;
  }
  return text;
}

/** Framing around one entry's data, at most (the WebSocket form is the longer): what `entryRuns` adds per entry. */
const ENTRY_OVERHEAD = 80;

/**
 * Entries in consecutive runs of about `maxChars` of text at most, each entry
 * whole (a run holds at least one, so an entry larger than that is a run of
 * its own): the frames a large batch or page is sent in.
 */
export function entryRuns<T extends EntryText>(entries: readonly T[], maxChars: number): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let chars = 0;
  for (const e of entries) {
    const size = e.data.length + ENTRY_OVERHEAD;
    if (run.length > 0 && chars + size > maxChars) {
      runs.push(run);
      run = [];
      chars = 0;
    }
    run.push(e);
    chars += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** The client's flow-control frame (`ClientFrame` `ack`): every entry up to `after` has been processed. */
export const ackFrame = (after: number): string => `{"type":"ack","after":${after}}`;

/** The id an `ack` frame acknowledges, if `text` is exactly one as `ackFrame` writes it; else null (parse it as any frame). */
export function ackOf(text: string): number | null {
  const m = /^\{"type":"ack","after":(\d{1,15})\}$/.exec(text);
  return m ? Number(m[1]) : null;
}

/** The first field of an SSE stream: how long EventSource waits before it reconnects. */
export const sseRetry = (ms: number): string => `retry: ${ms}\n\n`;

/** The id of the last entry in a piece of SSE text (the `id:` line that starts its last event with one), or null. */
export function lastSseId(text: string): number | null {
  const at = text.lastIndexOf("\n\nid: ");
  const start = at >= 0 ? at + 6 : text.startsWith("id: ") ? 4 : -1;
  const end = start < 0 ? -1 : text.indexOf("\n", start);
  if (end < 0) return null;
  const id = Number(text.slice(start, end));
  return Number.isSafeInteger(id) ? id : null;
}

/** The last SSE frame: the run has ended and the client has every entry. */
export const sseEnd = (status: FinalStatus, lastEventId: number): string =>
  `event: end\ndata: ${JSON.stringify({ status, lastEventId })}\n\n`;

/** An SSE comment, so proxies keep an idle stream open. */
export const SSE_KEEPALIVE = ": keep-alive\n\n";

/** A WebSocket `events` frame (`ServerFrame`). */
export const wsEvents = (entries: readonly EntryText[]): string => `{"type":"events","events":[${entries.map(entryJson).join(",")}]}`;

/** A WebSocket `end` frame (`ServerFrame`). */
export const wsEnd = (status: FinalStatus, lastEventId: number): string => JSON.stringify({ type: "end", status, lastEventId });

/** SSE `event: delta`: a live `stream_event` line (no `id:`: `lastEventId` stays on the last durable id). */
export const sseDelta = (after: number, line: string): string => `event: delta\ndata: {"after":${after},"event":${line}}\n\n`;

/** A WebSocket `delta` frame (`ServerFrame`). */
export const wsDelta = (after: number, line: string): string => `{"type":"delta","after":${after},"event":${line}}`;

/** SSE `event: draft`: the in-flight message so far (no `id:`). */
export const sseDraft = (after: number, draft: Draft): string => `event: draft\ndata: ${JSON.stringify({ after, ...draft })}\n\n`;

/** A WebSocket `draft` frame (`ServerFrame`). */
export const wsDraft = (after: number, draft: Draft): string => JSON.stringify({ type: "draft", after, ...draft });

/** What a token that expired mid-stream is told, before the stream or socket ends. */
export const TOKEN_EXPIRED_ERROR = {
  code: "token_expired",
  message: "the token has expired; renew it and resume from the last id",
} as const;

/** The last SSE frame of a stream whose token expired (no `id:`). */
export const sseTokenExpired = (): string => `event: ${SSE_TOKEN_EXPIRED_EVENT}\ndata: ${JSON.stringify(TOKEN_EXPIRED_ERROR)}\n\n`;

/** The WebSocket `error` frame sent before closing with `CLOSE_TOKEN_EXPIRED`. */
export const wsTokenExpired = (): string => JSON.stringify({ type: "error", error: TOKEN_EXPIRED_ERROR });

/** A queued input as stored: its message (or control payload) is the JSON text it was stored as. */
export interface InputText {
  id: number;
  kind: InputKind;
  /** JSON text of the user message (`message` inputs) or of the control message (`control` inputs). */
  message: string | null;
  /** A message's uuid. */
  uuid: string | null;
  clientId: string | null;
  createdAt: number;
  eventId: number;
}

/** An input (`Input`) as JSON text, its message or payload copied through as stored. */
export const inputJson = (i: InputText): string =>
  `{"id":${i.id},"kind":"${i.kind}"${i.message === null ? "" : `,"${i.kind === "control" ? "payload" : "message"}":${i.message}`}${
    i.uuid === null ? "" : `,"uuid":${JSON.stringify(i.uuid)}`
  }${i.clientId === null ? "" : `,"clientId":${JSON.stringify(i.clientId)}`},"createdAt":${i.createdAt},"eventId":${i.eventId}}`;

/** The `GET /inputs` reply (`InputsReply`) as JSON text. */
export const inputsReplyJson = (inputs: readonly InputText[], ended: boolean, leaseSeconds: number): string =>
  `{"inputs":[${inputs.map(inputJson).join(",")}],"ended":${ended},"leaseSeconds":${leaseSeconds}}`;
