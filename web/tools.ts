/**
 * Tool cards: the call's summary line with its outcome (ok / error and the
 * error's first line); Edit/MultiEdit/Write as a line diff, TodoWrite as a
 * checklist, other input as JSON; the result collapsed with its line count.
 */
import { el, icon, type Json } from "./dom.ts";

const cards = new Map<string, HTMLElement>();

/** A simple line diff (longest common subsequence), for the small texts of an edit. */
export function lineDiff(before: string, after: string): [" " | "-" | "+", string][] {
  const a = before === "" ? [] : before.split("\n");
  const b = after === "" ? [] : after.split("\n");
  if (a.length * b.length > 250_000) return [...a.map((l) => ["-", l] as ["-", string]), ...b.map((l) => ["+", l] as ["+", string])];
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: [" " | "-" | "+", string][] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push([" ", a[i++]!]), j++;
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(["-", a[i++]!]);
    else out.push(["+", b[j++]!]);
  }
  return out;
}

function diffView(before: string, after: string): HTMLElement {
  const pre = el("pre", "diff");
  pre.setAttribute("aria-label", "Changes: lines starting with minus are removed, plus are added");
  for (const [mark, line] of lineDiff(before, after)) pre.append(el("span", mark === "+" ? "add" : mark === "-" ? "del" : "same", `${mark} ${line}\n`));
  return pre;
}

function todoList(todos: Json[]): HTMLElement {
  const list = el("ul", "todos");
  list.setAttribute("aria-label", "To-do list");
  for (const t of todos) {
    const item = el("li", `todo ${t.status ?? "pending"}`);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.disabled = true;
    box.checked = t.status === "completed";
    box.setAttribute("aria-label", `${t.content ?? t.activeForm ?? ""}: ${String(t.status ?? "pending").replace("_", " ")}`);
    const label = el("span", "", t.content ?? t.activeForm ?? "");
    item.append(box, label);
    if (t.status === "in_progress") item.append(el("span", "todo-state", " (in progress)"));
    list.append(item);
  }
  return list;
}

function body(block: Json): HTMLElement[] {
  const input = block.input ?? {};
  if (block.name === "Edit") return [diffView(input.old_string ?? "", input.new_string ?? "")];
  if (block.name === "MultiEdit") return (input.edits ?? []).map((e: Json) => diffView(e.old_string ?? "", e.new_string ?? ""));
  if (block.name === "Write") return [diffView("", input.content ?? "")];
  if (block.name === "TodoWrite") return [todoList(input.todos ?? [])];
  return [el("pre", "input", JSON.stringify(input, null, 2))];
}

export function toolCard(block: Json): HTMLElement {
  const card = el("details", "tool");
  card.dataset.tool = block.id;
  card.dataset.name = block.name;
  const input = block.input ?? {};
  const summary = el("summary", "");
  const what = input.description ?? input.command ?? input.file_path ?? input.pattern ?? input.path ?? (block.name === "TodoWrite" ? `${(input.todos ?? []).length} items` : "");
  summary.append(icon("tool"), el("span", "tool-name", block.name), el("span", "tool-what", ` ${what}`), el("span", "outcome pending", "running…"));
  card.append(summary, ...body(block));
  if (block.name === "TodoWrite" || block.name === "Edit" || block.name === "MultiEdit" || block.name === "Write") (card as HTMLDetailsElement).open = true;
  cards.set(block.id, card);
  return card;
}

/** Adds each `tool_result` of a user line to its card (or the log); false when there are none. */
export function renderToolResults(line: Json, append: (n: HTMLElement) => void): boolean {
  const blocks: Json[] = Array.isArray(line.message?.content) ? line.message.content : [];
  const results = blocks.filter((b) => b.type === "tool_result");
  for (const r of results) {
    const card = cards.get(r.tool_use_id);
    const text = typeof r.content === "string" ? r.content : (r.content ?? []).map((c: Json) => c.text ?? "").join("\n");
    const lines = text === "" ? 0 : text.replace(/\n$/, "").split("\n").length;
    const result = el("details", `result${r.is_error ? " error" : ""}${card ? "" : " entry"}`);
    result.append(el("summary", "", `${r.is_error ? "Error output" : "Result"} · ${lines} line${lines === 1 ? "" : "s"}`), el("pre", "", text));
    const outcome = card?.querySelector(".outcome");
    if (outcome) {
      outcome.className = `outcome ${r.is_error ? "error" : "ok"}`;
      outcome.replaceChildren(icon(r.is_error ? "cross" : "check"), r.is_error ? `error: ${text.split("\n").find((l: string) => l.trim()) ?? ""}` : "ok");
    }
    if (card) card.append(result);
    else append(result);
  }
  return results.length > 0;
}
