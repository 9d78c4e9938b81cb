/**
 * The measurements, by name, in the order they run. Each phase runs against
 * one Target on a fresh run and returns per-round values and raw samples
 * (ms); the phases themselves live in phases/, by group, and what they share
 * (sizes, context, deadlines) in phases/shared.ts.
 */
import { catchup } from "./phases/catchup.ts";
import { deltas, fanout } from "./phases/fanout.ts";
import { ingest, ingestWithViewers, rowsWritten } from "./phases/ingest.ts";
import { messages } from "./phases/messages.ts";
import type { Phase } from "./phases/shared.ts";

export type { Ctx, Phase, PhaseResult, Sizes } from "./phases/shared.ts";
export { catchup, deltas, fanout, ingest, ingestWithViewers, messages, rowsWritten };

export const PHASES: Record<string, Phase> = { fanout, deltas, ingest, catchup, messages, viewers: ingestWithViewers, rows: rowsWritten };
