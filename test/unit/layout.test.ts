/**
 * The layout holds: each part imports only downward. src/protocol/ (the wire
 * contract) imports nothing but zod; the client and the runner import the
 * contract and nothing else of src/; no module imports itself back through a
 * cycle. Imports are read with TypeScript's own pre-processor.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** What a file imports: relative imports as repository paths, packages by name. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true);
  const specs = info.importedFiles.map((f) => f.fileName);
  const local = specs.filter((s) => s.startsWith(".")).map((s) => withExtension(relative(ROOT, resolve(ROOT, dirname(file), s))));
  const packages = specs.filter((s) => !s.startsWith("."));
  return { local, packages };
}

const withExtension = (path: string) => (/\.tsx?$/.test(path) ? path : `${path}.ts`);

const PARTS = ["src", "runner", "web"];
const ALL = PARTS.flatMap(sources);

describe("layout", () => {
  it("src/protocol/ imports nothing but zod and itself", () => {
    const files = sources("src/protocol");
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const { local, packages } = importsOf(file);
      expect(packages.filter((p) => p !== "zod"), file).toEqual([]);
      expect(local.filter((l) => !l.startsWith("src/protocol/")), file).toEqual([]);
    }
  });

  it("the client and the runner import only the contract from src/; the chat view only the client and the contract", () => {
    const rules: [string, RegExp][] = [
      ["src/client", /^src\/(protocol|client)\//],
      ["runner", /^(src\/protocol\/|runner\/)/],
      ["web", /^(src\/(protocol|client)\/|web\/)/],
    ];
    for (const [dir, allowed] of rules) {
      for (const file of sources(dir)) {
        expect(importsOf(file).local.filter((l) => !allowed.test(l)), file).toEqual([]);
      }
    }
  });

  it("the run object does not import the Worker", () => {
    for (const file of sources("src/run")) {
      expect(importsOf(file).local.filter((l) => l.startsWith("src/worker/")), file).toEqual([]);
    }
  });

  it("has no import cycle", () => {
    const graph = new Map(ALL.map((f) => [f, importsOf(f).local.filter((l) => ALL.includes(l))]));
    const done = new Set<string>();
    const cycles: string[][] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) return void cycles.push([...path.slice(path.indexOf(file)), file]);
      if (done.has(file)) return;
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      done.add(file);
    };
    for (const file of ALL) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
