/** Fencing that holds: a runner taking over claims the producer's next epoch before it sends anything. */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { append, appendOk, call, complete, expectError, info, newRunId, range, readAll, sdkLine, stubOf } from "./support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);
const claim = (runId: string, producerId: string) => call(runId, `/producers/${encodeURIComponent(producerId)}/claim`, { method: "POST" });

async function claimOk(runId: string, producerId: string): Promise<number> {
  const res = await claim(runId, producerId);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { producerId: string; epoch: number };
  expect(body.producerId).toBe(producerId);
  return body.epoch;
}

describe("POST /producers/:producerId/claim", () => {
  it("fences the old epoch at once; the new epoch starts at seq 0; nothing is lost or doubled", async () => {
    const runId = newRunId("claim");
    await appendOk(runId, lines(1, 1), { id: "runner", epoch: 0, seq: 0 });
    await appendOk(runId, lines(2, 2), { id: "runner", epoch: 0, seq: 1 });
    // The old runner still has batch seq 2 (line 3) in flight when the new one takes over.
    expect(await claimOk(runId, "runner")).toBe(1);
    expect((await info(runId)).producers).toEqual({ runner: { epoch: 1, seq: -1 } });

    const zombie = await append(runId, lines(3, 3), { id: "runner", epoch: 0, seq: 2 });
    await expectError(zombie, 403, "stale_producer_epoch");
    expect(zombie.headers.get("Producer-Epoch")).toBe("1");
    // The new epoch must start at 0.
    const gap = await append(runId, lines(3, 3), { id: "runner", epoch: 1, seq: 1 });
    await expectError(gap, 409, "producer_seq_gap");
    expect(gap.headers.get("Producer-Expected-Seq")).toBe("0");

    // The new runner resends what the relay did not acknowledge, at epoch 1 from seq 0.
    const res = await append(runId, lines(3, 4), { id: "runner", epoch: 1, seq: 0 });
    expect(res.status).toBe(200);
    expect(res.headers.get("Producer-Epoch")).toBe("1");
    expect(res.headers.get("Producer-Seq")).toBe("0");
    expect((await append(runId, lines(3, 4), { id: "runner", epoch: 1, seq: 0 })).status).toBe(204);
    await expectError(await append(runId, lines(3, 3), { id: "runner", epoch: 0, seq: 2 }), 403, "stale_producer_epoch");
    await appendOk(runId, lines(5, 5), { id: "runner", epoch: 1, seq: 1 });

    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 5));
    expect((await info(runId)).producers).toEqual({ runner: { epoch: 1, seq: 1 } });
  });

  it("a new producer gets epoch 0; claims are atomic, each a new epoch", async () => {
    const runId = newRunId("claim-new");
    expect(await claimOk(runId, "fresh")).toBe(0);
    await appendOk(runId, lines(1, 1), { id: "fresh", epoch: 0, seq: 0 });
    const epochs = await Promise.all(range(1, 5).map(() => claimOk(runId, "fresh")));
    expect(epochs.sort()).toEqual([1, 2, 3, 4, 5]);
    await expectError(await append(runId, lines(2, 2), { id: "fresh", epoch: 4, seq: 0 }), 403, "stale_producer_epoch");
    await appendOk(runId, lines(2, 2), { id: "fresh", epoch: 5, seq: 0 });
    expect(await claimOk(runId, "other/one")).toBe(0);
    expect((await info(runId)).producers).toEqual({ fresh: { epoch: 5, seq: 0 }, "other/one": { epoch: 0, seq: -1 } });
  });

  it("refuses a bad producer id, and any claim once the run has ended", async () => {
    const runId = newRunId("claim-refused");
    await appendOk(runId, lines(1, 1));
    await expectError(await claim(runId, "p".repeat(257)), 400, "bad_producer");
    await complete(runId);
    await expectError(await claim(runId, "p"), 409, "run_ended");
    expect((await info(runId)).producers).toEqual({});
  });

  it("refuses the long-poll of a runner that was taken over, and acknowledges nothing for it", async () => {
    const runId = newRunId("claim-poll");
    await appendOk(runId, lines(1, 1));
    expect(await claimOk(runId, "runner")).toBe(0); // the first runner
    const posted = await call(runId, "/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' });
    expect(posted.status).toBe(202);
    const pollAs = (epoch: number, after: number) =>
      call(runId, `/inputs?after=${after}&wait=0`, { headers: { "Producer-Id": "runner", "Producer-Epoch": String(epoch) } });
    expect(((await (await pollAs(0, 0)).json()) as { inputs: unknown[] }).inputs).toHaveLength(1);

    expect(await claimOk(runId, "runner")).toBe(1); // a second runner takes over
    // The first runner injected input 1 and polls to acknowledge it: refused, nothing acknowledged.
    await expectError(await pollAs(0, 1), 403, "stale_producer_epoch");
    expect((await info(runId)).pendingInputs).toBe(1);
    // The new runner gets it, and its poll acknowledges it.
    const taken = (await (await pollAs(1, 0)).json()) as { inputs: { id: number }[] };
    expect(taken.inputs.map((i) => i.id)).toEqual([1]);
    expect((await pollAs(1, 1)).status).toBe(200);
    expect((await info(runId)).pendingInputs).toBe(0);
    await expectError(await call(runId, "/inputs?after=0&wait=0", { headers: { "Producer-Id": "runner" } }), 400, "bad_producer");
  });
});

