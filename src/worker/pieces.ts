/**
 * What the SSE bridge (sse.ts) gets from the run object and hands to its
 * reader: pieces of SSE text, or of its UTF-8 bytes.
 */
import { lastSseId } from "../protocol/index.ts";

export const encoder = new TextEncoder();

/**
 * What the object sends: SSE text (live batches, deltas), or the UTF-8 bytes
 * of it (replay frames, as SQLite builds them). Its size, as the object counts
 * it in the window: characters of text, or bytes.
 */
export type Piece = string | Uint8Array;
export const sizeOf = (p: Piece): number => (typeof p === "string" ? p.length : p.byteLength);

/** Pieces as one run of UTF-8, encoded straight into place (mostly ASCII: a little room for more). */
export function encodeAll(pieces: readonly Piece[]): Uint8Array {
  if (pieces.length === 1) return typeof pieces[0] === "string" ? encoder.encode(pieces[0]) : pieces[0]!;
  const size = pieces.reduce((n, p) => n + sizeOf(p), 0);
  const out = new Uint8Array(size + (size >> 4) + 64);
  let at = 0;
  for (const p of pieces) {
    if (typeof p !== "string") {
      if (at + p.byteLength > out.length) return concat(pieces);
      out.set(p, at);
      at += p.byteLength;
      continue;
    }
    const { read, written } = encoder.encodeInto(p, out.subarray(at));
    if (read < p.length) return concat(pieces); // more than a little non-ASCII
    at += written;
  }
  return out.subarray(0, at);
}

function concat(pieces: readonly Piece[]): Uint8Array {
  const parts = pieces.map((p) => (typeof p === "string" ? encoder.encode(p) : p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.byteLength) - p.byteLength);
  return out;
}

const ID_LINE = encoder.encode("\n\nid: ");

/** The id of the last entry in a piece (the `id:` line that starts its last event with one), or null. */
export function lastId(p: Piece): number | null {
  if (typeof p === "string") return lastSseId(p);
  // Bytes: the same search. The last entry's `id:` line is near the end.
  let start = -1;
  search: for (let i = p.byteLength - ID_LINE.length; i >= 0; i--) {
    for (let k = 0; k < ID_LINE.length; k++) if (p[i + k] !== ID_LINE[k]) continue search;
    start = i + ID_LINE.length;
    break;
  }
  if (start < 0 && p[0] === 0x69 && p[1] === 0x64 && p[2] === 0x3a && p[3] === 0x20) start = 4; // "id: " at the start
  if (start < 0) return null;
  let id = 0;
  let i = start;
  for (; i < p.byteLength && p[i]! >= 0x30 && p[i]! <= 0x39; i++) id = id * 10 + (p[i]! - 0x30);
  return i > start && p[i] === 0x0a ? id : null;
}
