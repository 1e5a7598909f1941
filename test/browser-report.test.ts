/**
 * The HTML report in a real browser: Debian's Chromium, headless, driven by playwright-core. Opens a
 * report of the default scenario via file://, checks that the memory map and the charts rendered,
 * that nothing was fetched from the network and nothing logged an error, and saves a screenshot to
 * test-artifacts/report.png.
 */

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { traceModeler } from "../src/model/model.js";
import { builtinProfile } from "../src/model/profiles.js";
import { rebootReport } from "../src/model/reboot.js";
import { makeTempDir, type TempDir } from "../src/node/tmp.js";
import { findStrategy } from "../src/reloc/registry.js";
import { runScenario, runStrategy } from "../src/reloc/run.js";
import { tableCostCurves, timeCurves } from "../src/report/curves.js";
import { renderHtmlReport } from "../src/report/html.js";
import { chartJsSource } from "../src/report/node/chart-source.js";
import { buildPageMap } from "../src/report/pagemap.js";
import { defaultScenario } from "../src/scenario/default.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ARTIFACTS = join(ROOT, "test-artifacts");
const CHROMIUM = "/usr/bin/chromium";
/** Launches CHROMIUM through setpriv --pdeathsig KILL (see the script). */
const CHROMIUM_LAUNCHER = join(ROOT, "test/helpers/chromium-pdeathsig.sh");
const MiB = 1024 * 1024;

let browser: BrowserContext;
let page: Page;
let work: TempDir | undefined;
const errors: string[] = [];
const network: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
  work = makeTempDir("kexec-lab-browser");
  const sc = {
    ...defaultScenario("arm64", "synthetic", 1),
    name: `qemu-virt-4g <img src=x onerror="alert(1)">`,
  };
  const altra = builtinProfile("ampere-altra");
  const out = runScenario(sc, { model: traceModeler([altra]) });
  if (!out.ok) throw new Error("the default scenario was refused");
  out.result.reboot = rebootReport(out.result, altra, {
    call: "kexec_load",
    purgatoryChecks: true,
    cma: false,
  });
  const run = runStrategy(sc, findStrategy("mmu-off"));
  out.result.pageMap = buildPageMap(run.image, run.machine.mem);
  const html = renderHtmlReport(out.result, {
    chartJs: chartJsSource(),
    curves: {
      tableCost: tableCostCurves(),
      time: {
        profile: "cortex-a72-board",
        curves: timeCurves("arm64", 4096, builtinProfile("cortex-a72-board"), [4 * MiB, 16 * MiB]),
      },
    },
  });
  const file = join(work.path, "report.html");
  writeFileSync(file, html);
  // A fresh user-data-dir per run (launchPersistentContext is how playwright takes one).
  browser = await chromium.launchPersistentContext(join(work.path, "profile"), {
    executablePath: CHROMIUM_LAUNCHER,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("request", (r) => {
    if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) network.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(
    () => (window as unknown as { __kexecLabReport?: unknown }).__kexecLabReport !== undefined,
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  work?.dispose();
});

describe("HTML report in Chromium", () => {
  it("renders the memory map with banks, segments and page lanes", async () => {
    const counts = await page.evaluate(() => ({
      tracks: document.querySelectorAll("#memory-map svg.track").length,
      segments: document.querySelectorAll("#memory-map rect.segment").length,
      source: document.querySelectorAll("#memory-map rect.source").length,
      indirection: document.querySelectorAll("#memory-map line.indirection").length,
      tables: document.querySelectorAll("#memory-map line.table").length,
      width: document.getElementById("memory-map")!.getBoundingClientRect().width,
    }));
    // The one RAM bank of QEMU virt; no detail row, since the default's random free-page order spreads
    // the source pages over all of RAM (a detail row appears when the image's pages sit in a quarter).
    expect(counts.tracks).toBe(1);
    // four segments: kernel, dtb, purgatory, initrd
    expect(counts.segments).toBe(4);
    expect(counts.source).toBeGreaterThan(10);
    expect(counts.indirection).toBeGreaterThan(0);
    expect(counts.tables).toBeGreaterThan(0);
    expect(counts.width).toBeGreaterThan(800);
  });

  it("draws every chart on its canvas", async () => {
    const drawn = await page.evaluate(() =>
      [
        "chart-strategies",
        "chart-table-cost",
        "chart-time",
        "chart-reboot-seconds",
        "chart-reboot-bytes",
      ].map((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement | null;
        if (c === null) return -1;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) inked++;
        return inked;
      }),
    );
    for (const n of drawn) expect(n).toBeGreaterThan(2000);
    expect(
      await page.evaluate(
        () => (window as unknown as { __kexecLabReport: { charts: number } }).__kexecLabReport.charts,
      ),
    ).toBe(5);
  });

  it("draws the reboot breakdown as stacked bars, one per strategy, seconds and bytes apart", async () => {
    const charts = await page.evaluate(() => {
      interface Ds {
        label: string;
        data: number[];
      }
      interface Ch {
        data: { labels: string[]; datasets: Ds[] };
        options: { scales: { x: { stacked?: boolean; title: { text: string } }; y: { stacked?: boolean } } };
      }
      const C = (window as unknown as { Chart: { getChart(el: Element): Ch } }).Chart;
      return ["chart-reboot-seconds", "chart-reboot-bytes"].map((id) => {
        const ch = C.getChart(document.getElementById(id)!);
        return {
          labels: ch.data.labels,
          phases: ch.data.datasets.map((d) => d.label),
          stacked: ch.options.scales.x.stacked === true && ch.options.scales.y.stacked === true,
          purgatory: ch.data.datasets.find((d) => d.label === "purgatory")!.data,
          axis: ch.options.scales.x.title.text,
        };
      });
    });
    for (const c of charts) {
      expect(c.labels).toEqual(["mmu-off", "va-copy", "linear-map-copy", "in-place"]);
      expect(c.phases).toEqual(["relocation", "purgatory", "decompress"]);
      expect(c.stacked).toBe(true);
      for (const v of c.purgatory) expect(v).toBeGreaterThan(0);
    }
    expect(charts[0]!.axis).toContain("seconds");
    expect(charts[1]!.axis).toContain("bytes");
    // the savings table lists what saves how much
    const rows = await page.locator("#reboot-savings tbody tr").allTextContents();
    expect(rows.some((r) => r.includes("--no-checks"))).toBe(true);
    expect(rows.some((r) => r.includes("CMA"))).toBe(true);
  });

  it("shows details on click and zooms on the wheel", async () => {
    await page.locator("#memory-map rect.segment").first().click();
    expect(await page.locator("#detail").textContent()).toContain("kernel");
    const before = await page.evaluate(
      () => (document.querySelector("#memory-map svg.track") as SVGSVGElement).viewBox.baseVal.width,
    );
    const box = (await page.locator("#memory-map svg.track").first().boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -300);
    const after = await page.evaluate(
      () => (document.querySelector("#memory-map svg.track") as SVGSVGElement).viewBox.baseVal.width,
    );
    expect(after).toBeLessThan(before);
    await page.locator("#zoom-reset").click();
  });

  it("kept the hostile scenario name as text", async () => {
    expect(await page.locator("h1").textContent()).toContain(`<img src=x onerror="alert(1)">`);
    expect(await page.locator("h1 img").count()).toBe(0);
  });

  it("fetched nothing from the network and logged no errors; saves a screenshot", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "report.png"), fullPage: true });
    expect(network).toEqual([]);
    expect(errors).toEqual([]);
  });
});
