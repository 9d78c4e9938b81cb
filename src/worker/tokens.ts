/**
 * Per-run bearer tokens: HS256 JWTs signed with the secret the backend shares
 * with the relay, made and checked with hono's JWT helpers (Web Crypto).
 */
import { sign, verify } from "hono/jwt";
import { claimsFor, TokenClaims, type MintReply, type Scope } from "../protocol/index.ts";

/** Signs a token for `runId` ("*" for an admin token on every run). */
export async function mintToken(secret: string, runId: string, scope: Scope, ttlSeconds?: number, now?: number): Promise<MintReply> {
  const claims = claimsFor(runId, scope, ttlSeconds, now);
  return { token: await sign(claims, secret, "HS256"), expiresAt: claims.exp * 1000 };
}

export type Verified = { ok: true; claims: TokenClaims } | { ok: false; code: "token_expired" | "invalid_token"; message: string };

/** Checks a token's signature, expiry and claims. */
export async function verifyToken(secret: string, token: string): Promise<Verified> {
  let payload: unknown;
  try {
    // `iat` is not checked: a backend whose clock runs a little ahead would otherwise mint unusable tokens.
    payload = await verify(token, secret, { alg: "HS256", iat: false });
  } catch (err) {
    if ((err as Error).name === "JwtTokenExpired") return { ok: false, code: "token_expired", message: "the token has expired" };
    return { ok: false, code: "invalid_token", message: "the token is not valid for this relay" };
  }
  const claims = TokenClaims.safeParse(payload);
  if (!claims.success) return { ok: false, code: "invalid_token", message: "the token's claims are not a runrelay token's" };
  return { ok: true, claims: claims.data };
}
