/**
 * How a run ends, and how a dead runner is noticed.
 *
 * Ending (`POST /complete`, or a runner lost for good): every input still
 * queued leaves the queue undelivered, logged in one `undelivered` entry just
 * before the `status` entry, in one transaction; viewers are ended once they
 * have everything, and waiting long-polls answer `ended`.
 *
 * Liveness: the object records when it last heard from a runner (any request
 * of a runner route). It applies once a runner has shown itself with a
 * long-poll or a heartbeat; a run fed only by plain appends never stalls.
 * While the run is `running` and no runner was heard from for
 * RUNNER_LEASE_SECONDS, the alarm makes it `stalled`; any runner request
 * brings it back (`running`, `runner_back`); after STALLED_FAIL_AFTER_SECONDS
 * stalled it ends `failed` with `runner_lost`. Each change is a `status` entry.
 */
import { RUN_ENDED_REASON, type FinalStatus, type Limits, type StatusData } from "../protocol/index.ts";
import type { AlarmClock } from "./alarm.ts";
import type { InputQueue } from "./inputs.ts";
import { undeliveredEntry } from "./intake.ts";
import type { EventLog, NewEntry, Write } from "./log.ts";
import { logLine } from "./logline.ts";
import { isEnded, type Meta, type RunMeta } from "./meta.ts";
import { fail, type Result } from "./result.ts";

/** The parts of its run object the lifecycle works with. */
export interface LifecycleParts {
  meta: RunMeta;
  log: EventLog;
  inputs: InputQueue;
  alarm: AlarmClock;
  limits(): Limits;
  write: Write;
}

/**
 * How a runner request was heard: `append` (recorded by the append's own
 * write), `poll` and `heartbeat` (which start the lease), `request` (any other).
 */
export type Heard = "append" | "poll" | "heartbeat" | "request";

export const RUNNER_BACK = "runner_back";
export const RUNNER_LOST = "runner_lost";

const statusEntry = (data: StatusData): NewEntry => ({ type: "status", data: JSON.stringify(data) });

export class Lifecycle {
  constructor(private readonly run: LifecycleParts) {}

  /** Ends the run with a final status. Repeating the same status is a no-op; another is `409 run_ended`. */
  end(runId: string, status: FinalStatus, reason?: string): Result<{ lastEventId: number }> {
    const { meta, inputs } = this.run;
    const current = meta.get()?.status;
    if (current && isEnded(current)) {
      if (current === status) return { ok: true, lastEventId: this.run.log.lastId() };
      return fail(409, "run_ended", `the run already ended as ${current}`);
    }
    const final = statusEntry({ status, ...(reason !== undefined && { reason }) });
    const batch = this.run.write(
      runId,
      (now) => {
        const queued = inputs.undeliver(now);
        return queued.length === 0 ? [final] : [undeliveredEntry(queued, RUN_ENDED_REASON), final];
      },
      { alongside: (_, now) => meta.end(status, reason, now) },
    );
    inputs.wake(); // waiting long-polls answer `ended`
    logLine({ type: "run", event: "ended", runId, status, ...(reason !== undefined && { reason }) });
    return { ok: true, lastEventId: batch.at(-1)!.id };
  }

  /** A runner request arrived (or a long-poll returned): records it, and brings a stalled run back. */
  heard(how: Heard): void {
    const { meta } = this.run;
    const row = meta.get();
    if (!row || isEnded(row.status)) return;
    const now = Date.now();
    const shows = how === "poll" || how === "heartbeat";
    if (row.status === "stalled") {
      this.run.write(row.runId, [statusEntry({ status: "running", reason: RUNNER_BACK })], { alongside: (_, at) => meta.resume(at) });
      logLine({ type: "run", event: "runner_back", runId: row.runId });
    } else if (shows || (how === "request" && row.lastSeen !== null)) {
      // `last_seen` is written at most every quarter lease: a long-poll arrives and returns every few
      // seconds, and a row each time would cost more than the log it serves. It then lags by under a
      // quarter lease, while a live runner calls in at least every third of one (the poll's cap), so a
      // run is never stalled under a live runner.
      const fresh = row.lastSeen !== null && now - row.lastSeen < (this.run.limits().runnerLeaseSeconds * 1000) / 4;
      if (!fresh) meta.seen(now, shows);
    }
    if (shows || row.lastSeen !== null) this.run.alarm.by(now + this.run.limits().runnerLeaseSeconds * 1000);
  }

  /** In the alarm: stalls a running run whose runner is silent past its lease; fails one stalled too long. */
  check(now: number): void {
    const row = this.run.meta.get();
    const due = row && this.deadline(row);
    if (!row || due === null || due === undefined || now < due) return;
    const { runnerLeaseSeconds } = this.run.limits();
    if (row.status === "running") {
      const reason = `no runner heard from for ${runnerLeaseSeconds} s`;
      this.run.write(row.runId, [statusEntry({ status: "stalled", reason })], { alongside: (_, at) => this.run.meta.stall(reason, at) });
      logLine({ type: "run", event: "stalled", runId: row.runId });
    } else if (row.status === "stalled") {
      this.end(row.runId, "failed", RUNNER_LOST);
    }
  }

  /** When liveness next needs the alarm: the lease's end while running, the stall's limit while stalled. */
  deadline(row: Meta): number | null {
    const l = this.run.limits();
    if (row.status === "running" && row.lastSeen !== null) return row.lastSeen + l.runnerLeaseSeconds * 1000;
    if (row.status === "stalled" && row.stalledAt !== null) return row.stalledAt + l.stalledFailAfterSeconds * 1000;
    return null;
  }
}
