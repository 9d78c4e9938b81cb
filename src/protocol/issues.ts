/**
 * The one issue worth telling a client when zod refuses a value. Inside a
 * union zod reports only "Invalid input"; this follows the branch that got
 * furthest into the value (e.g. the message branch of a client frame, down
 * to the content block whose type is unknown).
 */
import type { z } from "zod";

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

export interface IssueAt {
  path: Key[];
  message: string;
}

/**
 * How far into the value an issue reaches: its path, plus the deepest branch
 * of a union; -1 for a branch of another type altogether.
 */
function reach(issue: Issue): number {
  if (issue.code === "invalid_type" && issue.path.length === 0) return -1;
  if (issue.code !== "invalid_union") return issue.path.length;
  return issue.path.length + Math.max(0, ...issue.errors.map(branchReach));
}

const branchReach = (branch: readonly Issue[]): number => Math.max(-1, ...branch.map(reach));

/** The issue to report, with its full path. */
export function issueOf(issues: readonly Issue[], prefix: Key[] = []): IssueAt | undefined {
  const issue = issues[0];
  if (!issue) return undefined;
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const reaches = issue.errors.map(branchReach);
    const best = Math.max(...reaches);
    if (reaches.filter((r) => r === best).length === 1) return issueOf(issue.errors[reaches.indexOf(best)]!, path);
  }
  return { path, message: issue.message };
}
