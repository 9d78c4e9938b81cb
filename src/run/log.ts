/**
 * The event log: a run's ordered entries in the object's SQLite storage.
 * Ids are dense (1, 2, 3 …) and assigned here. `data` is kept as JSON text so
 * that frames are built by joining strings, never by re-serialising.
 */
import type { EntryText } from "../protocol/index.ts";
import type { LiveBatch } from "./drafts.ts";

/** An entry as stored: `data` is JSON text, kept as received. */
export type StoredEntry = EntryText;

/** An entry to append: its type and the JSON text of its data. */
export type NewEntry = Pick<EntryText, "type" | "data">;

export interface WriteOptions {
  /** The bytes to count in the run's total (default: the entries' UTF-8 length). */
  bytes?: number;
  /** What else to record in the same transaction, given the first new id. */
  alongside?: (firstId: number, now: number) => void;
  /** A runner's write: it counts as hearing from the runner (liveness.ts). */
  runner?: boolean;
  /**
   * The batch's live part (drafts.ts): its deltas are fanned out in order with
   * the entries and folded into the drafts, which are stored with the batch.
   * With it, a batch of deltas only is written too (its producer, its draft).
   */
  live?: LiveBatch;
}

/**
 * The run object's one write: entries (or a function that makes them inside
 * the transaction, where it may change other tables) and what `alongside`
 * records, in one transaction; then the fan-out. No entries: nothing is written.
 */
export type Write = (runId: string, entries: readonly NewEntry[] | ((now: number) => NewEntry[]), opts?: WriteOptions) => StoredEntry[];

/** Data read into one page at most (about 4 MiB of text), before the row that passes it. */
export const PAGE_CHARS = 4 * 1024 * 1024;

/** Rows per INSERT: 4 bound values each, under SQLite's 100 parameters per statement. */
const ROWS_PER_INSERT = 24;

export class EventLog {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      id   INTEGER PRIMARY KEY,
      ts   INTEGER NOT NULL,
      type TEXT    NOT NULL,
      data TEXT    NOT NULL
    )`);
  }

  /** The id of the newest entry; 0 while the log is empty. */
  lastId(): number {
    return this.sql.exec<{ id: number }>("SELECT id FROM events ORDER BY id DESC LIMIT 1").toArray()[0]?.id ?? 0;
  }

  /** Appends entries after the current last id. Call inside a transaction. */
  append(entries: readonly NewEntry[], ts: number): StoredEntry[] {
    const first = this.lastId() + 1;
    const rows = entries.map((e, i): StoredEntry => ({ id: first + i, ts, type: e.type, data: e.data }));
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + ROWS_PER_INSERT);
      this.sql.exec(
        `INSERT INTO events (id, ts, type, data) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`,
        ...chunk.flatMap((r) => [r.id, r.ts, r.type, r.data]),
      );
    }
    return rows;
  }

  /**
   * Entries with id > `after`, oldest first: at most `limit` of them, and no
   * more once `maxChars` of data has been read (always at least one), so a page
   * of large lines stays within RPC and WebSocket message limits.
   */
  read(after: number, limit: number, maxChars = PAGE_CHARS): StoredEntry[] {
    const page: StoredEntry[] = [];
    let chars = 0;
    const rows = this.sql.exec<Record<keyof StoredEntry, never>>(
      "SELECT id, ts, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
      after,
      limit,
    );
    for (const row of rows) {
      const entry = row as StoredEntry;
      page.push(entry);
      chars += entry.data.length;
      if (chars >= maxChars) break;
    }
    return page;
  }
}
