/**
 * What a client has received so far, and a way to await a condition on it.
 * Tests wait for what they expect to arrive, never for time to pass.
 */
export class Inbox<T> {
  readonly items: T[] = [];
  #done = false;
  #waiters = new Set<() => void>();

  push(item: T): void {
    this.items.push(item);
    this.#wake();
  }

  /** The stream ended: nothing more will arrive. */
  close(): void {
    this.#done = true;
    this.#wake();
  }

  get closed(): boolean {
    return this.#done;
  }

  /** Resolves once `ok(items)` holds; rejects if the stream ends first. */
  until(ok: (items: T[]) => boolean, what = "the expected items"): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (ok(this.items)) {
          this.#waiters.delete(check);
          resolve(this.items);
        } else if (this.#done) {
          this.#waiters.delete(check);
          reject(new Error(`stream ended before ${what}; got ${this.items.length} items: ${JSON.stringify(this.items).slice(0, 500)}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves with everything once the stream has ended. */
  ended(): Promise<T[]> {
    return this.until(() => this.#done, "its end");
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check();
  }
}

/** A small seeded PRNG (mulberry32), so random schedules are reproducible. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const range = (from: number, to: number): number[] =>
  to < from ? [] : Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A stream-json-like line, numbered so tests can check content as well as ids. */
export const sdkLine = (n: number) => ({
  type: "assistant",
  message: { id: `msg_${n}`, role: "assistant", content: [{ type: "text", text: `line ${n} ✓` }] },
  session_id: "s-1",
  n,
});

export const ndjson = (lines: readonly unknown[]): string => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";

/**
 * Options for `vi.waitFor` where a test must observe state it cannot await as
 * an event (e.g. a count in `GET /`): check often, and give slow machines room
 * (the default 1 s is not a promise anything keeps).
 */
export const EVENTUALLY = { timeout: 30_000, interval: 25 } as const;
