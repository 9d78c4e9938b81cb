import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { readdirSync, readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/**
 * The packages src/ imports (zod, hono and each hono entry point it uses …),
 * pre-bundled for the workerd projects: every test file there imports them
 * afresh, and a few bundles load faster than their hundreds of files (those
 * projects take about a fifth less time). They are found, not listed, because
 * they must all be bundled together: a hono entry point left out would load
 * a second copy of hono beside the bundle's.
 */
const srcPackages = [
  ...new Set(
    readdirSync("src", { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .flatMap((f) => [...readFileSync(`src/${f}`, "utf8").matchAll(/^import [^;]*?from "([^".][^"]*)";/gms)].map((m) => m[1]!))
      .filter((spec) => !/^(cloudflare|node):/.test(spec)),
  ),
];
const workerdDeps = { optimizer: { ssr: { enabled: true, include: srcPackages } } };

export default defineConfig({
  test: {
    // The relay's own JSON log lines (one per request) are checked by test/e2e/logs.test.ts; elsewhere they are noise.
    onConsoleLog: (log) => !log.startsWith('{"type":'),
    // The end-to-end files mostly wait on processes and the network: three files at a time, even on two cores.
    maxWorkers: 3,
    projects: [
      {
        // The Worker and the run object, inside workerd.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // A short keep-alive so a test can await one; a secret, as a deployed relay has.
            miniflare: {
              bindings: { SSE_KEEPALIVE_SECONDS: "1", RELAY_SECRET: "test-secret", ALLOWED_ORIGINS: "https://app.example.com" },
            },
          }),
        ],
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], testTimeout: 30_000, deps: workerdDeps },
      },
      {
        // The fan-out tier (src/run/shard.ts), inside workerd: as "worker", with two viewers per object, so a handful of viewers spread over shards.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { SSE_KEEPALIVE_SECONDS: "1", RELAY_SECRET: "test-secret", ALLOWED_ORIGINS: "https://app.example.com", FANOUT_SHARD_SIZE: "2" },
            },
          }),
        ],
        test: { name: "fanout", include: ["test/fanout/**/*.test.ts"], testTimeout: 60_000, deps: workerdDeps },
      },
      {
        // Pure modules and the project's layout, in Node.
        test: { name: "unit", include: ["test/unit/**/*.test.ts", "runner/**/*.test.ts", "src/protocol/**/*.test.ts"], environment: "node" },
      },
      {
        // The whole relay under a real `wrangler dev`, with real clients.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/wrangler.setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // `expect.poll` waits for what a page or a client shows; on two busy cores that can take longer than its 1 s default.
          expect: { poll: { timeout: 15_000 } },
        },
      },
    ],
  },
});
