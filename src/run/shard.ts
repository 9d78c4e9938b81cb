/**
 * RunFanout: a fan-out shard of a hot run (docs/protocol.md, "Fan-out tier").
 * Past FANOUT_SHARD_SIZE viewers on the run object, new viewers are sent to
 * shards named `runId#k` (shards.ts). A shard holds a copy of the run's log
 * in its own SQLite, with the run's ids, and its viewers through the same
 * `Subscribers` as the run object: the same framing, pacing, acks, drafts,
 * token expiry and cursor hand-off.
 *
 * The run object feeds each shard (`feed`), one call at a time, in order: the
 * batches as it publishes them (entries with their ids, live deltas in place)
 * and the drafts and run state as they stand after them. A shard takes only
 * what starts right after its last id, skips what it has, and stops at a gap
 * (an earlier feed was lost: the shard was evicted, a call failed); it answers
 * its last id, and the run object sends what is missing from its log. Each
 * feed is numbered by its sender, so one sent again is applied once. Like the
 * run object's writes, a feed is stored in one transaction and published with
 * no `await` in between.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CLOSE_RUN_DELETED,
  PING_FRAME,
  PONG_FRAME,
  SESSION_CATCH_UP_TRUNCATED,
  type Draft,
  type FinalStatus,
  type InputAccepted,
  type NewInput,
} from "../protocol/index.ts";
import { AlarmClock } from "./alarm.ts";
import type { Segment } from "./drafts.ts";
import { limits, type LimitVars } from "./limits.ts";
import { EventLog } from "./log.ts";
import { fail, failureResponse, type Result } from "./result.ts";
import { onFrame, type SocketHost } from "./sockets.ts";
import { parseSubscribe } from "./subscribe.ts";
import { Publisher } from "./publisher.ts";
import { Subscribers, type RunState } from "./subscribers.ts";

/** One feed from the run object. */
export interface Feed {
  runId: string;
  /** The sending run object instance, and its count of feeds to this shard. */
  sender: string;
  seq: number;
  /** In order: entries with the run's ids, and deltas after the id they follow. */
  segments: Segment[];
  /** The run's drafts and state as they stand after these segments. */
  drafts: Draft[];
  state: RunState;
  /** The segments come from the run's log, which holds no deltas: the viewers get the drafts again after them. */
  fromLog?: true;
}

export type ShardCounts = { sse: number; ws: number; session: number };

export interface FeedReply {
  /** The shard's last id after the feed. */
  lastId: number;
  counts: ShardCounts;
}

/** Query parameter of a forwarded upgrade: the remote-session client's cursor was past the end (sockets.ts). */
export const TRUNCATED_PARAM = "truncated";
/** The header of the run object's answer that sends a viewer to a shard: the shard's name (the Worker reads it; routes.ts). */
export const SHARD_HEADER = "Runrelay-Shard";
/** …and the upgrade to send it, the cursor resolved (`live` is the run's last id then). */
export const SHARD_URL_HEADER = "Runrelay-Shard-Url";
/** A shard's name: the run's id and its number (1, 2 …). */
export const shardName = (runId: string, k: number) => `${runId}#${k}`;

export interface FanoutEnv extends LimitVars {
  /** The fan-out shards (optional: without it, every viewer stays on the run object; shards.ts). */
  FANOUT?: DurableObjectNamespace<RunFanout>;
}

interface ShardMeta {
  runId: string;
  ended: FinalStatus | null;
  endId: number;
  drafts: Draft[];
  sender: string;
  seq: number;
}

