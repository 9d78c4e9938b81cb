import { describe, expect, it } from "vitest";
import { append, appendOk, call, expectError, fetchWorker, newRunId, page, range, readAll, sdkLine } from "./support";

const lines = (from: number, to: number) => range(from, to).map(sdkLine);

describe("POST /events: idempotent producers", () => {
  it("keeps exactly the distinct lines, in order, with dense ids, when every batch is retried", async () => {
    const runId = newRunId("retries");
    const producer = { id: "runner-1", epoch: 0 };
    const batches = [lines(1, 3), lines(4, 4), lines(5, 9), lines(10, 12), lines(13, 20)];
    for (const [seq, batch] of batches.entries()) {
      const first = await append(runId, batch, { ...producer, seq });
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ lastEventId: batch.at(-1)!.n });
      expect(first.headers.get("Stream-Next-Offset")).toBe(String(batch.at(-1)!.n));
      expect(first.headers.get("Producer-Seq")).toBe(String(seq));
      // The response was "lost": the runner resends the identical batch once or twice.
      for (let retry = 0; retry <= seq % 2; retry++) {
        const again = await append(runId, batch, { ...producer, seq });
        expect(again.status).toBe(204);
        expect(await again.text()).toBe("");
        expect(again.headers.get("Producer-Seq")).toBe(String(seq));
        expect(again.headers.get("Producer-Epoch")).toBe("0");
      }
    }
    // An older seq is a retry too.
    expect((await append(runId, lines(1, 3), { ...producer, seq: 0 })).status).toBe(204);

    const log = await readAll(runId);
    expect(log.map((e) => e.id)).toEqual(range(1, 20));
    expect(log.map((e) => e.type)).toEqual(Array(20).fill("sdk"));
    expect(log.map((e) => e.data)).toEqual(lines(1, 20));
  });

  it("refuses a gap in Producer-Seq with 409 and the expected seq, storing nothing", async () => {
    const runId = newRunId("gap");
    await appendOk(runId, lines(1, 2), { id: "p", epoch: 0, seq: 0 });
    const res = await append(runId, lines(3, 4), { id: "p", epoch: 0, seq: 2 });
    await expectError(res, 409, "producer_seq_gap");
    expect(res.headers.get("Producer-Expected-Seq")).toBe("1");
    expect(res.headers.get("Producer-Received-Seq")).toBe("2");
    expect((await page(runId)).lastEventId).toBe(2);

    // A new producer must start at seq 0.
    const fresh = await append(runId, lines(3, 4), { id: "q", epoch: 0, seq: 1 });
    await expectError(fresh, 409, "producer_seq_gap");
    expect(fresh.headers.get("Producer-Expected-Seq")).toBe("0");
    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 2));
  });

  it("fences a stale epoch with 403 and accepts a new epoch from seq 0", async () => {
    const runId = newRunId("epochs");
    await appendOk(runId, lines(1, 1), { id: "p", epoch: 0, seq: 0 });
    await appendOk(runId, lines(2, 2), { id: "p", epoch: 0, seq: 1 });
    // A restarted runner takes over with epoch 1, starting at seq 0.
    await appendOk(runId, lines(3, 3), { id: "p", epoch: 1, seq: 0 });
    // The old runner (a zombie) is fenced.
    const zombie = await append(runId, lines(99, 99), { id: "p", epoch: 0, seq: 2 });
    await expectError(zombie, 403, "stale_producer_epoch");
    expect(zombie.headers.get("Producer-Epoch")).toBe("1");
    // A higher epoch must start at 0.
    await expectError(await append(runId, lines(99, 99), { id: "p", epoch: 2, seq: 1 }), 400, "bad_producer_seq");
    await appendOk(runId, lines(4, 4), { id: "p", epoch: 1, seq: 1 });
    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 4));
  });

  it("interleaves two producers without loss, each in its own order", async () => {
    const runId = newRunId("two-producers");
    const a = range(1, 10).map((n) => ({ type: "a", n }));
    const b = range(1, 10).map((n) => ({ type: "b", n }));
    for (let seq = 0; seq < 5; seq++) {
      const pa = append(runId, a.slice(seq * 2, seq * 2 + 2), { id: "A", epoch: 0, seq });
      const pb = append(runId, b.slice(seq * 2, seq * 2 + 2), { id: "B", epoch: 0, seq });
      expect((await pa).status).toBe(200);
      expect((await pb).status).toBe(200);
      // both retried, concurrently
      const [ra, rb] = await Promise.all([
        append(runId, a.slice(seq * 2, seq * 2 + 2), { id: "A", epoch: 0, seq }),
        append(runId, b.slice(seq * 2, seq * 2 + 2), { id: "B", epoch: 0, seq }),
      ]);
      expect([ra.status, rb.status]).toEqual([204, 204]);
    }
    const log = await readAll(runId);
    expect(log.map((e) => e.id)).toEqual(range(1, 20));
    expect(log.filter((e) => e.data.type === "a").map((e) => e.data)).toEqual(a);
    expect(log.filter((e) => e.data.type === "b").map((e) => e.data)).toEqual(b);
  });

  it("appends without producer headers too, and refuses some of the three", async () => {
    const runId = newRunId("no-producer");
    expect(await appendOk(runId, lines(1, 2))).toBe(2);
    const partial = await append(runId, lines(3, 3), undefined, { "Producer-Id": "p", "Producer-Seq": "0" });
    expect(await expectError(partial, 400, "bad_producer")).toContain("together");
    await expectError(await append(runId, lines(3, 3), { id: "p", epoch: -1, seq: 0 }), 400, "bad_producer");
    await expectError(await append(runId, lines(3, 3), undefined, { "Producer-Id": "", "Producer-Epoch": "0", "Producer-Seq": "0" }), 400, "bad_producer");
    expect((await page(runId)).lastEventId).toBe(2);
  });
});

