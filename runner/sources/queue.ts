/** An async queue: what is pushed comes out of the iterator in order, until it is closed. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #closed = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  push(item: T): void {
    if (this.#closed) throw new Error("the session's input is closed");
    this.#items.push(item);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** Closes the queue with an error: the iterator throws it once the items before it are out. */
  fail(err: Error): void {
    this.#error = err;
    this.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.#items.length > 0) yield this.#items.shift()!;
      if (this.#error) throw this.#error;
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}
