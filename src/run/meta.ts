/**
 * Run metadata and lifecycle: one row, created by the first write. A run is
 * `running` from then until `POST /complete` ends it; in between it is
 * `stalled` while no runner has been heard from for its lease (liveness.ts).
 */
import type { FinalStatus, RunStatus } from "../protocol/index.ts";
import { addColumns } from "./columns.ts";
import { Remembered } from "./remembered.ts";

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
  /** The producer that wrote last, with its epoch and seq, kept in this row (producers.ts); null before any. */
  producer: ProducerState | null;
}

/** An idempotent producer's epoch and highest seq (-1: claimed, nothing sent yet). */
export interface ProducerState {
  id: string;
  epoch: number;
  seq: number;
}

export const isEnded = (status: RunStatus): status is FinalStatus =>
  status === "completed" || status === "failed" || status === "cancelled";

export class RunMeta {
  /**
   * The tombstone's time, read once: every request asks, and only `bury`
   * writes it (a deletion wipes the storage and opens a new RunMeta).
   */
  #deletedAt: number | null | undefined;

  /** The row as stored: every request reads it, often more than once; the writes below forget it (remembered.ts). */
  readonly #row = new Remembered((): Meta | null => {
    const row = this.sql
      .exec<Record<string, never>>(
        `SELECT run_id AS runId, status, reason, created_at AS createdAt, updated_at AS updatedAt, bytes,
                last_seen AS lastSeen, stalled_at AS stalledAt, rows_written AS rowsWritten,
                producer_id AS producerId, producer_epoch AS producerEpoch, producer_seq AS producerSeq FROM run`,
      )
      .toArray()[0] as (Omit<Meta, "producer"> & { producerId: string | null; producerEpoch: number; producerSeq: number }) | undefined;
    if (!row) return null;
    const { producerId, producerEpoch, producerSeq, ...meta } = row;
    return Object.freeze({ ...meta, producer: producerId === null ? null : Object.freeze({ id: producerId, epoch: producerEpoch, seq: producerSeq }) });
  });

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
    addColumns(sql, "run", {
      last_seen: "INTEGER",
      stalled_at: "INTEGER",
      rows_written: "INTEGER NOT NULL DEFAULT 0",
      draft: "TEXT",
      producer_id: "TEXT",
      producer_epoch: "INTEGER",
      producer_seq: "INTEGER",
    });
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
    return this.#row.get();
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
   * drafts to store (drafts.ts; undefined leaves them as they are);
   * `producer`: the producer whose batch this is, now at this epoch and seq
   * (producers.ts; undefined leaves the row's as it is). One statement, one
   * row. Call inside a transaction.
   */
  touch(runId: string, now: number, bytesAdded: number, opts: { runner?: boolean; rows?: number; draft?: string | null; producer?: ProducerState } = {}): void {
    const { draft, producer } = opts;
    this.#row.forget();
    this.sql.exec(
      `INSERT INTO run (one, run_id, status, created_at, updated_at, bytes, rows_written, draft, producer_id, producer_epoch, producer_seq)
         VALUES (1, ?1, 'running', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
       ON CONFLICT (one) DO UPDATE SET updated_at = excluded.updated_at, bytes = bytes + excluded.bytes,
         rows_written = rows_written + excluded.rows_written,
         draft = CASE WHEN ?9 THEN excluded.draft ELSE draft END,
         last_seen = CASE WHEN ?10 AND last_seen IS NOT NULL THEN excluded.updated_at ELSE last_seen END,
         producer_id = coalesce(excluded.producer_id, producer_id),
         producer_epoch = CASE WHEN excluded.producer_id IS NULL THEN producer_epoch ELSE excluded.producer_epoch END,
         producer_seq = CASE WHEN excluded.producer_id IS NULL THEN producer_seq ELSE excluded.producer_seq END`,
      runId,
      now,
      bytesAdded,
      opts.rows ?? 0,
      draft ?? null,
      producer?.id ?? null,
      producer?.epoch ?? null,
      producer?.seq ?? null,
      draft === undefined ? 0 : 1,
      opts.runner ? 1 : 0,
    );
  }

  /** Fences the epoch of the producer this row holds, if it is `id`: the next epoch, nothing sent yet. Its new epoch, or null if the row holds another. */
  fenceProducer(id: string): number | null {
    this.#row.forget();
    const row = this.sql
      .exec<{ epoch: number }>("UPDATE run SET producer_epoch = producer_epoch + 1, producer_seq = -1 WHERE producer_id = ? RETURNING producer_epoch AS epoch", id)
      .toArray()[0];
    return row?.epoch ?? null;
  }

  /** A runner was heard from; `shows`: by a long-poll or heartbeat, which starts its lease. */
  seen(now: number, shows: boolean): void {
    this.#row.forget();
    this.sql.exec(`UPDATE run SET last_seen = ? WHERE ? OR last_seen IS NOT NULL`, now, shows ? 1 : 0);
  }

  /** No runner heard from for the lease. Call inside a transaction, after `touch`. */
  stall(reason: string, now: number): void {
    this.#row.forget();
    this.sql.exec("UPDATE run SET status = 'stalled', reason = ?, stalled_at = ? WHERE status = 'running'", reason, now);
  }

  /** A runner is back. Call inside a transaction, after `touch`. */
  resume(now: number): void {
    this.#row.forget();
    this.sql.exec("UPDATE run SET status = 'running', reason = NULL, stalled_at = NULL, last_seen = ? WHERE status = 'stalled'", now);
  }

  /** Records the final status. Call inside a transaction, after `touch`. */
  end(status: FinalStatus, reason: string | undefined, now: number): void {
    this.#row.forget();
    this.sql.exec("UPDATE run SET status = ?, reason = ?, updated_at = ?, stalled_at = NULL", status, reason ?? null, now);
  }
}
