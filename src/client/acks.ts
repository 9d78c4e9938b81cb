/**
 * Flow control on a WebSocket (docs/protocol.md, "Flow control"): the client
 * acknowledges the entries it has processed, so the relay sends a catch-up as
 * fast as the client takes it, and no faster. It says so as soon as the socket
 * opens (an `ack` of where it starts), then every FLOW.ackEvery of frame text
 * it has processed.
 */
import { ackFrame } from "../protocol/framing.ts";
import { FLOW } from "../protocol/limits.ts";

export class Acks {
  #unacked = 0;
  readonly #sendFrame: (frame: string) => void;

  constructor(send: (frame: string) => void) {
    this.#sendFrame = send;
  }

  /** The socket is open and the client starts after `after`. */
  opened(after: number): void {
    this.#send(after);
  }

  /** A frame of `chars` has been processed; `after`: the last entry handed out. */
  processed(chars: number, after: number): void {
    this.#unacked += chars;
    if (this.#unacked < FLOW.ackEvery) return;
    this.#unacked = 0;
    this.#send(after);
  }

  #send(after: number): void {
    try {
      this.#sendFrame(ackFrame(after));
    } catch {
      // closing: the reconnect starts over
    }
  }
}
