/**
 * The SQLite rows a run's object writes (`GET /`'s `rowsWritten`): every
 * statement goes through a counting view of `ctx.storage.sql`, and what it
 * counted is added to the run's row by the next `touch` (the statement that
 * writes the count is counted as the one row it writes). So the count costs
 * no extra row; writes after the last touch (a long-poll's `last_seen`, a
 * claim) are stored with the next one, and reported from memory meanwhile.
 */
export class RowCounter {
  #cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  /** Rows already counted ahead (the touch that stores the count). */
  #credit = 0;
  readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    const cursors = this.#cursors;
    const exec = (query: string, ...bindings: SqlStorageValue[]) => {
      const cursor = sql.exec(query, ...bindings);
      if (!/^\s*SELECT/i.test(query)) cursors.push(cursor); // reads write nothing: not kept
      return cursor;
    };
    this.sql = new Proxy(sql, {
      get(target, prop) {
        if (prop === "exec") return exec;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** Rows written since the last `take`, not yet stored. */
  peek(): number {
    let n = -this.#credit;
    for (const c of this.#cursors) n += c.rowsWritten;
    return n;
  }

  /** Rows written since the last `take`, plus `ahead` for statements about to run (counted once). */
  take(ahead = 0): number {
    const n = this.peek();
    this.#cursors.length = 0;
    this.#credit = ahead;
    return n + ahead;
  }
}
