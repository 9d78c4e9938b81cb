/** The main thread's handle on the viewers' worker thread (viewers.ts): one command at a time. */
import { Worker } from "node:worker_threads";
import type { Command, Reply } from "./viewers.ts";

export class ViewerPool {
  #worker: Worker | null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.#worker = new Worker(new URL("./viewers.ts", import.meta.url));
    this.#worker.unref();
  }

  /** Sends a command and waits for its reply, at most `timeoutMs` (plus a margin for the thread itself). */
  #ask<R extends Reply>(cmd: Command, timeoutMs: number): Promise<R> {
    const run = () =>
      new Promise<R>((resolve, reject) => {
        const w = this.#worker;
        if (!w) return reject(new Error("the viewer pool is stopped"));
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`viewers did not answer "${cmd.op}" within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs + 10_000);
        const onMessage = (reply: Reply) => {
          cleanup();
          if (reply.op === "error") reject(new Error(`viewer thread: ${reply.message}`));
          else resolve(reply as R);
        };
        const onError = (err: Error) => {
          cleanup();
          reject(err);
        };
        const cleanup = () => {
          clearTimeout(timer);
          w.off("message", onMessage);
          w.off("error", onError);
        };
        w.on("message", onMessage);
        w.on("error", onError);
        w.postMessage(cmd);
      });
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  open(opts: { sse: string[]; ws: string[]; stamped: boolean; deltas?: boolean; timeoutMs: number; concurrency?: number }) {
    return this.#ask<Extract<Reply, { op: "opened" }>>({ op: "open", concurrency: 50, ...opts }, opts.timeoutMs);
  }

  /**
   * Resolves when every viewer has received `id` (or the timeout passed: `missing` says how many had not);
   * with `by: "k"`, when every viewer has received the stamped delta `bench_k` = `id`.
   */
  until(id: number, timeoutMs: number, by: "id" | "k" = "id") {
    return this.#ask<Extract<Reply, { op: "reached" }>>({ op: "until", id, by, timeoutMs }, timeoutMs);
  }

  samples() {
    return this.#ask<Extract<Reply, { op: "samples" }>>({ op: "samples" }, 30_000);
  }

  close() {
    return this.#ask<Extract<Reply, { op: "closed" }>>({ op: "close", timeoutMs: 10_000 }, 10_000);
  }

  /** Ends the thread (and with it every connection it holds). */
  async stop(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }
}
