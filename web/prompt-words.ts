/** A permission prompt in words: what it is about, its suggestions as buttons, its outcome. */
import { permissionOf, type CanUseTool, type ControlRequest, type PermissionDestination, type PermissionUpdate } from "../src/client/index.ts";

/** Claude Code's reasons may carry terminal colour codes. */
export const plain = (text: string) => text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");

const WHERE: Record<PermissionDestination, string> = {
  session: "for this session",
  cliArg: "for this run",
  localSettings: "always in this project (just you)",
  projectSettings: "always in this project",
  userSettings: "always, in every project",
};
const where = (d: string) => WHERE[d as PermissionDestination] ?? `(${d})`;

const MODES: Record<string, string> = {
  acceptEdits: "Allow edits",
  bypassPermissions: "Allow everything",
  plan: "Switch to plan mode",
  default: "Ask every time",
  dontAsk: "Deny anything not allowed",
  auto: "Let the classifier decide",
};

const rule = (r: { toolName: string; ruleContent?: string }) => (r.ruleContent ? `${r.toolName}(${r.ruleContent})` : r.toolName);

/** A suggestion as its button's words: "Allow edits for this session", "Allow /x for this session", "Allow Bash(npm test:*) for this session". */
export function suggestionLabel(s: PermissionUpdate): string {
  switch (s.type) {
    case "addRules":
    case "replaceRules": {
      const verb = s.behavior === "deny" ? "Deny" : s.behavior === "ask" ? "Always ask for" : "Allow";
      return `${verb} ${s.rules.map(rule).join(", ")} ${where(s.destination)}`;
    }
    case "removeRules":
      return `Forget the rule ${s.rules.map(rule).join(", ")} ${where(s.destination)}`;
    case "setMode":
      return `${MODES[s.mode] ?? `Switch to ${s.mode} mode`} ${where(s.destination)}`;
    case "addDirectories":
      return `Allow ${s.directories.join(", ")} ${where(s.destination)}`;
    case "removeDirectories":
      return `Remove ${s.directories.join(", ")} ${where(s.destination)}`;
    default:
      return `Allow, and apply ${(s as { type: string }).type}`;
  }
}

/** What a prompt is about, in one line: the command, the file, the URL … */
export function subjectOf(p: CanUseTool): string {
  const i = p.input;
  const found = [i.command, i.file_path, i.notebook_path, i.url, i.pattern, i.path, p.blocked_path, i.query].find((v) => typeof v === "string" && v !== "");
  return typeof found === "string" ? found : "";
}

/** A settled request's outcome in words: "Allowed", "Allowed for this session", "Denied", "Cancelled by the agent" … */
export function outcomeText(r: ControlRequest): string {
  const o = r.outcome;
  if (!o) return "";
  if (o.kind === "cancelled") return "Cancelled by the agent";
  const d = o.decision;
  if (o.by === "runner") {
    if (d?.behavior === "deny") return "Denied: no one answered in time";
    return d?.behavior === "allow" ? "Allowed by the runner" : `Answered by the runner${o.error ? `: ${o.error}` : ""}`;
  }
  if (d?.behavior === "deny") return "Denied";
  const answers = d?.behavior === "allow" && permissionOf(r)?.tool_name === "AskUserQuestion" ? d.updatedInput.answers : undefined;
  if (answers && typeof answers === "object") return `Answered: ${Object.values(answers).map(String).join("; ")}`;
  const kept = d?.behavior === "allow" ? (d.updatedPermissions ?? []) : [];
  return kept.length > 0 ? `Allowed ${where(kept[0]!.destination)}` : "Allowed";
}

/** The card's state for styling and tests: pending, allowed, denied, cancelled, unanswered. */
export function stateOf(r: ControlRequest): string {
  const o = r.outcome;
  if (!o) return "pending";
  if (o.kind === "cancelled") return "cancelled";
  return o.decision?.behavior === "deny" ? "denied" : "allowed";
}
