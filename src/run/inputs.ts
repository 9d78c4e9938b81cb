/**
 * The input queue: messages and interrupts from participants, waiting for the
 * runner. Ids are dense per run. `GET /inputs?after=K` acknowledges every
 * input up to K (they become delivered), so delivery is at-least-once: a
 * runner that restarts with an older K gets the unacknowledged ones again.
 * Long-polls wait here, woken by a new input or the end of the run.
 */
import type { Input, InputKind, UserMessage } from "../protocol/index.ts";

interface InputRow {
  id: number;
  kind: InputKind;
  message: string | null;
  clientId: string | null;
  createdAt: number;
  eventId: number;
}

export class InputQueue {
  readonly #waiters = new Set<() => void>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS inputs (
      id              INTEGER PRIMARY KEY,
      kind            TEXT    NOT NULL,
      message         TEXT,
      client_id       TEXT,
      idempotency_key TEXT    UNIQUE,
      event_id        INTEGER NOT NULL,
      created_at      INTEGER NOT NULL,
      delivered_at    INTEGER
    )`);
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

  /** Inputs not yet acknowledged by a runner. */
  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inputs WHERE delivered_at IS NULL").one().n;
  }

  /** Queues an input logged as entry `eventId`. Call inside a transaction. */
  add(
    input: { id: number; kind: InputKind; message?: UserMessage; clientId?: string },
    eventId: number,
    key: string | undefined,
    now: number,
  ): void {
    this.sql.exec(
      "INSERT INTO inputs (id, kind, message, client_id, idempotency_key, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      input.id,
      input.kind,
      input.message ? JSON.stringify(input.message) : null,
      input.clientId ?? null,
      key ?? null,
      eventId,
      now,
    );
  }

  /** Marks every input up to `upTo` delivered; returns the ids that were not yet. Call inside a transaction. */
  acknowledge(upTo: number, now: number): number[] {
    return this.sql
      .exec<{ id: number }>("UPDATE inputs SET delivered_at = ? WHERE id <= ? AND delivered_at IS NULL RETURNING id", now, upTo)
      .toArray()
      .map((r) => r.id)
      .sort((a, b) => a - b);
  }

  /** Inputs after `after` that no runner has acknowledged, oldest first. */
  after(after: number, limit: number): Input[] {
    return this.sql
      .exec<Record<keyof InputRow, never>>(
        `SELECT id, kind, message, client_id AS clientId, created_at AS createdAt, event_id AS eventId
         FROM inputs WHERE id > ? AND delivered_at IS NULL ORDER BY id LIMIT ?`,
        after,
        limit,
      )
      .toArray()
      .map((row) => {
        const r = row as InputRow;
        return {
          id: r.id,
          kind: r.kind,
          ...(r.message !== null && { message: JSON.parse(r.message) as UserMessage }),
          ...(r.clientId !== null && { clientId: r.clientId }),
          createdAt: r.createdAt,
          eventId: r.eventId,
        };
      });
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