describe("the producer that wrote last, kept in the run's row", () => {
  const rows = async (runId: string) => (await info(runId)).rowsWritten;

  it("costs a batch no row of its own; another producer moves it to its table; seqs, claims and GET / stay exact", async () => {
    const runId = newRunId("producer-row");
    await appendOk(runId, lines(1, 1), { id: "p", epoch: 0, seq: 0 });
    let before = await rows(runId);
    await appendOk(runId, lines(2, 3), { id: "p", epoch: 0, seq: 1 });
    expect((await rows(runId)) - before).toBe(1 + 2); // the run's row, two lines
    before = await rows(runId);
    await appendOk(runId, lines(4, 4), { id: "q", epoch: 0, seq: 0 });
    // p's state moved to the table (a new row there, and its id's index entry), the run's row, one line.
    expect((await rows(runId)) - before).toBe(2 + 1 + 1);
    expect((await info(runId)).producers).toEqual({ p: { epoch: 0, seq: 1 }, q: { epoch: 0, seq: 0 } });

    // Each is checked against its own state, wherever it is kept.
    expect((await append(runId, lines(2, 3), { id: "p", epoch: 0, seq: 1 })).status).toBe(204);
    await expectError(await append(runId, lines(9, 9), { id: "p", epoch: 0, seq: 3 }), 409, "producer_seq_gap");
    expect((await append(runId, lines(4, 4), { id: "q", epoch: 0, seq: 0 })).status).toBe(204);
    await appendOk(runId, lines(5, 5), { id: "p", epoch: 0, seq: 2 });
    await appendOk(runId, lines(6, 6), { id: "q", epoch: 0, seq: 1 });

    // Claims: q is in the run's row, p in the table; both are fenced.
    expect(await claimOk(runId, "q")).toBe(1);
    expect(await claimOk(runId, "p")).toBe(1);
    expect((await info(runId)).producers).toEqual({ p: { epoch: 1, seq: -1 }, q: { epoch: 1, seq: -1 } });
    await expectError(await append(runId, lines(7, 7), { id: "q", epoch: 0, seq: 2 }), 403, "stale_producer_epoch");
    await expectError(await append(runId, lines(7, 7), { id: "p", epoch: 0, seq: 3 }), 403, "stale_producer_epoch");
    await appendOk(runId, lines(7, 7), { id: "p", epoch: 1, seq: 0 });
    await appendOk(runId, lines(8, 8), { id: "q", epoch: 1, seq: 0 });
    expect((await info(runId)).producers).toEqual({ p: { epoch: 1, seq: 0 }, q: { epoch: 1, seq: 0 } });
    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 8));
  });

  it("keeps the producer's state through writes that have none, and a fence through its move to the table", async () => {
    const runId = newRunId("producer-kept");
    await appendOk(runId, lines(1, 1), { id: "p", epoch: 0, seq: 0 });
    // Writes with no producer: a line, a message, an interrupt (each updates the run's row).
    await appendOk(runId, lines(2, 2));
    expect((await call(runId, "/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"message":"hi"}' })).status).toBe(202);
    expect((await call(runId, "/interrupt", { method: "POST" })).status).toBe(202);
    expect((await info(runId)).producers).toEqual({ p: { epoch: 0, seq: 0 } });
    expect((await append(runId, lines(1, 1), { id: "p", epoch: 0, seq: 0 })).status).toBe(204);

    // Fenced while in the run's row, then moved to the table by another producer: still fenced.
    expect(await claimOk(runId, "p")).toBe(1);
    await appendOk(runId, lines(3, 3), { id: "q", epoch: 0, seq: 0 });
    expect((await info(runId)).producers).toEqual({ p: { epoch: 1, seq: -1 }, q: { epoch: 0, seq: 0 } });
    await expectError(await append(runId, lines(9, 9), { id: "p", epoch: 0, seq: 1 }), 403, "stale_producer_epoch");
    const pollAs = (id: string, epoch: number) => call(runId, "/inputs?after=0&wait=0", { headers: { "Producer-Id": id, "Producer-Epoch": String(epoch) } });
    await expectError(await pollAs("p", 0), 403, "stale_producer_epoch"); // fenced, from the table
    expect((await pollAs("p", 1)).status).toBe(200);
    expect(await claimOk(runId, "q")).toBe(1);
    await expectError(await pollAs("q", 0), 403, "stale_producer_epoch"); // fenced, from the run's row
    expect((await pollAs("q", 1)).status).toBe(200);

    // Moving a producer that already has a row in the table costs that one row.
    await appendOk(runId, lines(4, 4), { id: "p", epoch: 1, seq: 0 });
    const before = (await info(runId)).rowsWritten;
    await appendOk(runId, lines(5, 5), { id: "q", epoch: 1, seq: 0 });
    expect((await info(runId)).rowsWritten - before).toBe(1 + 1 + 1); // p's row in the table, the run's row, one line
    await complete(runId);
    expect((await info(runId)).producers).toEqual({ p: { epoch: 1, seq: 0 }, q: { epoch: 1, seq: 0 } });
    expect((await append(runId, lines(5, 5), { id: "q", epoch: 1, seq: 0 })).status).toBe(204); // a retry after the end
    expect((await readAll(runId)).filter((e) => e.type === "sdk").map((e) => e.data)).toEqual(lines(1, 5));
  });

  it("goes on from a producer that an older relay kept only in its table", async () => {
    const runId = newRunId("producer-table");
    await appendOk(runId, lines(1, 2), { id: "runner", epoch: 0, seq: 0 });
    await runInDurableObject(stubOf(runId), (_: unknown, state: DurableObjectState) => {
      // As an older relay left it: the run's row holds no producer, the table holds its state.
      state.storage.sql.exec("UPDATE run SET producer_id = NULL, producer_epoch = NULL, producer_seq = NULL");
      state.storage.sql.exec("INSERT INTO producers (id, epoch, seq, updated_at) VALUES ('runner', 0, 0, 0)");
    });
    await evictDurableObject(stubOf(runId));
    expect((await info(runId)).producers).toEqual({ runner: { epoch: 0, seq: 0 } });
    expect((await append(runId, lines(1, 2), { id: "runner", epoch: 0, seq: 0 })).status).toBe(204);
    await appendOk(runId, lines(3, 3), { id: "runner", epoch: 0, seq: 1 });
    // The run's row now holds it, and wins over the table's older row.
    expect((await info(runId)).producers).toEqual({ runner: { epoch: 0, seq: 1 } });
    expect((await append(runId, lines(3, 3), { id: "runner", epoch: 0, seq: 1 })).status).toBe(204);
    expect(await claimOk(runId, "runner")).toBe(1);
    await appendOk(runId, lines(4, 4), { id: "runner", epoch: 1, seq: 0 });
    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 4));
  });
});
