/**
 * An AskUserQuestion prompt: its questions with their options. One question
 * with one answer: a button per option, which answers at once. Several
 * questions, or a multiSelect: radio buttons / checkboxes and a Submit.
 * Once answered (or read-only), the questions as a list, the chosen options marked.
 */
import { answerQuestions, deny, type ControlRequest, type PermissionDecision, type Question } from "../src/client/index.ts";
import { el } from "./dom.ts";

let seq = 0;

function legend(q: Question, tag: string): HTMLElement {
  const head = el(tag, "question-text");
  if (q.header) head.append(el("span", "chip", q.header), " ");
  head.append(q.question);
  return head;
}

/** An option's description, for `aria-describedby`. */
function described(control: HTMLElement, description: string | undefined, into: HTMLElement): void {
  if (!description) return;
  const desc = el("span", "option-desc", description);
  desc.id = `option-desc-${++seq}`;
  control.setAttribute("aria-describedby", desc.id);
  into.append(desc);
}

/** The questions to answer; `send` answers the prompt (or declines it). */
export function questionsForm(r: ControlRequest, questions: Question[], send: (d: PermissionDecision) => void): HTMLElement {
  const form = el("div", "questions");
  const oneClick = questions.length === 1 && !questions[0]!.multiSelect;
  const inputs: HTMLInputElement[][] = [];
  for (const [qi, q] of questions.entries()) {
    const set = el("fieldset", "question");
    set.append(legend(q, "legend"));
    const picks: HTMLInputElement[] = [];
    const name = `q-${++seq}-${qi}`;
    for (const option of q.options) {
      const row = el("div", "option");
      if (oneClick) {
        const button = el("button", "option-button secondary", option.label) as HTMLButtonElement;
        button.type = "button";
        button.addEventListener("click", () => send(answerQuestions(r, { [q.question]: option.label })));
        row.append(button);
        described(button, option.description, row);
      } else {
        const input = document.createElement("input");
        input.type = q.multiSelect ? "checkbox" : "radio";
        input.name = name;
        input.value = option.label;
        const label = el("label", "");
        label.append(input, ` ${option.label}`);
        row.append(label);
        described(input, option.description, row);
        picks.push(input);
      }
      set.append(row);
    }
    inputs.push(picks);
    form.append(set);
  }
  const buttons = el("div", "prompt-actions");
  if (!oneClick) {
    const submit = el("button", "", "Submit answers") as HTMLButtonElement;
    submit.type = "button";
    const chosen = () => inputs.map((picks) => picks.filter((p) => p.checked).map((p) => p.value));
    const ready = () => chosen().every((c) => c.length > 0);
    const update = () => (submit.disabled = !ready());
    form.addEventListener("change", update);
    submit.addEventListener("click", () => {
      if (ready()) send(answerQuestions(r, Object.fromEntries(questions.map((q, i) => [q.question, chosen()[i]!]))));
    });
    update();
    buttons.append(submit);
  }
  const decline = el("button", "secondary", "Decline to answer") as HTMLButtonElement;
  decline.type = "button";
  decline.addEventListener("click", () => send(deny("The user declined to answer the questions.")));
  buttons.append(decline);
  form.append(buttons);
  return form;
}

/** The questions as a list, with the options chosen in `answers` (question → labels, comma-joined) marked. */
export function questionsList(questions: Question[], answers?: Record<string, unknown>): HTMLElement {
  const box = el("div", "questions");
  for (const q of questions) {
    const item = el("div", "question");
    item.append(legend(q, "p"));
    const picked = typeof answers?.[q.question] === "string" ? String(answers[q.question]).split(", ") : [];
    const list = el("ul", "options");
    for (const option of q.options) {
      const chosen = picked.includes(option.label);
      const li = el("li", chosen ? "chosen" : "", option.label);
      if (chosen) li.append(el("span", "visually-hidden", " (chosen)"));
      if (option.description) li.append(el("span", "option-desc", ` — ${option.description}`));
      list.append(li);
    }
    item.append(list);
    box.append(item);
  }
  return box;
}
