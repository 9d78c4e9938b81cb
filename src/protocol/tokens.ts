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
export const Scope = z.enum(["runner", "read", "write", "admin"]).meta({
  id: "Scope",
  description: "`runner`: append, poll inputs, complete; `read`: stream, events, status; `write`: read + messages and interrupts; `admin`: everything.",
});
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
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .max(30 * 24 * 3600)
      .optional()
      .meta({ description: "Lifetime in seconds (default 1 hour, at most 30 days)." }),
  })
  .refine((b) => b.runId !== "*" || b.scope === "admin", { message: "only an admin token may be for every run", path: ["runId"] })
  .meta({ id: "MintBody", description: "`POST /api/v1/tokens` body. `runId` `*` (every run) only with scope `admin`." });
export type MintBody = z.infer<typeof MintBody>;

export const MintReply = z
  .object({
    token: z.string().meta({ description: "An HS256 JWT." }),
    expiresAt: z.number().int().meta({ description: "When it expires, in ms since the epoch." }),
  })
  .meta({ id: "MintReply", description: "A new token." });
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
