/**
 * The run object's log lines: one JSON line per notable event (the run ended,
 * stalled, came back or was deleted, a socket was dropped), like the Worker's (src/worker/log.ts)
 * so Workers Logs indexes every field. Never a token: only the run id, the
 * transport and a status or cause.
 */
export type ObjectLogLine =
  | { type: "run"; event: "ended"; runId: string; status: string; reason?: string }
  | { type: "run"; event: "stalled" | "runner_back"; runId: string }
  | { type: "run"; event: "deleted"; runId?: string; cause: "request" | "retention" }
  | { type: "socket"; event: "dropped"; runId?: string; transport?: string; reason: string };

export function logLine(line: ObjectLogLine): void {
  console.log(JSON.stringify(line));
}
