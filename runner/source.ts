/** What a session runs: a source of stream-json lines (sources/: sdk, exec, tail), and how participants reach it. */
import type { Input, UserMessage } from "../src/protocol/index.ts";
import type { SourceControl } from "./control.ts";
import type { Ask } from "./prompts.ts";

/** A line the source printed, and for a tailed file where it was read up to. */
export interface SourceLine {
  text: string;
  offset?: number;
}

/** How a source starts. */
export interface SourceStart {
  /** Resume this Claude session instead of starting one: the first prompt is not sent again. */
  resume?: string;
  /** Variables to add to the agent process's environment (they let a restarted runner find a leftover agent). */
  env?: Record<string, string>;
  /** Asks participants a control request for the source (sdk's `canUseTool`) and resolves with their answer (control.ts). */
  ask?: Ask;
}

/** Where a run's stream-json comes from, and how participants reach it. */
export interface Source {
  /** Starts the agent (or the follower); `from` is where a restarted tail resumes. */
  lines(from?: number, start?: SourceStart): AsyncIterable<SourceLine>;
  /** Sends a user message into the live session; returns the uuid it carries, if any. */
  inject(message: UserMessage, input: Input): Promise<string | undefined>;
  /** Stops the agent's current turn (the session goes on). */
  interrupt(input?: Input): Promise<void>;
  /** Closes the session's input: the agent finishes and its lines end. */
  end(): void;
  /**
   * True if `lines()` can resume a session (`start.resume`) instead of starting one: a restarted
   * runner then resumes the spool's session without the first prompt. A follower of another
   * process's output (tail) cannot, and simply goes on reading.
   */
  resumable?: boolean;
  /** How the agent takes participants' control messages (control.ts); without it, their requests get an error reply. */
  control?: SourceControl;
}
