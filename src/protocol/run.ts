/** The run and its log: ids, cursors, entries, statuses, the producer triple and the replies that carry them. */
import { z } from "zod";

/** A run id: 1–128 characters of `[A-Za-z0-9._-]`. */
export const RunId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, "a run id is 1–128 characters of A–Z, a–z, 0–9, '.', '_' or '-'")
  .meta({ id: "RunId", description: "A run id: 1–128 characters of `[A-Za-z0-9._-]`." });

/**
 * An event id used as a cursor: "give me what comes after this id". `0` means
 * from the start. Zero-padded forms are accepted so that string-sortable
 * offsets (Durable Streams style) work too.
 */
export const EventId = z
  .string()
  .regex(/^\d{1,16}$/, "a cursor is a non-negative integer event id")
  .transform(Number)
  .refine(Number.isSafeInteger, "a cursor must be at most 2^53-1");

/** A cursor as a client may send it: an event id, or `live` (only what comes next). */
export const Cursor = z.union([z.literal("live"), EventId]);
export type Cursor = z.infer<typeof Cursor>;

export const EntryType = z.enum(["sdk", "input", "status"]).meta({
  id: "EntryType",
  description: "`sdk`: a stream-json line from the runner; `input`: the input queue moved; `status`: the run stalled, came back or ended.",
});
export type EntryType = z.infer<typeof EntryType>;

/** `pending`: nothing has been written to the run yet; `stalled`: no runner heard from for its lease. */
export const RunStatus = z.enum(["pending", "running", "stalled", "completed", "failed", "cancelled"]).meta({
  id: "RunStatus",
  description: "`pending` until the first write, `running`, `stalled` while no runner has been heard from for `RUNNER_LEASE_SECONDS`, then a final status.",
});
export type RunStatus = z.infer<typeof RunStatus>;

export const FinalStatus = z.enum(["completed", "failed", "cancelled"]).meta({ id: "FinalStatus", description: "How a run ended." });
export type FinalStatus = z.infer<typeof FinalStatus>;

/** One entry of a run's log. For `sdk` entries `data` is the stream-json line. */
export const Entry = z
  .object({
    id: z.number().int().positive().meta({ description: "1, 2, 3 …: dense, the cursor readers resume from." }),
    ts: z.number().int().meta({ description: "When the relay stored it (ms since the epoch)." }),
    type: EntryType,
    data: z.record(z.string(), z.unknown()).meta({
      description: "`sdk`: the stream-json object as received; `input`: an `InputEntryData`; `status`: a `StatusData`.",
    }),
  })
  .meta({ id: "Entry", description: "One entry of a run's log." });
export type Entry = z.infer<typeof Entry>;

/** The data of a `status` entry: the run stalled, came back (`running`, reason `runner_back`) or ended. */
export const StatusData = z
  .object({ status: z.enum(["running", "stalled", "completed", "failed", "cancelled"]), reason: z.string().optional() })
  .meta({
    id: "StatusData",
    description: "The data of a `status` entry: the run `stalled` (no runner heard from), is `running` again (`runner_back`), or ended with a final status.",
  });
export type StatusData = z.infer<typeof StatusData>;

/** `POST /complete` body. */
export const CompleteBody = z
  .strictObject({
    status: FinalStatus,
    reason: z.string().max(4096).optional(),
  })
  .meta({ id: "CompleteBody", description: "`POST /complete` body: the run's final status." });
export type CompleteBody = z.infer<typeof CompleteBody>;

/** The idempotent-producer triple (headers in `ProducerHeaders`): seq numbers batches from 0 in each epoch. */
const ProducerNumber = z
  .string()
  .regex(/^(0|[1-9]\d{0,15})$/, "must be a non-negative integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "must be at most 2^53-1");
export const Producer = z.object({
  id: z.string().min(1, "must not be empty").max(256),
  epoch: ProducerNumber,
  seq: ProducerNumber,
});
export type Producer = z.infer<typeof Producer>;

/** `POST /producers/:producerId/claim` reply: the producer's new epoch; its next batch is seq 0 at that epoch. */
export const ClaimReply = z
  .object({ producerId: Producer.shape.id, epoch: z.number().int().nonnegative() })
  .meta({ id: "ClaimReply", description: "`POST /producers/{producerId}/claim` reply: the new epoch; the next batch at it is `Producer-Seq` 0." });
export type ClaimReply = z.infer<typeof ClaimReply>;

/** `POST /events` reply. */
export const AppendReply = z
  .object({ lastEventId: z.number().int().nonnegative() })
  .meta({ id: "AppendReply", description: "`POST /events` reply: the id of the batch's last entry." });
export type AppendReply = z.infer<typeof AppendReply>;

/** `GET /events` reply. */
export const EventsPage = z
  .object({
    events: z.array(Entry),
    lastEventId: z.number().int().nonnegative().meta({ description: "The id of the log's last entry (not of this page's)." }),
    status: RunStatus,
    ended: z.boolean(),
  })
  .meta({ id: "EventsPage", description: "`GET /events` reply: a page of the log." });
export type EventsPage = z.infer<typeof EventsPage>;

/** `GET /` reply. */
export const RunInfo = z
  .object({
    runId: RunId,
    status: RunStatus,
    reason: z.string().optional(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    lastEventId: z.number().int().nonnegative(),
    events: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative().meta({ description: "The stored line bytes." }),
    /** Connected viewers, and runners waiting in a `GET /inputs` long-poll. */
    clients: z
      .object({ sse: z.number().int(), ws: z.number().int(), session: z.number().int(), runners: z.number().int() })
      .meta({ description: "Connected viewers (`session`: remote-session streams), and runners waiting in a `GET /inputs` long-poll." }),
    /** Inputs queued and not yet acknowledged by a runner. */
    pendingInputs: z.number().int().nonnegative().meta({ description: "Inputs queued and not yet acknowledged by a runner." }),
    /** Each idempotent producer's epoch and highest seq (-1: claimed, nothing sent yet). */
    producers: z
      .record(z.string(), z.object({ epoch: z.number().int().nonnegative(), seq: z.number().int().min(-1) }))
      .meta({ description: "Each idempotent producer's epoch and the highest seq accepted (-1: claimed, nothing sent at that epoch yet)." }),
    rowsWritten: z.number().int().nonnegative().meta({
      description: "SQLite rows the run's object has written (the log, its row, producers, inputs): live deltas cost none; a batch costs its durable lines plus 1 (the run's row, which holds the last producer's seq), plus 1 or 2 when its producer is not the last one.",
    }),
  })
  .meta({ id: "RunInfo", description: "`GET /` reply: the run's status and who is connected." });
export type RunInfo = z.infer<typeof RunInfo>;

/** Every error the relay answers with: `code` is snake_case and stable, `message` a sentence for a person. */
export const ErrorInfo = z
  .object({
    code: z.string().meta({ description: "snake_case and stable, e.g. `run_ended`." }),
    message: z.string().meta({ description: "A sentence for a person." }),
  })
  .meta({ id: "ErrorInfo" });
export type ErrorInfo = z.infer<typeof ErrorInfo>;
export const ErrorBody = z.object({ error: ErrorInfo }).meta({ id: "ErrorBody", description: "Every failure is answered with this shape, and changes nothing." });
export type ErrorBody = z.infer<typeof ErrorBody>;

