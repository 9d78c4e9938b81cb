/** `runrelay token`: signs a token locally with the relay's secret (HS256, hono's JWT helper on Web Crypto). */
import { sign } from "hono/jwt";
import { claimsFor, type MintReply, type Scope } from "../src/protocol/index.ts";

export async function mintToken(secret: string, runId: string, scope: Scope, ttlSeconds?: number): Promise<MintReply> {
  const claims = claimsFor(runId, scope, ttlSeconds);
  return { token: await sign(claims, secret, "HS256"), expiresAt: claims.exp * 1000 };
}
