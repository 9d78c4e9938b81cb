/** Assistant text as Markdown (marked), sanitised (DOMPurify); code blocks get a copy button. */
import DOMPurify from "dompurify";
import { marked } from "marked";
import { el, icon } from "./dom.ts";

export function markdown(text: string): HTMLElement {
  const box = el("div", "md");
  box.innerHTML = DOMPurify.sanitize(marked.parse(text, { async: false, gfm: true }) as string).trim();
  for (const pre of box.querySelectorAll("pre")) {
    const wrap = el("div", "code");
    pre.replaceWith(wrap);
    const copy = el("button", "copy") as HTMLButtonElement;
    copy.type = "button";
    copy.setAttribute("aria-label", "Copy code");
    copy.title = "Copy code";
    copy.append(icon("copy"));
    copy.addEventListener("click", () => {
      void navigator.clipboard?.writeText(pre.textContent ?? "").then(() => {
        copy.setAttribute("aria-label", "Copied");
        copy.dataset.copied = "true";
      });
    });
    wrap.append(copy, pre);
  }
  for (const a of box.querySelectorAll("a")) a.rel = "noopener noreferrer";
  return box;
}
