/**
 * Reading JSON a client sent, safely: its nesting depth is checked on the raw
 * text, in one linear pass, before anything parses it (a parser, a
 * serialiser or a structured clone can recurse once per level). No
 * dependencies.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * True if the JSON text nests arrays and objects deeper than `max` levels
 * (`{}` is one level, `[{}]` two). String contents, escapes included, are
 * skipped. The text need not be valid JSON; a parser checks that afterwards.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  if (text.length <= max) return false; // each level takes a character
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i + 1);
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that closes a string starting at `from` (or the end of the text). */
function closingQuote(text: string, from: number): number {
  for (let i = from; ; i++) {
    i = text.indexOf('"', i);
    if (i === -1) return text.length;
    let slashes = 0;
    while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return i;
  }
}

/** The message of a `too_deep` refusal, e.g. "the body nests deeper than 64 levels". */
export const tooDeepMessage = (what: string, max: number): string => `${what} nests deeper than ${max} levels`;
