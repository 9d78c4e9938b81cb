/** Small DOM helpers shared by the chat view's modules. */
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export const el = (tag: string, className: string, text?: string) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export type Json = Record<string, any>; // stream-json lines are open-ended: unknown types pass through

const PATHS: Record<string, string> = {
  stop: '<rect x="5" y="5" width="14" height="14" rx="2"/>',
  send: '<path d="M3 20l18-8L3 4v6l12 2-12 2z"/>',
  check: '<path d="M9 16.2l-4.2-4.2-1.4 1.4L9 19 21 7l-1.4-1.4z"/>',
  cross: '<path d="M18.3 5.7L12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z"/>',
  copy: '<path d="M16 1H4a2 2 0 00-2 2v14h2V3h12zm3 4H8a2 2 0 00-2 2v14a2 2 0 002 2h11a2 2 0 002-2V7a2 2 0 00-2-2zm0 16H8V7h11z"/>',
  tool: '<path d="M22.7 19l-9.1-9.1c.9-2.3.4-5-1.5-6.9-2-2-5-2.4-7.4-1.3L9 6 6 9 1.6 4.7C.4 7.1.9 10.1 2.9 12.1c1.9 1.9 4.6 2.4 6.9 1.5l9.1 9.1c.4.4 1 .4 1.4 0l2.3-2.3c.5-.4.5-1.1.1-1.4z"/>',
  dot: '<circle cx="12" cy="12" r="5"/>',
  shield: '<path d="M12 1L3 5v6c0 5.6 3.8 10.7 9 12 5.2-1.3 9-6.4 9-12V5z"/>',
  question: '<path d="M12 2a10 10 0 100 20 10 10 0 000-20zm1 17h-2v-2h2zm2.1-7.8l-.9.9C13.5 12.9 13 13.5 13 15h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3A2 2 0 0012 7a2 2 0 00-2 2H8a4 4 0 018 0c0 .9-.4 1.7-.9 2.2z"/>',
};

/** An inline SVG icon (no emoji: they render as boxes without an emoji font); decorative, hidden from screen readers. */
export function icon(name: keyof typeof PATHS | string): SVGElement {
  const wrap = document.createElement("span");
  wrap.innerHTML = `<svg class="icon icon-${name}" viewBox="0 0 24 24" width="16" height="16" fill="currentColor" aria-hidden="true" focusable="false">${PATHS[name] ?? PATHS.dot}</svg>`;
  return wrap.firstElementChild as SVGElement;
}
