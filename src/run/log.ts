/**
 * The event log: a run's ordered entries in the object's SQLite storage.
 * Ids are dense (1, 2, 3 …) and assigned here. `data` is kept as JSON text so
 * that frames are built by joining strings, never by re-serialising.
 */
import type { EntryText, Producer } from "../protocol/index.ts";
import { addColumns } from "./columns.ts";
import type { LiveBatch } from "./drafts.ts";
import { Remembered } from "./remembered.ts";

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
  /** The idempotent producer whose batch this is (producers.ts): its seq is stored with the batch. */
  producer?: Producer;
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

/** What framing adds to an entry's data at most (the WebSocket form, with a 13-digit ts and a large id). */
export const FRAMED_OVERHEAD = 64;

/**
 * `upto`: every entry's size up to this one (its data's UTF-8 bytes, plus
 * FRAMED_OVERHEAD each), counted from the first row stored with it (rows of
 * an older relay have none). The size of a range of entries is then the
 * difference of two rows' `upto`, each read by id: a catch-up finds where a
 * frame ends without reading the rows in between (pages.ts). It is a column
 * of the row, not an index: an index would double the rows a write is billed
 * for. An insert's first id is `?1`; the row before it gives the count.
 */
const UPTO_BEFORE = "coalesce((SELECT upto FROM events WHERE id = ?1 - 1), 0)";

/**
 * A batch is inserted by one statement (SQLite in a Durable Object binds at
 * most 100 parameters, so a batch's values cannot all be bound): the entries'
 * data go as one JSON array, which `json_each` turns back into rows, each
 * `value` the data's exact text. A row is bound as it is when it is alone or
 * large, and the array is cut so no bound value nears the 2 MB that a string
 * may be in Durable Object SQLite (a line is at most 1 MiB; escaping can
 * double a character, UTF-8 triple one).
 */
const INSERT_ONE = `INSERT INTO events (id, ts, type, data, upto) VALUES (?1, ?2, ?3, ?4, ${UPTO_BEFORE} + octet_length(?4) + ${FRAMED_OVERHEAD})`;
const INSERT_SAME_TYPE = `INSERT INTO events (id, ts, type, data, upto)
  SELECT ?1 + key, ?2, ?3, value, ${UPTO_BEFORE} + sum(octet_length(value) + ${FRAMED_OVERHEAD}) OVER (ORDER BY key) FROM json_each(?4)`;
const INSERT_ROWS = `INSERT INTO events (id, ts, type, data, upto)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ${UPTO_BEFORE} + sum(octet_length(value ->> 3) + ${FRAMED_OVERHEAD}) OVER (ORDER BY key) FROM json_each(?2)`;
/** Characters of data per JSON array at most; an entry with more than a quarter of that goes alone. */
const ARRAY_CHARS = 256 * 1024;

export class EventLog {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      id   INTEGER PRIMARY KEY,
      ts   INTEGER NOT NULL,
      type TEXT    NOT NULL,
      data TEXT    NOT NULL,
      upto INTEGER
    )`);
    addColumns(sql, "events", { upto: "INTEGER" });
  }

  /** The newest id: every append, ack and catch-up round asks; an insert forgets it (remembered.ts). */
  readonly #lastId = new Remembered(
    () => this.sql.exec<{ id: number }>("SELECT id FROM events ORDER BY id DESC LIMIT 1").toArray()[0]?.id ?? 0,
  );

  /** The id of the newest entry; 0 while the log is empty. */
  lastId(): number {
    return this.#lastId.get();
  }

  /** Appends entries after the current last id. Call inside a transaction. */
  append(entries: readonly NewEntry[], ts: number): StoredEntry[] {
    if (entries.length === 0) return [];
    const first = this.lastId() + 1;
    const rows = entries.map((e, i): StoredEntry => ({ id: first + i, ts, type: e.type, data: e.data }));
    this.insert(rows);
    return rows;
  }

  /** Stores entries that already have their ids, in as few statements as their size allows. Call inside a transaction. */
  insert(rows: readonly StoredEntry[]): void {
    this.#lastId.forget();
    for (let from = 0; from < rows.length; ) {
      let to = from + 1;
      if (rows[from]!.data.length <= ARRAY_CHARS / 4) {
        for (let chars = rows[from]!.data.length; to < rows.length; to++) {
          const size = rows[to]!.data.length;
          if (size > ARRAY_CHARS / 4 || chars + size > ARRAY_CHARS) break;
          chars += size;
        }
      }
      this.#insertSome(rows.slice(from, to));
      from = to;
    }
  }

  /** One INSERT: a batch's rows (consecutive ids, one time, one type) as their data only; others whole. */
  #insertSome(rows: readonly StoredEntry[]): void {
    const { id, ts, type, data } = rows[0]!;
    if (rows.length === 1) this.sql.exec(INSERT_ONE, id, ts, type, data);
    else if (rows.every((r, i) => r.id === id + i && r.ts === ts && r.type === type)) {
      this.sql.exec(INSERT_SAME_TYPE, id, ts, type, JSON.stringify(rows.map((r) => r.data)));
    } else this.sql.exec(INSERT_ROWS, id, JSON.stringify(rows.map((r) => [r.id, r.ts, r.type, r.data])));
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
