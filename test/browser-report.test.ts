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
import { spreadOverLayouts, tableCostCurves, timeCurves } from "../src/report/curves.js";
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
    cpus: 64,
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
      spread: {
        profile: "cortex-a72-board",
        bytes: 8 * MiB,
        rows: spreadOverLayouts("arm64", 4096, builtinProfile("cortex-a72-board"), 8 * MiB),
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
        "chart-time-mmuon",
        "chart-time-log",
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
    ).toBe(7);
  });

  it("charts the MMU-on strategies alone, and all of them on a log axis, with error bars", async () => {
    const charts = await page.evaluate(() => {
      interface Ch {
        data: { labels: string[] };
        options: { scales: { y: { type?: string; title: { text: string } } } };
      }
      const C = (window as unknown as { Chart: { getChart(el: Element): Ch } }).Chart;
      return ["chart-time-mmuon", "chart-time-log"].map((id) => {
        const ch = C.getChart(document.getElementById(id)!);
        return {
          labels: ch.data.labels,
          type: ch.options.scales.y.type,
          title: ch.options.scales.y.title.text,
        };
      });
    });
    // va-copy-series is the series' PoU-only reference (it fails verification where PoU != PoC): charted too
    expect(charts[0]!.labels).toEqual(["va-copy", "va-copy-series", "linear-map-copy"]);
    expect(charts[1]!.labels).toEqual(["mmu-off", "va-copy", "va-copy-series", "linear-map-copy"]);
    expect(charts[1]!.type).toBe("logarithmic");
    // one unit per axis, named in its title
    expect(charts[0]!.title).toMatch(/\((ms|s|µs|min)\)$/);
    const bars = await page.evaluate(() =>
      (window as unknown as { __kexecLabReport: { errorBars(): number } }).__kexecLabReport.errorBars(),
    );
    // 2 MMU-on + 3 on the log chart + 4 reboot totals, at least once each
    expect(bars).toBeGreaterThanOrEqual(9);
  });

  it("takes every strategy colour from one palette: table swatches, bars and curves agree", async () => {
    const got = await page.evaluate(() => {
      interface Ds {
        label: string;
        backgroundColor: string | string[];
        borderColor?: string;
      }
      interface Ch {
        data: { labels?: string[]; datasets: Ds[] };
      }
      const C = (window as unknown as { Chart: { getChart(el: Element): Ch } }).Chart;
      const swatches: Record<string, string> = {};
      for (const td of Array.from(document.querySelectorAll("section table.grid tbody tr td:first-child"))) {
        const sw = td.querySelector(".swatch") as HTMLElement | null;
        if (sw !== null && td.textContent) swatches[td.textContent.trim()] = sw.style.background;
      }
      const bars = (id: string) => {
        const ch = C.getChart(document.getElementById(id)!);
        return Object.fromEntries(
          ch.data.labels!.map((l, i) => [l, (ch.data.datasets[0]!.backgroundColor as string[])[i]!]),
        );
      };
      const time = C.getChart(document.getElementById("chart-time")!);
      return {
        swatches,
        strategies: bars("chart-strategies"),
        mmuon: bars("chart-time-mmuon"),
        curves: Object.fromEntries(time.data.datasets.map((d) => [d.label, d.backgroundColor as string])),
      };
    });
    const hex = (css: string) => {
      const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(css);
      return m === null
        ? css
        : `#${[m[1], m[2], m[3]].map((x) => Number(x).toString(16).padStart(2, "0")).join("")}`;
    };
    for (const [name, color] of Object.entries(got.strategies)) {
      expect(hex(got.swatches[name]!)).toBe(color);
      if (got.mmuon[name] !== undefined) expect(got.mmuon[name]).toBe(color);
      if (got.curves[name] !== undefined) expect(got.curves[name]).toBe(color);
    }
    expect(new Set(Object.values(got.strategies)).size).toBe(Object.keys(got.strategies).length);
  });

  it("uses one unit with round ticks on the reboot time axis", async () => {
    const ticks = await page.evaluate(() => {
      interface Ch {
        scales: { x: { ticks: { value: number }[] } };
        options: { scales: { x: { title: { text: string } } } };
      }
      const C = (window as unknown as { Chart: { getChart(el: Element): Ch } }).Chart;
      const ch = C.getChart(document.getElementById("chart-reboot-seconds")!);
      return { values: ch.scales.x.ticks.map((t) => t.value), title: ch.options.scales.x.title.text };
    });
    expect(ticks.title).toMatch(/^modeled (min|s|ms|µs) /);
    const step = ticks.values[1]! - ticks.values[0]!;
    // round steps: 1, 2 or 5 times a power of ten
    const mant = step / 10 ** Math.floor(Math.log10(step));
    expect([1, 2, 5].some((m) => Math.abs(mant - m) < 1e-6)).toBe(true);
  });

  it("says what verified means, and shows the spread over free-page policies", async () => {
    expect(await page.locator("#verified-means").textContent()).toContain("every destination byte");
    const rows = await page.locator("#spread tbody tr").allTextContents();
    expect(rows.length).toBe(3);
    expect(await page.locator("#spread thead").textContent()).toContain("random:2");
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
      expect(c.labels).toEqual(["mmu-off", "va-copy", "va-copy-series", "linear-map-copy", "in-place"]);
      expect(c.phases).toEqual(["shutdown", "cpu-teardown", "relocation", "purgatory", "decompress"]);
      expect(c.stacked).toBe(true);
      for (const v of c.purgatory) expect(v).toBeGreaterThan(0);
    }
    expect(charts[0]!.axis).toMatch(/^modeled (min|s|ms|µs) /);
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
    // the two sections that help choose, at full resolution
    await page.locator("#time-section").screenshot({ path: join(ARTIFACTS, "report-time.png") });
    await page.locator("#reboot-section").screenshot({ path: join(ARTIFACTS, "report-reboot.png") });
    expect(network).toEqual([]);
    expect(errors).toEqual([]);
  });
});
