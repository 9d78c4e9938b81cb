/**
 * Replay frames read from the log (the `events` table of log.ts). For SSE and
 * WebSocket viewers SQLite builds a frame's text itself, with the same framing
 * as src/protocol/framing.ts (sseEvents, wsEvents; test/worker/flow.test.ts
 * holds them equal): one string per frame instead of an object per row, which
 * makes a catch-up about twice as fast. An SSE frame goes to the Worker's
 * bridge as its UTF-8 bytes, which the bridge copies to the response as they
 * are: no decoding here, no encoding there. The remote-session framing needs
 * more than string joins, so its frames are built from the rows (fanout.ts).
 *
 * The rows are concatenated in the order SQLite visits them: a range of the
 * table's rowid (`id`), which it walks in ascending order (the table has no
 * other index to take instead); test/worker/flow.test.ts checks the order.
 *
 * Ids are dense, so the rows of a frame are a range of ids; its size is
 * checked first on the rows' headers (`octet_length` does not read the data),
 * so a frame holds at most `maxChars` (UTF-8 bytes, which are never fewer
 * than the text's characters), or a single larger entry.
 */
import { pageFrames } from "./fanout.ts";
import type { Frame } from "./flow.ts";
import { FRAMED_OVERHEAD, type EventLog } from "./log.ts";
import type { Transport } from "./subscribe.ts";

/** What framing adds to an entry's data at most (log.ts). */
const OVERHEAD = FRAMED_OVERHEAD;
/** Rows in one frame at most. */
const MAX_ROWS = 20_000;

/**
 * framing.ts `sseEvents`, one entry without its closing blank line (the
 * separator puts it back): concatenation, which SQLite does about half again
 * as fast as `format()`. The newlines are in the SQL's string literals.
 */
const SSE_ENTRY = `'id: ' || id || CASE type WHEN 'sdk' THEN '\ndata: ' ELSE '\nevent: ' || type || '\ndata: ' END || data`;
/** framing.ts `entryJson`. */
const WS_ENTRY = `'{"id":' || id || ',"ts":' || ts || ',"type":"' || type || '","data":' || data || '}'`;

/** An SSE frame as its UTF-8 bytes: the Worker's bridge copies them to the response as they are. */
const SSE_FRAME = `SELECT CAST(group_concat(${SSE_ENTRY}, '\n\n') || '\n\n' AS BLOB) AS bytes FROM events WHERE id > ?1 AND id <= ?2`;
/** A WebSocket `events` frame (framing.ts `wsEvents`), as text: a viewer takes text frames. */
const WS_FRAME = `SELECT '{"type":"events","events":[' || group_concat(${WS_ENTRY}, ',') || ']}' AS text FROM events WHERE id > ?1 AND id <= ?2`;

export class Pages {
  /** A row's framed size on average, as last measured: how many rows the next frame starts from. */
  #rowBytes = 512;

  constructor(
    private readonly sql: SqlStorage,
    private readonly log: EventLog,
  ) {}

  /** The next frame after `after`, up to `upTo` (default: the log's end), of at most `maxChars` (or one larger entry); null when there is nothing there. */
  frame(transport: Transport, after: number, maxChars: number, runId: string, upTo = this.log.lastId()): Frame | null {
    const range = after < upTo ? this.#rangeAfter(after, maxChars, upTo) : null;
    if (!range) return null;
    const [from, last] = range;
    if (transport === "session") return pageFrames(transport, this.log.read(from, last - from), Number.MAX_SAFE_INTEGER, runId)[0]!;
    if (transport === "sse") return { text: this.sql.exec<{ bytes: ArrayBuffer }>(SSE_FRAME, from, last).one().bytes, last };
    return { text: this.sql.exec<{ text: string }>(WS_FRAME, from, last).one().text, last };
  }

  /** The ids of the next frame, (from, last] with last ≤ `upTo`: as many rows as fit in `maxChars` (at least one); null if there are none. */
  #rangeAfter(after: number, maxChars: number, upTo: number): [number, number] | null {
    return this.#rangeByUpto(after, maxChars, upTo) ?? this.#rangeByScan(after, maxChars, upTo);
  }

  /**
   * The range from the rows' `upto` (log.ts): where the frame starts (the
   * next row's `upto`, less its own size), then rows read by id, guessing the
   * frame's end from the last row size seen: a frame that fits and is at
   * least three quarters full is taken (mostly at the first guess), one too
   * large is guessed again smaller. Undefined when the rows do not have it
   * (stored by an older relay), or the row after `after` is not there (the
   * end, or before the start of a shard's copy).
   */
  #rangeByUpto(after: number, maxChars: number, upTo: number): [number, number] | undefined {
    const uptoOf = (id: number) => this.sql.exec<{ upto: number | null }>("SELECT upto FROM events WHERE id = ?", id).toArray()[0]?.upto ?? null;
    const first = this.sql.exec<{ at: number | null }>(`SELECT upto - octet_length(data) - ${FRAMED_OVERHEAD} AS at FROM events WHERE id = ?`, after + 1);
    const start = first.toArray()[0]?.at ?? null;
    if (start === null) return undefined;
    const most = Math.min(upTo, after + MAX_ROWS) - after; // rows there are to take
    let fits = 0; // rows known to fit (0: none yet)
    let k = Math.max(1, Math.min(most, Math.floor(maxChars / this.#rowBytes)));
    for (let probes = 0; probes < 8; probes++) {
      const upto = uptoOf(after + k);
      if (upto === null) return undefined;
      const size = upto - start;
      this.#rowBytes = Math.max(1, size / k);
      if (size <= maxChars) {
        fits = k;
        if (k === most || size >= maxChars * 0.75) break;
      } else if (k === 1) {
        return [after, after + 1]; // one entry larger than maxChars goes alone
      }
      const next = Math.max(1, Math.min(most, Math.floor(((k * maxChars) / size) * 0.98)));
      if (next === k || next <= fits) break;
      k = next;
    }
    return [after, after + Math.max(1, fits)];
  }

  /** The range from the rows' sizes, summed by SQLite over a guessed number of rows, guessed again until it fits. */
  #rangeByScan(after: number, maxChars: number, upTo: number): [number, number] | null {
    let k = Math.max(1, Math.min(MAX_ROWS, Math.floor(maxChars / this.#rowBytes)));
    for (let from = after; from < upTo; ) {
      const { rows, bytes, last } = this.sql
        .exec<{ rows: number; bytes: number | null; last: number | null }>(
          "SELECT count(*) AS rows, sum(octet_length(data)) AS bytes, max(id) AS last FROM events WHERE id > ?1 AND id <= ?2",
          from,
          Math.min(from + k, upTo),
        )
        .one();
      if (rows === 0 || last === null) {
        // Ids are dense: nothing here is the end of the log (unless this is a copy that starts later, shard.ts).
        const next = this.sql.exec<{ id: number | null }>("SELECT min(id) AS id FROM events WHERE id > ?1 AND id <= ?2", from, upTo).one().id;
        if (next === null) return null;
        from = next - 1;
        continue;
      }
      const size = (bytes ?? 0) + rows * OVERHEAD;
      this.#rowBytes = Math.max(1, size / rows);
      if (size <= maxChars || rows === 1) return [from, last];
      k = Math.max(1, Math.floor(((rows * maxChars) / size) * 0.9));
    }
    return null;
  }
}
