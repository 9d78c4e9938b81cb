/** Credentials for the end-to-end relay: its secret (an admin credential) and real per-run tokens. */
import type { Scope } from "../../src/protocol/index.ts";
import { mintToken } from "../../src/worker/tokens.ts";

export const SECRET = "e2e-secret";
export const ADMIN = { Authorization: `Bearer ${SECRET}` };
export const RELAY_VARS = { RELAY_SECRET: SECRET };

export async function tokenFor(runId: string, scope: Scope, ttlSeconds?: number): Promise<string> {
  return (await mintToken(SECRET, runId, scope, ttlSeconds)).token;
}
