/** What the run object answers to readers: a page of the log (`GET /events`) and the run's status (`GET /`). */
import type { EventsPage, RunInfo } from "../protocol/index.ts";
import type { InputQueue } from "./inputs.ts";
import type { EventLog, StoredEntry } from "./log.ts";
import type { RunMeta } from "./meta.ts";
import type { Producers } from "./producers.ts";
import { fail, type Result } from "./result.ts";
import { cursorPastEnd } from "./sockets.ts";
import type { RunState, Subscribers } from "./subscribers.ts";

export interface ReadParts {
  log: EventLog;
  meta: RunMeta;
  inputs: InputQueue;
  producers: Producers;
  subscribers: Subscribers;
  state(): RunState;
  /** Rows written and not yet stored in the run's row (rows.ts). */
  unstoredRows(): number;
}

/** A page of entries after `after`, as stored (the Worker joins their JSON text). */
export function readPage(run: ReadParts, after: number, limit: number): Result<Omit<EventsPage, "events"> & { entries: StoredEntry[] }> {
  const { lastId, ended } = run.state();
  const outOfRange = cursorPastEnd(after, lastId);
  if (outOfRange) return outOfRange;
  const entries = run.log.read(after, limit);
  return { ok: true, entries, lastEventId: lastId, status: run.meta.status(), ended: ended !== null };
}

/** The run's status, viewer counts and producers; `404 run_not_found` before anything was written. */
export function runInfo(run: ReadParts): Result<RunInfo> {
  const meta = run.meta.get();
  if (!meta) return fail(404, "run_not_found", "nothing has been written to this run");
  const lastEventId = run.log.lastId();
  return {
    ok: true,
    runId: meta.runId,
    status: meta.status,
    ...(meta.reason !== null && { reason: meta.reason }),
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    lastEventId,
    events: lastEventId,
    bytes: meta.bytes,
    clients: { sse: run.subscribers.count("sse"), ws: run.subscribers.count("ws"), session: run.subscribers.count("session"), runners: run.inputs.waiting },
    pendingInputs: run.inputs.pending(),
    producers: run.producers.all(),
    rowsWritten: meta.rowsWritten + run.unstoredRows(),
  };
}

/** Viewer counts plus a fan-out tier's (shards.ts): `GET /` counts every viewer of the run. */
export const addCounts = (clients: RunInfo["clients"], more: { sse: number; ws: number; session: number }): RunInfo["clients"] => ({
  ...clients,
  sse: clients.sse + more.sse,
  ws: clients.ws + more.ws,
  session: (clients.session ?? 0) + more.session,
});
