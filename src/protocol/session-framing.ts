/**
 * The remote-session stream's frames (docs/remote-session.md), built from log
 * entries as text. Every entry is one `client_event` whose `sequence_num` and
 * `id:` are its log id: the runner's lines with `source: "worker"`, what
 * participants sent with `source: "client"`, the relay's own entries (inputs
 * delivered, the run stalled or ended) with `source: "relay"`. Live deltas are
 * `ephemeral_event`s; Claude Code's `command_lifecycle` lines for a message
 * also become `delivery_update`s for the message's event. No dependencies.
 */
import type { EntryText } from "./framing.ts";

/** `command_lifecycle` states → delivery statuses. */
const DELIVERY: Record<string, string> = {
  queued: "DELIVERY_STATUS_RECEIVED",
  started: "DELIVERY_STATUS_PROCESSING",
  completed: "DELIVERY_STATUS_PROCESSED",
};

const iso = (ts: number) => JSON.stringify(new Date(ts).toISOString());

const clientEvent = (e: EntryText, eventId: string, source: string, payload: string) =>
  `id: ${e.id}\nevent: client_event\ndata: {"event_id":${JSON.stringify(eventId)},"sequence_num":${e.id},"created_at":${iso(e.ts)},"source":"${source}","payload":${payload}}\n\n`;

/** The `delivery_update` a `command_lifecycle` line stands for, if it is one. */
function deliveryUpdate(e: EntryText): string {
  if (!e.data.includes('"command_lifecycle"')) return ""; // most lines: no need to parse
  const line = JSON.parse(e.data) as { type?: unknown; command_uuid?: unknown; state?: unknown };
  const status = typeof line.state === "string" ? DELIVERY[line.state] : undefined;
  if (line.type !== "command_lifecycle" || typeof line.command_uuid !== "string" || !status) return "";
  const data = { event_id: line.command_uuid, status, timestamp: new Date(e.ts).toISOString() };
  return `event: delivery_update\ndata: ${JSON.stringify(data)}\n\n`;
}

type InputData = { kind: string; inputId?: number; message?: unknown; uuid?: string; payload?: { uuid?: unknown } };

/** What a participant sent, as the payload a remote-session client expects; or the relay's own note. */
function inputEvent(e: EntryText, runId: string): string {
  const data = JSON.parse(e.data) as InputData;
  switch (data.kind) {
    case "message": {
      const uuid = data.uuid ?? String(e.id);
      const payload = { type: "user", message: data.message, parent_tool_use_id: null, session_id: runId, uuid };
      return clientEvent(e, uuid, "client", JSON.stringify(payload));
    }
    case "control": {
      const uuid = typeof data.payload?.uuid === "string" ? data.payload.uuid : String(e.id);
      return clientEvent(e, uuid, "client", JSON.stringify(data.payload));
    }
    case "interrupt": {
      const payload = { type: "control_request", request_id: `interrupt-${data.inputId}`, request: { subtype: "interrupt" } };
      return clientEvent(e, String(e.id), "client", JSON.stringify(payload));
    }
    default:
      return clientEvent(e, String(e.id), "relay", `{"type":"runrelay_input",${e.data.slice(1)}`);
  }
}

/** The `client_event`s (and `delivery_update`s) of a batch of entries. */
export function sessionEvents(entries: readonly EntryText[], runId: string): string {
  let text = "";
  for (const e of entries) {
    if (e.type === "sdk") text += clientEvent(e, String(e.id), "worker", e.data) + deliveryUpdate(e);
    else if (e.type === "input") text += inputEvent(e, runId);
    else text += clientEvent(e, String(e.id), "relay", `{"type":"runrelay_${e.type}",${e.data.slice(1)}`);
  }
  return text;
}

/** A live delta: an `ephemeral_event` holding the `stream_event` line. */
export const sessionDelta = (_after: number, line: string): string => `event: ephemeral_event\ndata: {"payload":${line}}\n\n`;

/** Sent when the relay cannot replay from the client's cursor (it is past the end of the log): the stream goes on from the end. */
export const SESSION_CATCH_UP_TRUNCATED = "event: catch_up_truncated\ndata: {}\n\n";
