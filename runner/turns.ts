/**
 * Turn tracking: from the lines the agent prints and the inputs the runner
 * hands it, whether a turn is in flight, whether the agent is idle (the
 * session may end), and how the last turn ended.
 *
 * - A turn starts with the first prompt, or with a message the runner injects;
 *   it ends with a `result` line. A resumed session starts idle: nothing is in
 *   flight until a message arrives.
 * - Claude Code reports each injected message as a `command_lifecycle` that
 *   reaches `completed`; a message sent mid-turn may be folded into that turn,
 *   so the agent is idle only once every one it reported has completed.
 * - An interrupt applies to the turn in flight when it arrives. One that
 *   arrives while the agent is idle is acknowledged and changes nothing. The
 *   turn counts as interrupted only if its `result` is not a success: an
 *   interrupt that raced with the turn's own end does not turn a success into
 *   a cancellation.
 */

export interface ResultLine {
  type: "result";
  subtype?: string;
  is_error?: boolean;
  result?: string;
}

export class TurnTracker {
  lastResult: ResultLine | undefined;
  lastTurnInterrupted = false;
  #resultSinceInput: boolean;
  #interruptPending = false;
  #pending = new Set<string>();
  #lifecycleSeen = false;

  /** `idle`: the session starts with nothing in flight (a resumed session). */
  constructor(opts: { idle?: boolean } = {}) {
    this.#resultSinceInput = opts.idle ?? false;
  }

  /** The agent is idle: a turn ended (or none began) and every injected message was taken up. */
  get idle(): boolean {
    return this.#resultSinceInput && (this.#pending.size === 0 || !this.#lifecycleSeen);
  }

  /** A message was handed to the agent (with the uuid it carries, when the source gives one). */
  injected(uuid: string | undefined): void {
    if (uuid) this.#pending.add(uuid);
    this.#resultSinceInput = false;
  }

  /**
   * A participant pressed stop. Returns true if a turn is in flight (the source
   * should stop it), false if the agent is idle (nothing to stop; no later turn
   * is affected).
   */
  interrupted(): boolean {
    if (this.idle) return false;
    this.#interruptPending = true;
    return true;
  }

  /** Every line the agent prints. */
  observe(text: string): void {
    let line: { type?: unknown; state?: unknown; command_uuid?: unknown; subtype?: unknown; is_error?: unknown };
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (line === null || typeof line !== "object") return;
    if (line.type === "command_lifecycle" && typeof line.command_uuid === "string") {
      this.#lifecycleSeen = true;
      if (line.state === "queued" || line.state === "started") this.#pending.add(line.command_uuid);
      else this.#pending.delete(line.command_uuid);
    } else if (line.type === "result") {
      const result = line as ResultLine;
      this.lastResult = result;
      const succeeded = result.is_error !== true && (result.subtype === undefined || result.subtype === "success");
      this.lastTurnInterrupted = this.#interruptPending && !succeeded;
      this.#interruptPending = false;
      this.#resultSinceInput = true;
    }
  }
}

/** The Claude session id of a `system/init` line, if it is one. */
export function initSessionId(text: string): string | undefined {
  if (!text.includes('"init"')) return undefined; // most lines: no need to parse
  try {
    const line = JSON.parse(text) as { type?: unknown; subtype?: unknown; session_id?: unknown };
    if (line.type === "system" && line.subtype === "init" && typeof line.session_id === "string" && line.session_id) return line.session_id;
  } catch {
    // not JSON
  }
  return undefined;
}
