/**
 * Permission prompts in the conversation: the agent's `can_use_tool` requests
 * (client library: `run.on("request")`) as cards with a heading, what the tool
 * would do, why it asks, the full input, and buttons (Allow, each permission
 * suggestion, Deny; AskUserQuestion: its questions, web/questions.ts). Settled,
 * a card shows its outcome and no buttons. Other control requests are not shown.
 */
import { allow, deny, permissionOf, questionsOf, RelayError, type CanUseTool, type ControlRequest, type PermissionDecision, type RunConnection } from "../src/client/index.ts";
import { el, icon } from "./dom.ts";
import { outcomeText, plain, stateOf, subjectOf, suggestionLabel } from "./prompt-words.ts";
import { questionsForm, questionsList } from "./questions.ts";
import { activity, setActivity, WORDS } from "./state.ts";

export interface PromptContext {
  run: RunConnection;
  canWrite: boolean;
  append(node: HTMLElement): void;
}

interface Card {
  root: HTMLElement;
  /** The buttons (and a question's choices); removed once the prompt is settled. */
  actions: HTMLElement | null;
  note: HTMLElement;
  outcome: HTMLElement;
}

const cards = new Map<string, Card>();
/** Prompts shown and not settled, in the order asked. */
const open = new Map<string, ControlRequest>();
let seq = 0;
let ended = false;

/** Shows a request's card, or its outcome once it is settled. */
export function showRequest(r: ControlRequest, ctx: PromptContext): void {
  const p = permissionOf(r);
  if (!p) return; // other control requests (e.g. an MCP elicitation) are not for this view
  let card = cards.get(r.requestId);
  if (!card) {
    card = build(r, p, ctx);
    cards.set(r.requestId, card);
    ctx.append(card.root);
  }
  if (r.outcome) settle(card, r, outcomeText(r), stateOf(r));
  else if (!ended) open.set(r.requestId, r);
  else settle(card, r, "Not answered: the run ended", "unanswered");
  showAsking();
}

/** The run ended: prompts still open can no longer be answered. */
export function endPrompts(): void {
  ended = true;
  for (const r of open.values()) settle(cards.get(r.requestId)!, r, "Not answered: the run ended", "unanswered");
  open.clear();
}

/** The status line says "waiting for you" while a prompt is open (call after each entry, which may say otherwise). */
export function showAsking(): void {
  if (ended) return;
  const first = open.values().next().value;
  if (first && activity() !== "stopping" && activity() !== "stalled") setActivity("asking", questionsOf(first).length ? WORDS.question : WORDS.permission);
  else if (!first && activity() === "asking") setActivity("working", WORDS.working);
}

function build(r: ControlRequest, p: CanUseTool, ctx: PromptContext): Card {
  const root = el("section", "entry prompt");
  const title = el("h2", "prompt-title");
  title.id = `prompt-${++seq}`;
  root.setAttribute("role", "region");
  root.setAttribute("aria-labelledby", title.id);
  Object.assign(root.dataset, { request: r.requestId, tool: p.tool_name, entry: String(r.entryId), state: "pending" });
  const questions = questionsOf(r);
  const name = p.display_name ?? p.tool_name;
  if (questions.length) title.append(icon("question"), questions.length === 1 ? "Claude has a question" : `Claude has ${questions.length} questions`);
  else {
    const words = el("span", ""); // one flex item: the name reads "Allow Claude to use Write?"
    words.append("Allow Claude to use ", el("span", "tool-name", name), "?");
    title.append(icon("shield"), words);
  }
  root.append(title);
  if (p.title && !questions.length) root.append(el("p", "prompt-description", plain(p.title)));

  if (!questions.length) {
    const subject = subjectOf(p);
    if (subject) {
      const line = el("p", "prompt-subject");
      line.append(el("code", "prompt-what", subject));
      root.append(line);
    }
    for (const text of new Set([p.description, p.input.description])) {
      if (typeof text === "string" && text !== "" && text !== subject && text !== p.title) root.append(el("p", "prompt-description", plain(text)));
    }
    if (p.decision_reason) root.append(el("p", "prompt-reason", `Why it asks: ${plain(p.decision_reason)}`));
    const details = el("details", "prompt-input");
    details.append(el("summary", "", "Full input"), el("pre", "", JSON.stringify(p.input, null, 2)));
    root.append(details);
  }
  const card: Card = { root, actions: null, note: el("p", "prompt-note"), outcome: el("p", "prompt-outcome") };
  card.note.setAttribute("role", "status");
  card.note.hidden = card.outcome.hidden = true;
  const send = (d: PermissionDecision) => void answer(card, r, d, ctx);
  if (!ctx.canWrite) {
    if (questions.length) root.append(questionsList(questions));
    note(card, "Answering needs write access: this link can only watch.");
  } else if (questions.length) {
    card.actions = questionsForm(r, questions, send);
  } else {
    card.actions = el("div", "prompt-actions");
    card.actions.setAttribute("role", "group");
    card.actions.setAttribute("aria-label", `Answer: ${name}`);
    const button = (text: string, className: string, decision: () => PermissionDecision) => {
      const b = el("button", className, text) as HTMLButtonElement;
      b.type = "button";
      b.setAttribute("aria-describedby", title.id);
      b.addEventListener("click", () => send(decision()));
      card.actions!.append(b);
    };
    button("Allow", "", () => allow(r));
    for (const s of p.permission_suggestions ?? []) button(suggestionLabel(s), "secondary", () => allow(r, { updatedPermissions: [s] }));
    button("Deny", "secondary deny", () => deny(`The user denied permission to use ${name}.`));
  }
  if (card.actions) root.append(card.actions);
  root.append(card.note, card.outcome);
  return card;
}

function note(card: Card, text: string): void {
  card.note.textContent = text;
  card.note.hidden = text === "";
}

function busy(card: Card, yes: boolean): void {
  card.actions?.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button, input").forEach((b) => (b.disabled = yes));
}

async function answer(card: Card, r: ControlRequest, decision: PermissionDecision, ctx: PromptContext): Promise<void> {
  busy(card, true);
  note(card, "Sending…");
  try {
    await ctx.run.respond(r.requestId, decision);
    if (card.note.textContent === "Sending…") note(card, ""); // the outcome comes from the log, to every viewer alike
  } catch (err) {
    if (err instanceof RelayError && err.code === "request_settled") {
      note(card, "Someone else answered first.");
      card.actions?.remove();
      card.actions = null;
    } else {
      note(card, `Not sent: ${(err as Error).message}`);
      busy(card, false);
    }
  }
}

function settle(card: Card, r: ControlRequest, outcome: string, state: string): void {
  open.delete(r.requestId);
  card.root.dataset.state = state;
  card.actions?.remove();
  card.actions = null;
  if (card.note.textContent === "Sending…" || card.note.textContent?.startsWith("Answering needs")) note(card, "");
  const questions = questionsOf(r);
  if (questions.length) {
    // The questions stay, with what was chosen.
    const d = r.outcome?.kind === "answered" ? r.outcome.decision : undefined;
    card.root.querySelector(".questions")?.remove();
    card.note.before(questionsList(questions, d?.behavior === "allow" ? (d.updatedInput.answers as Record<string, unknown>) : undefined));
  }
  card.outcome.replaceChildren(icon(state === "allowed" ? "check" : state === "denied" ? "cross" : "dot"), outcome);
  card.outcome.hidden = false;
}
