/**
 * The package build (`npm run build`, run by `npm pack`): ESM JavaScript and
 * type declarations in dist/, one file per entry point, shared code split
 * into chunks. Packages stay external: hono and zod are dependencies, the
 * Agent SDK an optional peer, `cloudflare:workers` the Workers runtime.
 */
import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    protocol: "src/protocol/index.ts",
    client: "src/client/index.ts",
    runner: "runner/index.ts",
    cli: "runner/cli.ts",
  },
  format: "esm",
  target: "node20",
  platform: "neutral",
  dts: true,
  clean: true,
  splitting: true,
  sourcemap: false,
  external: ["cloudflare:workers", /^node:/],
  removeNodeProtocol: false,
  tsconfig: "tsconfig.build.json",
});
