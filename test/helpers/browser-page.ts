/**
 * Library code in a real browser: esbuild bundles a test entry module (test/browser/*-entry.ts) for the
 * browser, writes it into `dir`/page.html, and Debian's chromium (playwright-core, a persistent profile in
 * `dir`) is started headless with the flags this machine needs (no sandbox as root, no background networking).
 * Errors: a missing /usr/bin/chromium names the package to install.
 */

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Bundle `entry` (a file URL or path) into `dir`/page.html and start chromium; returns the context and the page's path. */
export async function bundledPage(
  entry: string,
  dir: string,
): Promise<{ browser: BrowserContext; html: string }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "iife",
    write: false,
    logLevel: "silent",
  });
  const html = join(dir, "page.html");
  writeFileSync(html, `<!doctype html><meta charset="utf-8"><script>${bundle.outputFiles[0]!.text}</script>`);
  const browser = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
  return { browser, html };
}
