/**
 * Run metadata and lifecycle: one row, created by the first write. A run is
 * `running` from then until `POST /complete` ends it; in between it is
 * `stalled` while no runner has been heard from for its lease (liveness.ts).
 */
import type { FinalStatus, RunStatus } from "../protocol/index.ts";
import { addColumns } from "./columns.ts";

export interface Meta {
  runId: string;
  status: RunStatus;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  bytes: number;
  /** When a runner was last heard from; null until one shows itself with a long-poll or heartbeat. */
  lastSeen: number | null;
  /** When the run became `stalled` (null unless it is). */
  stalledAt: number | null;
  /** SQLite rows the object has written, as of the last touch (rows.ts). */
  rowsWritten: number;
}

export const isEnded = (status: RunStatus): status is FinalStatus =>
  status === "completed" || status === "failed" || status === "cancelled";

export class RunMeta {
  /**
   * The tombstone's time, read once: every request asks, and only `bury`
   * writes it (a deletion wipes the storage and opens a new RunMeta).
   */
  #deletedAt: number | null | undefined;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS run (
      one        INTEGER PRIMARY KEY CHECK (one = 1),
      run_id     TEXT    NOT NULL,
      status     TEXT    NOT NULL,
      reason     TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      bytes      INTEGER NOT NULL DEFAULT 0,
      last_seen  INTEGER,
      stalled_at INTEGER
    )`);
    addColumns(sql, "run", { last_seen: "INTEGER", stalled_at: "INTEGER", rows_written: "INTEGER NOT NULL DEFAULT 0", draft: "TEXT" });
    sql.exec("CREATE TABLE IF NOT EXISTS tombstone (deleted_at INTEGER NOT NULL)");
  }

  /** When the run was deleted (by DELETE or retention), or null. A deleted run is never recreated. */
  deletedAt(): number | null {
    this.#deletedAt ??= this.sql.exec<{ at: number }>("SELECT deleted_at AS at FROM tombstone").toArray()[0]?.at ?? null;
    return this.#deletedAt;
  }

  /** Marks the run deleted, in storage that has just been wiped. */
  bury(now: number): void {
    this.#deletedAt = undefined;
    this.sql.exec("INSERT INTO tombstone (deleted_at) VALUES (?)", now);
    this.#deletedAt = now;
  }

  /** The run's row, or null if nothing has been written yet. */
  get(): Meta | null {
    const row = this.sql
      .exec<Record<string, never>>(
        `SELECT run_id AS runId, status, reason, created_at AS createdAt, updated_at AS updatedAt, bytes,
                last_seen AS lastSeen, stalled_at AS stalledAt, rows_written AS rowsWritten FROM run`,
      )
      .toArray()[0];
    return (row as Meta | undefined) ?? null;
  }

  /** The in-flight messages' drafts, as stored by the last batch (drafts.ts). */
  draft(): string | null {
    return this.sql.exec<{ draft: string | null }>("SELECT draft FROM run").toArray()[0]?.draft ?? null;
  }

  status(): RunStatus {
    return this.get()?.status ?? "pending";
  }

  /**
   * Creates the row on the first write and records activity. `runner`: a
   * runner's write, which also counts as hearing from it (once one has shown
   * itself). `rows`: rows written to add to the count (rows.ts); `draft`: the
   * drafts to store (drafts.ts; undefined leaves them as they are). One
   * statement, one row. Call inside a transaction.
   */
  touch(runId: string, now: number, bytesAdded: number, runner = false, rows = 0, draft?: string | null): void {
    this.sql.exec(
      `INSERT INTO run (one, run_id, status, created_at, updated_at, bytes, rows_written, draft) VALUES (1, ?, 'running', ?, ?, ?, ?, ?)
       ON CONFLICT (one) DO UPDATE SET updated_at = excluded.updated_at, bytes = bytes + excluded.bytes,
         rows_written = rows_written + excluded.rows_written,
         draft = CASE WHEN ? THEN excluded.draft ELSE draft END,
         last_seen = CASE WHEN ? AND last_seen IS NOT NULL THEN excluded.updated_at ELSE last_seen END`,
      runId,
      now,
      now,
      bytesAdded,
      rows,
      draft ?? null,
      draft === undefined ? 0 : 1,
      runner ? 1 : 0,
    );
  }

  /** A runner was heard from; `shows`: by a long-poll or heartbeat, which starts its lease. */
  seen(now: number, shows: boolean): void {
    this.sql.exec(`UPDATE run SET last_seen = ? WHERE ? OR last_seen IS NOT NULL`, now, shows ? 1 : 0);
  }

  /** No runner heard from for the lease. Call inside a transaction, after `touch`. */
  stall(reason: string, now: number): void {
    this.sql.exec("UPDATE run SET status = 'stalled', reason = ?, stalled_at = ? WHERE status = 'running'", reason, now);
  }

  /** A runner is back. Call inside a transaction, after `touch`. */
  resume(now: number): void {
    this.sql.exec("UPDATE run SET status = 'running', reason = NULL, stalled_at = NULL, last_seen = ? WHERE status = 'stalled'", now);
  }

  /** Records the final status. Call inside a transaction, after `touch`. */
  end(status: FinalStatus, reason: string | undefined, now: number): void {
    this.sql.exec("UPDATE run SET status = ?, reason = ?, updated_at = ?, stalled_at = NULL", status, reason ?? null, now);
  }
}
