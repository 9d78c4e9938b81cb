/** The runner's heartbeat: keeps its lease on the relay while no other request does. */
import { setTimeout as sleep } from "node:timers/promises";
import type { RelayClient } from "./relay.ts";
import type { Reporter } from "./report.ts";

/** The lease assumed until the relay tells its own (RUNNER_LEASE_SECONDS' default). */
const DEFAULT_LEASE_SECONDS = 90;

/**
 * Keeps the runner's lease on the relay: when no request has gone to the
 * relay for a third of the lease (the input loop is backing off, or done),
 * sends `POST /heartbeat`. The long-poll itself calls in often enough while
 * it runs: the relay caps its wait at a third of the lease.
 */
export async function heartbeatLoop(client: RelayClient, report: Reporter, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const periodMs = ((client.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000) / 3;
    const wait = client.lastRequestAt + periodMs - Date.now();
    if (wait > 0) {
      await sleep(wait, undefined, { signal }).catch(() => {});
      continue;
    }
    await client.heartbeat(signal).catch((err: Error) => {
      if (!signal.aborted) report.verbose(`heartbeat: ${err.message}`);
    });
  }
}
