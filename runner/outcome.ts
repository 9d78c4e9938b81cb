/** How a session ended: the status the run is completed with on the relay, and the runner's exit code. */
import type { FinalStatus } from "../src/protocol/index.ts";
import type { TurnTracker } from "./turns.ts";

export interface Outcome {
  status: FinalStatus;
  reason?: string;
  /** 0 on success. */
  exitCode: number;
}

export function decide(s: { signalled: boolean; sourceError: Error | undefined; endedByUs: boolean; turn: TurnTracker }): Outcome {
  if (s.signalled) return { status: "cancelled", reason: "the runner was stopped", exitCode: 130 };
  const last = s.turn.lastResult;
  // Closing an interrupted session can make the agent exit non-zero: that is not a failure of the run.
  if (s.sourceError && !(s.endedByUs && (last || s.turn.idle))) return { status: "failed", reason: s.sourceError.message, exitCode: 1 };
  if (s.turn.lastTurnInterrupted) return { status: "cancelled", reason: "interrupted by a participant", exitCode: 1 };
  if (last?.is_error) return { status: "failed", reason: last.result ?? last.subtype ?? "the agent reported an error", exitCode: 1 };
  return { status: "completed", exitCode: 0 };
}
