// Bundles the chat view (web/chat.ts and the client library) into public/chat.js.
// wrangler runs this before `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml).
import { build } from "esbuild";

await build({
  entryPoints: ["web/chat.ts"],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: "public/chat.js",
  logLevel: "warning",
});
