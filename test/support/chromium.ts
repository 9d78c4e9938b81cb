/**
 * Headless Chromium for the browser tests, with no system browser needed:
 * `@sparticuz/chromium` ships a Chromium build inside its npm package, driven
 * here by playwright-core. `CHROMIUM_PATH` picks another Chromium instead.
 */
import sparticuz from "@sparticuz/chromium";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

/** Where the browser tests leave their screenshots (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL("../../test-results/", import.meta.url));

/**
 * Its Lambda-tuned flags, less `--single-process` (with it, closing a page can
 * end the browser), plus no background traffic: the network here is closed.
 */
const FROM_PACKAGE = () => sparticuz.args.filter((a) => a !== "--single-process");
const QUIET = ["--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchChromium(): Promise<Browser> {
  const own = process.env.CHROMIUM_PATH;
  return chromium.launch({
    executablePath: own ?? (await sparticuz.executablePath()),
    args: own ? ["--no-sandbox", "--disable-gpu", ...QUIET] : [...FROM_PACKAGE(), ...QUIET],
    headless: true,
  });
}

/** For a test file: one Chromium, launched before its tests (test-results/ made) and closed after them. */
export function browserPerFile(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());
  return () => browser!;
}
