/**
 * A value read from the object's storage and remembered, for reads that
 * every request makes (the run's row, the log's last id): a write forgets
 * it, and until the code that wrote has returned (its transaction committed
 * or rolled back; every write here is synchronous) it is read from storage
 * each time, never remembered, so a rolled-back write leaves nothing behind.
 * Only this object writes its storage, so nothing else can make it stale.
 */
export class Remembered<T> {
  #value: { v: T } | null = null;
  #writing = false;

  constructor(private readonly read: () => T) {}

  get(): T {
    if (this.#value) return this.#value.v;
    const v = this.read();
    if (!this.#writing) this.#value = { v };
    return v;
  }

  /** A write is about to change what `read` returns. */
  forget(): void {
    this.#value = null;
    if (this.#writing) return;
    this.#writing = true;
    queueMicrotask(() => (this.#writing = false));
  }
}