export class RunFanout extends DurableObject<LimitVars> {
  #log!: EventLog;
  #subscribers!: Subscribers;
  #publisher!: Publisher;
  #meta: ShardMeta | null = null;
  readonly #alarm: AlarmClock;
  readonly #sockets: SocketHost = {
    subscribers: () => this.#subscribers,
    gone: () => null,
    state: () => this.#state(),
    limits: () => limits(this.env),
    postInput: (runId, input) => this.#postInput(runId, input),
  };

  constructor(ctx: DurableObjectState, env: LimitVars) {
    super(ctx, env);
    this.#alarm = new AlarmClock(ctx);
    this.#open();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  #open(): void {
    const sql = this.ctx.storage.sql;
    this.#log = new EventLog(sql);
    sql.exec(`CREATE TABLE IF NOT EXISTS shard (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      meta TEXT NOT NULL
    )`);
    const row = sql.exec<{ meta: string }>("SELECT meta FROM shard WHERE id = 1").toArray()[0];
    this.#meta = row ? (JSON.parse(row.meta) as ShardMeta) : null;
    this.#publisher = new Publisher({ ctx: this.ctx, subscribers: () => this.#subscribers, drafts: () => this.#meta?.drafts ?? [], state: () => this.#state() });
    this.#subscribers = new Subscribers(
      this.ctx,
      this.#log,
      () => this.#state(),
      (at) => this.#alarm.by(at),
      () => this.#meta?.drafts ?? [],
      () => limits(this.env).sseMaxBufferBytes,
      (ws, cursor) => this.#publisher.horizon(ws, cursor),
    );
  }

  /** Takes a feed from the run object (see above); answers the shard's last id and viewer counts. */
  feed(f: Feed): FeedReply {
    const meta = this.#meta;
    if (meta && meta.sender === f.sender && f.seq <= meta.seq) return this.#reply(); // sent again: applied already
    let last = this.#log.lastId();
    const out: Segment[] = [];
    let gap = false;
    this.ctx.storage.transactionSync(() => {
      for (const s of f.segments) {
        if ("delta" in s) {
          if (s.after === last) out.push(s); // a delta goes where it was written, or not at all
          continue;
        }
        const fresh = s.entries.filter((e) => e.id > last);
        if (fresh.length === 0) continue;
        if (fresh[0]!.id !== last + 1) {
          gap = true;
          break;
        }
        this.#log.insert(fresh);
        last = fresh.at(-1)!.id;
        out.push({ entries: fresh });
      }
      const ended = f.state.ended;
      const next: ShardMeta = { runId: f.runId, ended, endId: f.state.lastId, drafts: f.drafts, sender: f.sender, seq: f.seq };
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO shard (id, meta) VALUES (1, ?)", JSON.stringify(next));
      this.#meta = next;
    });
    const entries = out.flatMap((s) => ("entries" in s ? s.entries : []));
    this.#publisher.publish(entries, out, f.fromLog);
    return this.#reply();
  }

  /** The shard's viewers, by transport (the run's `GET /` adds them up). */
  counts(): ShardCounts {
    return { sse: this.#subscribers.count("sse"), ws: this.#subscribers.count("ws"), session: this.#subscribers.count("session") };
  }

  /** The run was deleted: its viewers here are closed with 4410, and the copy of its log is deleted. */
  async erase(): Promise<void> {
    this.#publisher.clear();
    this.#subscribers.closeAll(CLOSE_RUN_DELETED, "run deleted");
    await this.#alarm.clear();
    await this.ctx.storage.deleteAll();
    this.#open();
  }

  /** An upgrade the Worker forwards here, as the run object told it: the cursor is resolved and checked already. */
  override async fetch(request: Request): Promise<Response> {
    const sub = parseSubscribe(request);
    if (!sub || sub.after === "live") return failureResponse(fail(400, "bad_request", "not a subscription request"));
    const lastId = this.#log.lastId();
    if (sub.after > lastId) return failureResponse(fail(409, "shard_behind", `this shard has the run's log up to ${lastId}, not ${sub.after}`));
    const first = new URL(request.url).searchParams.get(TRUNCATED_PARAM) === "1" ? SESSION_CATCH_UP_TRUNCATED : undefined;
    const client = this.#subscribers.accept(sub.transport, sub.after, sub.run, sub.scope, sub.exp, first);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void | Promise<void> {
    return onFrame(this.#sockets, ws, message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closing
    }
  }

  /** The alarm closes idle WebSocket viewers whose token expired, as the run object's does. */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const next = this.#subscribers.expireTokens(Date.now());
    if (next !== null) this.#alarm.by(next);
  }

  #reply(): FeedReply {
    return { lastId: this.#log.lastId(), counts: this.counts() };
  }

  /** The run as this shard has it: its last id, and the end once it has the run's last entry. */
  #state(): RunState {
    const lastId = this.#log.lastId();
    const meta = this.#meta;
    return { lastId, ended: meta?.ended && lastId >= meta.endId ? meta.ended : null };
  }

  /** A message or interrupt from a WebSocket viewer here goes to the run object, as it would from one there. */
  async #postInput(runId: string, input: NewInput): Promise<Result<InputAccepted>> {
    const runs = runNamespace(this.ctx, this.env);
    if (!runs) return fail(500, "unavailable", "this viewer cannot send inputs: post them with POST /messages");
    try {
      return await runs.get(runs.idFromName(runId)).postInput(runId, input);
    } catch {
      return fail(500, "unavailable", "the run could not be reached; try again");
    }
  }
}

/** What a shard asks of its run's object (object.ts), typed here so this module does not import it (no import cycle). */
type RunSide = Rpc.DurableObjectBranded & { postInput(runId: string, input: NewInput): Result<InputAccepted> };

/** The run objects' namespace: this Worker's own `RunObject` class (ctx.exports), or the `RUNS` binding. */
function runNamespace(ctx: DurableObjectState, env: object): DurableObjectNamespace<RunSide> | undefined {
  const candidates = [(ctx.exports as Record<string, unknown> | undefined)?.RunObject, (env as Record<string, unknown>).RUNS];
  return candidates.find((c): c is DurableObjectNamespace<RunSide> => typeof (c as { idFromName?: unknown } | undefined)?.idFromName === "function");
}
