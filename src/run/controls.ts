/**
 * The agent's control requests (Claude Code's `control_request` lines: a
 * `can_use_tool` permission prompt, an elicitation, …) and whether each is
 * still waiting for an answer. Participants answer through the remote-session
 * API; the first answer wins and later ones are refused, so the agent gets
 * exactly one. A request is settled by a participant's answer, by the runner's
 * own `control_response` line (it answered it, e.g. after `--permission-timeout`)
 * or by the agent's `control_cancel_request`.
 */
import { fail, type Failure } from "./result.ts";

/** A control line of a batch, found by the Worker while it parses the batch (ndjson.ts). */
export interface ControlMark {
  type: "control_request" | "control_response" | "control_cancel_request";
  requestId: string;
  /** A request's subtype, e.g. `can_use_tool`. */
  subtype?: string;
}

const CONTROL_TYPES = new Set<string>(["control_request", "control_response", "control_cancel_request"]);

/** The control mark of a parsed stream-json line, if it is one. */
export function controlMarkOf(line: Record<string, unknown>): ControlMark | undefined {
  if (typeof line.type !== "string" || !CONTROL_TYPES.has(line.type)) return undefined;
  const type = line.type as ControlMark["type"];
  const requestId = type === "control_response" ? (line.response as { request_id?: unknown } | null)?.request_id : line.request_id;
  if (typeof requestId !== "string") return undefined;
  const subtype = type === "control_request" ? (line.request as { subtype?: unknown } | null)?.subtype : undefined;
  return { type, requestId, ...(typeof subtype === "string" && { subtype }) };
}

export class ControlRequests {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS controls (
      request_id TEXT    PRIMARY KEY,
      subtype    TEXT    NOT NULL,
      settled    TEXT
    )`);
  }

  /** The agent's control lines of a batch, in order. Call inside the batch's transaction. */
  record(marks: readonly ControlMark[]): void {
    for (const m of marks) {
      if (m.type === "control_request") {
        this.sql.exec("INSERT OR IGNORE INTO controls (request_id, subtype) VALUES (?, ?)", m.requestId, m.subtype ?? "");
      } else {
        const how = m.type === "control_response" ? "answered by the runner" : "cancelled by the agent";
        this.sql.exec("UPDATE controls SET settled = ? WHERE request_id = ? AND settled IS NULL", how, m.requestId);
      }
    }
  }

  /** Null if a participant may answer `requestId` now; else why not (404: never asked; 409: settled). */
  check(requestId: string): Failure | null {
    const row = this.sql.exec<{ settled: string | null }>("SELECT settled FROM controls WHERE request_id = ?", requestId).toArray()[0];
    if (!row) return fail(404, "unknown_request", `the agent has asked nothing with request_id ${JSON.stringify(requestId.slice(0, 128))}`);
    if (row.settled !== null) return fail(409, "request_settled", `request ${requestId} was already ${row.settled}; the first answer wins`);
    return null;
  }

  /** A participant's answer was accepted. Call inside its transaction, after `check`. */
  answer(requestId: string): void {
    this.sql.exec("UPDATE controls SET settled = 'answered by a participant' WHERE request_id = ?", requestId);
  }
}
