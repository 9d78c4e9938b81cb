/**
 * The `tail` source: follows a `_stream.jsonl` that an existing workflow
 * writes, from the start or from a byte offset, through truncation and late
 * creation. Participants' messages and interrupts are appended to an inbox
 * file next to it, one JSON object a line (the seed's file-based flow):
 *   {"id":3,"kind":"message","message":{"role":"user","content":"…"},"createdAt":…}
 *   {"id":4,"kind":"interrupt","createdAt":…}
 *   {"id":5,"kind":"control","payload":{"type":"control_response",…},"createdAt":…}
 */
import { appendFile, open, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Source, SourceLine } from "../session.ts";
import { asStreamJson } from "./lines.ts";

export interface TailSourceOptions {
  file: string;
  inbox: string;
  /** How often to look for new bytes. */
  pollMs?: number;
}

const NEWLINE = 0x0a;

export function tailSource(opts: TailSourceOptions): Source {
  let stopping = false;
  const stopped = new AbortController();

  return {
    async *lines(from = 0): AsyncIterable<SourceLine> {
      let offset = from;
      let partial = Buffer.alloc(0);
      for (;;) {
        const size = (await stat(opts.file).catch(() => null))?.size;
        if (size !== undefined && size < offset) {
          offset = 0; // truncated: the file was started again
          partial = Buffer.alloc(0);
        }
        if (size !== undefined && size > offset) {
          const file = await open(opts.file, "r");
          let chunk: Buffer;
          try {
            const wanted = Buffer.alloc(size - offset);
            const { bytesRead } = await file.read(wanted, 0, wanted.length, offset);
            chunk = wanted.subarray(0, bytesRead); // the file may have shrunk since stat
          } finally {
            await file.close();
          }
          const buffer = Buffer.concat([partial, chunk]);
          const base = offset - partial.length; // the file offset of buffer[0]
          offset += chunk.length;
          let start = 0;
          for (let nl = buffer.indexOf(NEWLINE); nl !== -1; nl = buffer.indexOf(NEWLINE, start)) {
            const text = buffer.subarray(start, nl).toString("utf8").trim();
            start = nl + 1;
            if (text) yield { text: asStreamJson(text), offset: base + start };
          }
          partial = Buffer.from(buffer.subarray(start));
          continue;
        }
        if (stopping) return;
        await sleep(opts.pollMs ?? 100, undefined, { signal: stopped.signal }).catch(() => {});
      }
    },
    async inject(message, input) {
      await appendFile(opts.inbox, JSON.stringify({ id: input.id, kind: "message", message, createdAt: input.createdAt }) + "\n");
      return undefined;
    },
    control: {
      // A control message for the workflow (an answer to its control request); the runner answers a client's requests itself.
      async write(payload, input) {
        await appendFile(opts.inbox, JSON.stringify({ ...(input && { id: input.id }), kind: "control", payload, ...(input && { createdAt: input.createdAt }) }) + "\n");
      },
    },
    async interrupt(input) {
      if (input) await appendFile(opts.inbox, JSON.stringify({ id: input.id, kind: "interrupt", createdAt: input.createdAt }) + "\n");
    },
    end() {
      stopping = true;
      stopped.abort();
    },
  };
}
