import { describe, expect, it } from "vitest";
import { Acks } from "../../src/client/acks.ts";
import { ackOf, FLOW } from "../../src/protocol/index.ts";

describe("the client's acks (flow control)", () => {
  it("acknowledges where it starts when the socket opens, then every FLOW.ackEvery of text processed, with the last id", () => {
    const sent: string[] = [];
    const acks = new Acks((frame) => sent.push(frame));
    acks.opened(7);
    expect(sent).toEqual(['{"type":"ack","after":7}']);
    const frame = Math.floor(FLOW.ackEvery / 3) + 1;
    acks.processed(frame, 10);
    acks.processed(frame, 20);
    expect(sent).toHaveLength(1);
    acks.processed(frame, 30); // past ackEvery now
    acks.processed(frame, 40);
    expect(sent.map((f) => ackOf(f))).toEqual([7, 30]);
  });

  it("keeps going when the socket refuses a frame (it is closing; the reconnect starts over)", () => {
    const acks = new Acks(() => {
      throw new Error("closed");
    });
    expect(() => (acks.opened(1), acks.processed(FLOW.ackEvery, 2))).not.toThrow();
  });
});
