/** The async queue the sdk source reads its prompt and its lines from. */
import { describe, expect, it } from "vitest";
import { AsyncQueue } from "./queue.ts";

describe("AsyncQueue", () => {
  it("yields what was pushed, in order, then ends when closed; a failed queue throws after its items", async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    setImmediate(() => (q.push(2), q.close()));
    const got: number[] = [];
    for await (const n of q) got.push(n);
    expect(got).toEqual([1, 2]);
    expect(() => q.push(3)).toThrow("the session's input is closed");

    const failing = new AsyncQueue<number>();
    failing.push(1);
    failing.fail(new Error("the agent crashed"));
    const seen: number[] = [];
    const drain = async () => {
      for await (const n of failing) seen.push(n);
    };
    await expect(drain()).rejects.toThrow("the agent crashed");
    expect(seen).toEqual([1]);
  });
});
