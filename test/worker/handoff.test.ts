import { expect, it } from "vitest";
import { append, complete, newRunId, openSse, openWs, random, range, sdkLine, sseIds, wsIds } from "./support";

/**
 * The replay-to-live hand-off: clients connect while a producer appends, each
 * from its own cursor, and every one must receive exactly cursor+1 … last.
 */
it("hand-off race: 20 SSE and 20 WebSocket clients joining mid-append each get a gap-free, repeat-free sequence", async () => {
  const rnd = random(20261125);
  const runId = newRunId("handoff");
  const total = 2000;
  // Each client joins when the log passes a random point, while the next append is in flight.
  const joins = Array.from({ length: 40 }, (_, i) => ({
    transport: i % 2 === 0 ? ("sse" as const) : ("ws" as const),
    at: Math.floor(rnd() * total),
  })).sort((a, b) => a.at - b.at);

  /** The ids a client received, and what followed the last one: exactly one `end`, as the last frame. */
  type Joined = { transport: "sse" | "ws"; cursor: number; ids: Promise<{ ids: number[]; ends: number; endIsLast: boolean }> };
  const joined: Promise<Joined>[] = [];
  const join = async (transport: "sse" | "ws", cursor: number): Promise<Joined> => {
    if (transport === "sse") {
      const c = await openSse(runId, { lastEventId: cursor });
      expect(c.res.status).toBe(200);
      const ids = c.frames.ended().then((f) => {
        const ends = f.filter((x) => x.event === "end").length;
        return { ids: sseIds(f), ends, endIsLast: f.at(-1)?.event === "end" };
      });
      return { transport, cursor, ids };
    }
    const c = await openWs(runId, cursor);
    const ids = c.frames.ended().then((f) => {
      const ends = f.filter((x) => x.type === "end").length;
      return { ids: wsIds(f), ends, endIsLast: f.at(-1)?.type === "end" };
    });
    return { transport, cursor, ids };
  };

  let sent = 0;
  for (let seq = 0; sent < total; seq++) {
    const size = Math.min(total - sent, 1 + Math.floor(rnd() * 20));
    const pending = append(runId, range(sent + 1, sent + size).map(sdkLine), { id: "runner", epoch: 0, seq });
    while (joins[0] && joins[0].at <= sent) {
      const { transport } = joins.shift()!;
      joined.push(join(transport, Math.floor(rnd() * (sent + 1))));
    }
    expect((await pending).status).toBe(200);
    sent += size;
  }
  expect(joins).toEqual([]);
  expect(await (await complete(runId)).json()).toEqual({ lastEventId: total + 1 });

  const clients = await Promise.all(joined);
  expect(clients.filter((c) => c.transport === "sse")).toHaveLength(20);
  for (const client of clients) {
    expect({ ...client, ids: await client.ids }).toEqual({
      ...client,
      ids: { ids: range(client.cursor + 1, total + 1), ends: 1, endIsLast: true },
    });
  }
});