describe("POST /events: bad batches change nothing", () => {
  it("names the bad line and stores none of the batch", async () => {
    const runId = newRunId("bad-line");
    await appendOk(runId, lines(1, 2));
    const good = JSON.stringify(sdkLine(3));
    const cases: [string, string][] = [
      [`${good}\n${good}\n{"type": oops}\n${good}\n`, "line 3 is not valid JSON"],
      [`${good}\n[1, 2]\n`, "line 2 is an array, not a JSON object"],
      [`${good}\n\n"text"\n`, "line 3 is a string, not a JSON object"],
      [`42\n`, "line 1 is a number, not a JSON object"],
      [`${good}\nnull\n`, "line 2 is null, not a JSON object"],
    ];
    for (const [body, message] of cases) {
      expect(await expectError(await append(runId, body), 400, "invalid_line")).toContain(message);
    }
    const log = await readAll(runId);
    expect(log.map((e) => e.data)).toEqual(lines(1, 2));
  });

  it("keeps each line exactly as sent: numbers, unicode, key order; CRLF and blank lines are fine", async () => {
    const runId = newRunId("exact");
    const body = '{"type":"result","big":12345678901234567890,"x":1.50,"s":"é\\u2028\\n"}\r\n\r\n  {"b":1,"a":2}  \n';
    expect(await appendOk(runId, body as unknown as unknown[])).toBe(2);
    const res = await call(runId, "/events?after=0");
    const text = await res.text();
    expect(text).toContain('"data":{"type":"result","big":12345678901234567890,"x":1.50,"s":"é\\u2028\\n"}');
    expect(text).toContain('"data":{"b":1,"a":2}');
  });

  it("answers 413 for an oversize line, batch or line count", async () => {
    const runId = newRunId("oversize");
    await appendOk(runId, lines(1, 1));
    const big = JSON.stringify({ type: "x", pad: "a".repeat(1024 * 1024) });
    expect(await expectError(await append(runId, `{"type":"ok"}\n${big}\n`), 413, "line_too_large")).toContain("line 2");
    const many = Array.from({ length: 10_001 }, () => "{}").join("\n");
    await expectError(await append(runId, many), 413, "batch_too_large");
    const huge = Array.from({ length: 9 }, () => JSON.stringify({ pad: "b".repeat(1024 * 1024 - 20) })).join("\n");
    await expectError(await append(runId, huge), 413, "batch_too_large");
    expect((await readAll(runId)).map((e) => e.data)).toEqual(lines(1, 1));
  });

  it("refuses an empty batch, a wrong content type, a bad run id, a bad cursor and unknown routes", async () => {
    const runId = newRunId("bad-input");
    await expectError(await append(runId, "\n  \n"), 400, "empty_batch");
    await expectError(await append(runId, ""), 400, "empty_batch");
    await expectError(await append(runId, lines(1, 1), undefined, { "Content-Type": "application/json" }), 415, "unsupported_media_type");
    await expectError(await call("bad!id", "/events?after=0"), 400, "bad_run_id");
    await expectError(await call("x".repeat(129), "/"), 400, "bad_run_id");
    await expectError(await call(runId, "/events?after=-1"), 400, "bad_after");
    await expectError(await call(runId, "/events?after=abc"), 400, "bad_after");
    await expectError(await call(runId, "/stream?after=1.5"), 400, "bad_cursor");
    await expectError(await call(runId, "/stream", { headers: { "Last-Event-ID": "x" } }), 400, "bad_cursor");
    await expectError(await call(runId, "/nope"), 404, "not_found");
    await expectError(await fetchWorker("http://relay.test/elsewhere"), 404, "not_found");
    await expectError(await call(runId, "/ws"), 426, "upgrade_required");
    // Nothing above created the run.
    await expectError(await call(runId, "/"), 404, "run_not_found");
  });

  it("refuses a cursor past the end of the log", async () => {
    const runId = newRunId("past-end");
    await appendOk(runId, lines(1, 3));
    await expectError(await call(runId, "/events?after=4"), 400, "cursor_out_of_range");
    await expectError(await call(runId, "/stream?after=9"), 400, "cursor_out_of_range");
    expect((await page(runId, 3)).events).toEqual([]);
  });
});
