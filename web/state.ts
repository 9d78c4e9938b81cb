/**
 * What the run is doing, in words a person understands, shown in the header
 * (`#activity`, a live status region): working…, waiting for you (to answer a
 * permission prompt, too), stopping…,
 * nothing to stop, ended with its reason, no such run yet.
 */
import { $, type Json } from "./dom.ts";

export type Activity = "connecting" | "working" | "waiting" | "asking" | "stopping" | "idle" | "ended" | "missing" | "stalled";

let current: Activity = "connecting";
export const activity = () => current;

export function setActivity(kind: Activity, words: string): void {
  const node = $("activity");
  current = kind;
  node.dataset.activity = kind;
  node.textContent = words;
}

export const WORDS = {
  working: "working…",
  waiting: "waiting for you",
  permission: "waiting for you — permission needed",
  question: "waiting for you — Claude has a question",
  stopping: "stopping…",
  stopped: "stopped — waiting for you",
  nothingToStop: "nothing to stop",
  missing: "no such run yet — waiting for it to start",
  stalled: "the runner has gone quiet — waiting for it to come back",
};

/** A run's end in words: completed, failed or cancelled, with the reason given. */
export function endedText(status: string, reason?: string): string {
  return `ended: ${status}${reason ? ` — ${reason}` : ""}`;
}

const SUBTYPES: Record<string, string> = {
  error_max_turns: "it reached the turn limit",
  error_max_budget_usd: "it reached the budget limit",
  error_during_execution: "an error during execution",
  error_max_structured_output_retries: "it could not produce the required output",
};

/** A failed turn (`result` with `is_error`) in words, from its subtype and error text. */
export function failureText(d: Json, interrupted: boolean): string {
  if (interrupted) return "Turn stopped";
  const why = SUBTYPES[d.subtype] ?? (d.subtype && d.subtype !== "success" ? String(d.subtype).replace(/_/g, " ") : "an error");
  const errors: unknown[] = Array.isArray(d.errors) ? d.errors : [];
  const detail = (errors.length ? errors.map(String).join("; ") : typeof d.result === "string" ? d.result : "").split("\n")[0]!.trim();
  return `Turn failed: ${why}${detail ? ` — ${detail}` : ""}`;
}
