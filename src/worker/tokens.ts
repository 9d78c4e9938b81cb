/**
 * Per-run bearer tokens: HS256 JWTs signed with the secret the backend shares
 * with the relay, made and checked with hono's JWT helpers (Web Crypto).
 *
 * Both are on every request's path, so neither repeats work: the HMAC key is
 * imported once per secret (hono's helpers would import it on every call when
 * given the secret as a string), and a token that verified is remembered, so
 * a runner or viewer that sends the same token again costs a Map lookup and
 * the expiry check. A remembered token is bound to the secret that verified
 * it; its expiry is checked on every use, as a fresh verification would.
 */
import { sign, verify } from "hono/jwt";
import { claimsFor, TokenClaims, type MintReply, type Scope } from "../protocol/index.ts";

const HS256 = { name: "HMAC", hash: "SHA-256" } as const;

/** Secrets seen (a relay has one; tests and key rotation a few more): at most this many keys are kept. */
const MAX_KEYS = 8;
const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of a secret, imported once (hono's `sign`/`verify` take a CryptoKey as it is). */
function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), HS256, false, ["sign", "verify"]);
    key.catch(() => keys.delete(secret));
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(secret, key);
  }
  return key;
}

/** Signs a token for `runId` ("*" for an admin token on every run). */
export async function mintToken(secret: string, runId: string, scope: Scope, ttlSeconds?: number, now?: number): Promise<MintReply> {
  const claims = claimsFor(runId, scope, ttlSeconds, now);
  return { token: await sign(claims, await keyOf(secret), "HS256"), expiresAt: claims.exp * 1000 };
}

export type Verified = { ok: true; claims: TokenClaims } | { ok: false; code: "token_expired" | "invalid_token"; message: string };

/** Tokens that verified, most recently verified last; the oldest go first beyond this many. */
const MAX_VERIFIED = 1024;
const verified = new Map<string, { secret: string; claims: TokenClaims }>();

const EXPIRED: Verified = { ok: false, code: "token_expired", message: "the token has expired" };

/** Checks a token's signature, expiry and claims. */
export async function verifyToken(secret: string, token: string): Promise<Verified> {
  const known = verified.get(token);
  if (known !== undefined && known.secret === secret) {
    // As hono's `verify` checks `exp`: expired once it is at or before now, in whole seconds.
    return known.claims.exp <= Math.floor(Date.now() / 1000) ? EXPIRED : { ok: true, claims: known.claims };
  }
  let payload: unknown;
  try {
    // `iat` is not checked: a backend whose clock runs a little ahead would otherwise mint unusable tokens.
    payload = await verify(token, await keyOf(secret), { alg: "HS256", iat: false });
  } catch (err) {
    if ((err as Error).name === "JwtTokenExpired") return EXPIRED;
    return { ok: false, code: "invalid_token", message: "the token is not valid for this relay" };
  }
  const claims = TokenClaims.safeParse(payload);
  if (!claims.success) return { ok: false, code: "invalid_token", message: "the token's claims are not a runrelay token's" };
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!);
  verified.set(token, { secret, claims: claims.data });
  return { ok: true, claims: claims.data };
}
