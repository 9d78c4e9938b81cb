/** A batch as the fan-out passes it around (publisher.ts, subscribers.ts, shards.ts), and the run's state after it. */
import type { Draft, FinalStatus } from "../protocol/index.ts";
import type { Segment } from "./drafts.ts";
import type { Frame } from "./flow.ts";
import type { StoredEntry } from "./log.ts";

export interface RunState {
  lastId: number;
  /** The final status once the run has ended. */
  ended: FinalStatus | null;
}

/** A batch as it was published: with the drafts and the run's state right after it. */
export interface Published {
  batch: readonly StoredEntry[];
  segments: readonly Segment[] | undefined;
  /** The id before it: a viewer is sent it if that is its cursor (subscribers.ts). */
  before: number;
  /** Deltas before it may be missing (a shard fed from the run's log): every viewer it reaches gets the drafts after it. */
  redraft?: true;
  drafts: Draft[];
  state: RunState;
}

/** A batch's frames, built once per transport and kind of viewer, for every part of its publishing. */
export type BatchFrames = Partial<Record<string, Frame[]>>;
