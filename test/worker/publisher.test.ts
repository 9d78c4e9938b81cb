/**
 * The publisher's schedule (src/run/publisher.ts): a batch goes out at the
 * next turn, or, in a hot run, a tick after it was written, so the writer's
 * answer goes out first; and how far a viewer that is behind catches up from
 * storage meanwhile (`horizon`). On a clock the test moves, with stand-in
 * sockets that record what they are sent; delivery itself (every id and delta
 * once, in order, through shards, slices and the tick) is tested by
 * slices.test.ts, deltas.test.ts and test/fanout/.
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { HOT_TICK_MS, Publisher, SLICE, type PublisherHost } from "../../src/run/publisher.ts";
import type { StoredEntry } from "../../src/run/log.ts";
import type { Subscribers } from "../../src/run/subscribers.ts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const batch = (...ids: number[]): StoredEntry[] => ids.map((id) => ({ id, ts: 0, type: "sdk", data: "{}" }));

/** A publisher over `viewers` WebSocket viewers; it records what each viewer and each shard feed got, as ids. */
function publisher(opts: { viewers: number; hot: boolean }) {
  const sockets = Array.from({ length: opts.viewers }, () => ({}) as WebSocket);
  const got = new Map<WebSocket, number[]>(sockets.map((ws) => [ws, []]));
  /** Each feed of the shards, as the ids it held. */
  const feeds: number[][] = [];
  let lastId = 0;
  const host: PublisherHost = {
    ctx: { getWebSockets: (tag?: string) => (tag === undefined || tag === "ws" ? sockets : []) } as unknown as DurableObjectState,
    subscribers: () =>
      ({
        publish: (item: { batch: StoredEntry[] }, to: WebSocket[]) => {
          for (const ws of to) got.get(ws)!.push(...item.batch.map((e) => e.id));
        },
      }) as unknown as Subscribers,
    shards: () => ({ published: (items) => void feeds.push(items.flatMap((item) => item.batch.map((e) => e.id))) }),
    drafts: () => [],
    state: () => ({ lastId, ended: null }),
    hot: () => opts.hot,
  };
  const p = new Publisher(host);
  const write = (...ids: number[]) => {
    lastId = ids.at(-1)!;
    p.publish(batch(...ids));
  };
  return { p, write, feeds, fed: () => feeds.flat(), got: () => [...new Set([...got.values()].map((ids) => ids.join(",")))], sockets };
}

it("a run that is not hot publishes a batch at the next turn of the event loop", async () => {
  const { write, fed, got } = publisher({ viewers: 3, hot: false });
  write(1, 2);
  expect(fed()).toEqual([]);
  await vi.advanceTimersByTimeAsync(0);
  expect(fed()).toEqual([1, 2]);
  expect(got()).toEqual(["1,2"]); // every viewer, the same ids
});

it("a hot run publishes a batch a tick after it is written; batches written during the tick follow it, in order", async () => {
  const { write, fed, feeds, got } = publisher({ viewers: 2 * SLICE + 3, hot: true });
  write(1, 2);
  await vi.advanceTimersByTimeAsync(HOT_TICK_MS - 1);
  write(3);
  await vi.advanceTimersByTimeAsync(0);
  expect(fed()).toEqual([]); // neither the shards nor any viewer has it yet
  expect(got()).toEqual([""]);
  await vi.advanceTimersByTimeAsync(1);
  expect(feeds).toEqual([[1, 2, 3]]); // the shards get the tick's batches in one feed
  expect(got()).toEqual(["1,2", ""]); // the first slice of viewers has the first batch
  await vi.runAllTimersAsync(); // the slices, a turn apart
  expect(feeds).toEqual([[1, 2, 3]]);
  expect(got()).toEqual(["1,2,3"]);
  write(4); // a new tick
  await vi.advanceTimersByTimeAsync(HOT_TICK_MS - 1);
  expect(fed()).toEqual([1, 2, 3]);
  await vi.runAllTimersAsync();
  expect(fed()).toEqual([1, 2, 3, 4]);
  expect(got()).toEqual(["1,2,3,4"]);
});

it("a hot run whose viewers are all on shards feeds them after the tick too", async () => {
  const { write, fed } = publisher({ viewers: 0, hot: true });
  write(1);
  await vi.advanceTimersByTimeAsync(HOT_TICK_MS - 1);
  expect(fed()).toEqual([]);
  await vi.advanceTimersByTimeAsync(1);
  expect(fed()).toEqual([1]);
});

it("feedShards() feeds the shards what waits for the tick at once (a viewer is about to be sent to one), and nothing twice; the viewers here keep their schedule", async () => {
  const { p, write, feeds, got } = publisher({ viewers: 3, hot: true });
  write(1);
  write(2);
  p.feedShards();
  expect(feeds).toEqual([[1, 2]]);
  expect(got()).toEqual([""]);
  write(3);
  await vi.runAllTimersAsync();
  expect(feeds).toEqual([[1, 2], [3]]);
  expect(got()).toEqual(["1,2,3"]);
});

it("a viewer that is behind catches up from storage only to the first batch still on its way to it", async () => {
  const { p, write, sockets } = publisher({ viewers: SLICE + 1, hot: true });
  const [first, last] = [sockets[0]!, sockets[SLICE]!];
  expect(p.horizon(first, 0)).toBeNull(); // nothing on its way: up to the log's end
  write(1, 2);
  write(3);
  expect(p.horizon(first, 0)).toBe(0); // it waits for 1-2
  expect(p.horizon(first, 2)).toBe(2); // it waits for 3
  expect(p.horizon(first, 1)).toBe(2); // 1-2 will not reach it, from 1: it reads 2, then waits for 3
  expect(p.horizon(first, 3)).toBeNull(); // it has them all
  await vi.advanceTimersByTimeAsync(HOT_TICK_MS); // 1-2 has gone to the first slice of sockets
  expect(p.horizon(first, 0)).toBe(2); // 1-2 will not reach it again: it reads them, then waits for 3
  expect(p.horizon(last, 0)).toBe(0); // 1-2 is still on its way to it
  await vi.runAllTimersAsync();
  expect(p.horizon(first, 0)).toBeNull();
  expect(p.horizon(last, 2)).toBeNull();
});
