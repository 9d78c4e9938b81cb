/** Per-run bearer tokens: scopes and claims (HS256 JWTs; docs/protocol.md, "Tokens"). */
import { z } from "zod";
import { RunId } from "./run.ts";

/**
 * What a token lets its holder do with its run (`sub`):
 *   runner: append events, long-poll inputs, complete;
 *   read:   stream, ws (read-only), events page, status;
 *   write:  read + messages, interrupt, WebSocket input frames;
 *   admin:  everything, on any run when `sub` is "*", plus deletion and minting tokens.
 */
export const Scope = z.enum(["runner", "read", "write", "admin"]);
export type Scope = z.infer<typeof Scope>;

/** The claims of a runrelay token (HS256 JWT). */
export const TokenClaims = z.object({
  sub: z.union([RunId, z.literal("*")]),
  scope: Scope,
  exp: z.number().int(),
  iat: z.number().int().optional(),
});
export type TokenClaims = z.infer<typeof TokenClaims>;

/** `POST /api/v1/tokens` body (admin). */
export const MintBody = z
  .strictObject({
    runId: z.union([RunId, z.literal("*")]),
    scope: Scope,
    /** Lifetime in seconds (default 1 hour, at most 30 days). */
    ttlSeconds: z.number().int().positive().max(30 * 24 * 3600).optional(),
  })
  .refine((b) => b.runId !== "*" || b.scope === "admin", { message: "only an admin token may be for every run", path: ["runId"] });
export type MintBody = z.infer<typeof MintBody>;

export const MintReply = z.object({ token: z.string(), expiresAt: z.number().int() });
export type MintReply = z.infer<typeof MintReply>;


/** Does `scope` allow what `need` asks for? */
export function allows(scope: Scope, need: Scope): boolean {
  return scope === need || scope === "admin" || (scope === "write" && need === "read");
}

/** A token lifetime when none is asked for: one hour. */
export const DEFAULT_TTL_SECONDS = 3600;

/** The claims of a new token for `runId` ("*" for an admin token on every run). */
export function claimsFor(runId: string, scope: Scope, ttlSeconds = DEFAULT_TTL_SECONDS, now = Date.now()): TokenClaims & { iat: number } {
  const iat = Math.floor(now / 1000);
  return { sub: runId, scope, iat, exp: iat + ttlSeconds };
}
