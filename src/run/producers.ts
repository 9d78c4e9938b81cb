/**
 * Idempotent producers, exactly as the Durable Streams protocol defines them
 * (docs/protocol.md, "Producers"): `Producer-Seq` numbers batches from 0 in each epoch;
 * a retry is acknowledged without appending; a gap is refused; a stale epoch
 * is fenced. State is committed in the same transaction as the lines. A
 * runner taking over may claim the next epoch before it sends anything: the
 * old epoch is fenced at once, and the new one starts at seq 0 (stored as -1,
 * "nothing sent yet").
 *
 * The producer that wrote last is kept in the run's row, which every write
 * updates anyway (meta.ts, `touch`): a batch from the same producer as the
 * last costs no row of its own. The others are rows of `producers`; when
 * another producer writes, the one the run's row held moves there first.
 * The run's row wins over a row of `producers` for the same id.
 */
import { ProducerHeaders, type Producer } from "../protocol/index.ts";
import type { ProducerState, RunMeta } from "./meta.ts";
import { fail, type Failure } from "./result.ts";

/** `duplicate` is set when the batch was already appended: the producer's current state. */
export type ProducerVerdict = { ok: true; duplicate: { epoch: number; seq: number } | null } | Failure;

const APPEND: ProducerVerdict = { ok: true, duplicate: null };

interface ProducerRow {
  epoch: number;
  seq: number;
}

export class Producers {
  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: Pick<RunMeta, "get" | "fenceProducer">,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS producers (
      id         TEXT    PRIMARY KEY,
      epoch      INTEGER NOT NULL,
      seq        INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
  }

  check(p: Producer): ProducerVerdict {
    const state = this.#state(p.id);
    if (state && p.epoch < state.epoch) return stale(p.id, p.epoch, state.epoch);
    if (!state || p.epoch > state.epoch) {
      if (p.seq !== 0) {
        if (!state) return gap(p, 0);
        return fail(400, "bad_producer_seq", `a new epoch starts at ${ProducerHeaders.seq} 0, not ${p.seq}`);
      }
      return APPEND;
    }
    if (p.seq <= state.seq) return { ok: true, duplicate: { epoch: state.epoch, seq: state.seq } };
    if (p.seq === state.seq + 1) return APPEND;
    return gap(p, state.seq + 1);
  }

  /** A runner that claimed `epoch` of producer `id` and has since been fenced by a newer claim, or null. */
  fenced(id: string, epoch: number): Failure | null {
    const state = this.#state(id);
    return state && epoch < state.epoch ? stale(id, epoch, state.epoch) : null;
  }

  #state(id: string): ProducerRow | undefined {
    const last = this.meta.get()?.producer;
    if (last?.id === id) return last;
    return this.sql.exec<Record<keyof ProducerRow, number>>("SELECT epoch, seq FROM producers WHERE id = ?", id).toArray()[0];
  }

  /** Fences the producer's current epoch: its epoch becomes current + 1 (0 for a new producer), with no seq yet. */
  claim(id: string, now: number): number {
    const fenced = this.meta.fenceProducer(id);
    if (fenced !== null) return fenced;
    return this.sql
      .exec<{ epoch: number }>(
        `INSERT INTO producers (id, epoch, seq, updated_at) VALUES (?, 0, -1, ?)
         ON CONFLICT (id) DO UPDATE SET epoch = epoch + 1, seq = -1, updated_at = excluded.updated_at
         RETURNING epoch`,
        id,
        now,
      )
      .one().epoch;
  }

  /** Every producer's epoch and highest seq (-1: claimed, nothing sent yet). */
  all(): Record<string, ProducerRow> {
    const rows = new Map<string, ProducerRow>();
    for (const row of this.sql.exec<{ id: string; epoch: number; seq: number }>("SELECT id, epoch, seq FROM producers")) {
      rows.set(row.id, { epoch: row.epoch, seq: row.seq });
    }
    const last = this.meta.get()?.producer;
    if (last) rows.set(last.id, { epoch: last.epoch, seq: last.seq });
    return Object.fromEntries([...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * An accepted batch of `p`, about to be stored with the run's row (`touch`,
   * given the state this returns): if the row holds another producer, that
   * one moves to `producers` first. Call inside the append's transaction.
   */
  commit(p: Producer, now: number): ProducerState {
    const last = this.meta.get()?.producer;
    if (last && last.id !== p.id) {
      this.sql.exec(
        `INSERT INTO producers (id, epoch, seq, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq, updated_at = excluded.updated_at`,
        last.id,
        last.epoch,
        last.seq,
        now,
      );
    }
    return { id: p.id, epoch: p.epoch, seq: p.seq };
  }
}

const gap = (p: Producer, expected: number): Failure =>
  fail(409, "producer_seq_gap", `producer ${p.id} sent ${ProducerHeaders.seq} ${p.seq}; the relay expects ${expected}`, {
    [ProducerHeaders.expectedSeq]: String(expected),
    [ProducerHeaders.receivedSeq]: String(p.seq),
  });

const stale = (id: string, epoch: number, current: number): Failure =>
  fail(403, "stale_producer_epoch", `producer ${id} is at epoch ${current}; epoch ${epoch} is fenced`, {
    [ProducerHeaders.epoch]: String(current),
  });
