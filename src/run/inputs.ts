/**
 * The input queue: messages and interrupts from participants, waiting for the
 * runner. Ids are dense per run. `GET /inputs?after=K` acknowledges every
 * input up to K (they become delivered), so delivery is at-least-once: a
 * runner that restarts with an older K gets the unacknowledged ones again.
 * An input leaves the queue undelivered when the run ends or the runner says
 * so. Long-polls wait here, woken by a new input or the end of the run.
 */
import type { InputKind, InputText, UserMessage } from "../protocol/index.ts";
import { addColumns } from "./columns.ts";

/** Still queued: neither delivered nor given up. */
const QUEUED = "delivered_at IS NULL AND undelivered_at IS NULL";

export class InputQueue {
  readonly #waiters = new Set<() => void>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS inputs (
      id              INTEGER PRIMARY KEY,
      kind            TEXT    NOT NULL,
      message         TEXT,
      uuid            TEXT,
      client_id       TEXT,
      idempotency_key TEXT    UNIQUE,
      event_id        INTEGER NOT NULL,
      created_at      INTEGER NOT NULL,
      delivered_at    INTEGER,
      undelivered_at  INTEGER
    )`);
    addColumns(sql, "inputs", { undelivered_at: "INTEGER", uuid: "TEXT" });
    sql.exec("CREATE INDEX IF NOT EXISTS inputs_pending ON inputs (id) WHERE delivered_at IS NULL");
  }

  lastId(): number {
    return this.sql.exec<{ id: number }>("SELECT id FROM inputs ORDER BY id DESC LIMIT 1").toArray()[0]?.id ?? 0;
  }

  /** The input an idempotency key already made, if any. */
  byKey(key: string): { id: number; eventId: number } | null {
    const row = this.sql
      .exec<{ id: number; eventId: number }>("SELECT id, event_id AS eventId FROM inputs WHERE idempotency_key = ?", key)
      .toArray()[0];
    return row ?? null;
  }

  /** Inputs still queued: not yet acknowledged by a runner, nor undelivered. */
  pending(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM inputs WHERE ${QUEUED}`).one().n;
  }

  /** Queues an input logged as entry `eventId`; `message` holds a control input's payload. Call inside a transaction. */
  add(
    input: { id: number; kind: InputKind; message?: UserMessage; payload?: object; uuid?: string; clientId?: string },
    eventId: number,
    key: string | undefined,
    now: number,
  ): void {
    const body = input.message ?? input.payload;
    this.sql.exec(
      "INSERT INTO inputs (id, kind, message, uuid, client_id, idempotency_key, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      input.id,
      input.kind,
      body ? JSON.stringify(body) : null,
      input.uuid ?? null,
      input.clientId ?? null,
      key ?? null,
      eventId,
      now,
    );
  }

  /** Marks every queued input up to `upTo` delivered; returns their ids. Call inside a transaction. */
  acknowledge(upTo: number, now: number): number[] {
    return ids(this.sql.exec<{ id: number }>(`UPDATE inputs SET delivered_at = ? WHERE id <= ? AND ${QUEUED} RETURNING id`, now, upTo));
  }

  /**
   * Takes inputs out of the queue undelivered: those of `only` that are still
   * queued, or every queued one; returns their ids. Call inside a transaction.
   */
  undeliver(now: number, only?: readonly number[]): number[] {
    return ids(
      only === undefined
        ? this.sql.exec<{ id: number }>(`UPDATE inputs SET undelivered_at = ? WHERE ${QUEUED} RETURNING id`, now)
        : this.sql.exec<{ id: number }>(
            `UPDATE inputs SET undelivered_at = ? WHERE ${QUEUED} AND id IN (SELECT value FROM json_each(?)) RETURNING id`,
            now,
            JSON.stringify(only),
          ),
    );
  }

  /**
   * Queued inputs after `after`, oldest first, each message as the JSON text
   * it was stored as: the Worker joins them into its reply without parsing.
   */
  after(after: number, limit: number): InputText[] {
    return this.sql
      .exec<Record<keyof InputText, never>>(
        `SELECT id, kind, message, uuid, client_id AS clientId, created_at AS createdAt, event_id AS eventId
         FROM inputs WHERE id > ? AND ${QUEUED} ORDER BY id LIMIT ?`,
        after,
        limit,
      )
      .toArray() as InputText[];
  }

  /** Resolves on the next `wake()` or after `ms`, whichever is first; its timer is always cleared. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  /** Long-polls waiting now: runners connected to this run. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Wakes every waiting long-poll (a new input, or the run ended). */
  wake(): void {
    for (const done of [...this.#waiters]) done();
  }
}

const ids = (rows: SqlStorageCursor<{ id: number }>): number[] => rows.toArray().map((r) => r.id).sort((a, b) => a - b);
