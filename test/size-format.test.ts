/**
 * One size format throughout (docs/guide.md "Output conventions"): formatBytes holds to its rule, the
 * HTML report's chart formatter agrees with it, and the rendered outputs kept in the repository (the
 * CLI snapshots, README.md's and docs/guide.md's generated examples) show sizes in no other format.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FORMAT_BYTES_SCRIPT, formatBytes } from "../src/report/format.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const SIZE = /^(-?\d+(?:\.(\d{1,2}))?) (B|KiB|MiB|GiB|TiB|PiB)$/;

/**
 * Why `text` is not a size as formatBytes prints it, or undefined when it is one: binary unit, number
 * part below 1024 (PiB excepted), two decimals only below 10, one only from 10 to 100, none from 100.
 */
function sizeProblem(text: string): string | undefined {
  const m = SIZE.exec(text);
  if (!m) return `"${text}" is not NUMBER UNIT`;
  const v = Math.abs(Number(m[1]));
  const decimals = m[2]?.length ?? 0;
  if (m[3] !== "PiB" && v >= 1024) return `"${text}": 1024 or more of a unit`;
  if (m[3] !== "B" && v < 1 && v !== 0) return `"${text}": below 1 of a unit other than B`;
  if (decimals === 2 && v >= 10) return `"${text}": two decimals from 10 up`;
  if (decimals === 1 && (v < 10 || v >= 100)) return `"${text}": one decimal outside [10, 100)`;
  return undefined;
}

/** Header names of table columns that hold sizes. */
const SIZE_COLUMNS = new Set([
  "memsz",
  "bufsz",
  "size",
  "bytes",
  "copied",
  "relocated",
  "page tables",
  "leaf size",
  "simulated/s",
]);

/**
 * Problems with the sizes in `text`: decimal units (MB, KB, GB, TB), raw decimal byte counts of 1000
 * or more ("28672000 bytes"), size tokens formatBytes would not print, and cells of size columns in
 * renderTable tables that are not a size ("SIZE", "SIZE (count)", "SIZE/s", "COUNT (SIZE)", "none",
 * "-" or empty).
 */
function scan(text: string, where: string): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const at = `${where}:${i + 1}`;
    for (const m of line.matchAll(/\b\d+(?:\.\d+)? ?(?:MB|KB|kB|GB|TB)\b/g))
      problems.push(`${at}: decimal unit "${m[0]}"`);
    for (const m of line.matchAll(/(?<![\w.])\d{4,} bytes\b/g))
      problems.push(`${at}: raw byte count "${m[0]}"`);
    for (const m of line.matchAll(/(?<![\w.])-?\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB|PiB)\b/g)) {
      const p = sizeProblem(m[0]);
      if (p !== undefined) problems.push(`${at}: ${p}`);
    }
  });
  // renderTable: a header line, a rule of dash runs, then rows; each cell lies within its dash run.
  for (let i = 1; i < lines.length; i++) {
    if (!/^-+(?: {2}-+)*$/.test(lines[i]!)) continue;
    const runs = [...lines[i]!.matchAll(/-+/g)].map((m) => [m.index, m.index + m[0].length] as const);
    const header = runs.map(([a, b]) => lines[i - 1]!.slice(a, b).trim());
    // Rows end at a blank line or at a line that is not one (text in the two-space gaps between columns).
    const gaps = runs.slice(1).map(([a]) => a - 2);
    const isRow = (l: string) =>
      l.trim() !== "" && gaps.every((g) => (l[g] ?? " ") === " " && (l[g + 1] ?? " ") === " ");
    for (let r = i + 1; r < lines.length && isRow(lines[r]!); r++) {
      runs.forEach(([a, b], c) => {
        if (!SIZE_COLUMNS.has(header[c]!)) return;
        const cell = lines[r]!.slice(a, b).trim();
        if (cell === "" || cell === "none" || cell === "-") return;
        const size =
          /^(.+?) \([\d,]+\)$/.exec(cell)?.[1] ??
          /^(.+)\/s$/.exec(cell)?.[1] ??
          /^\d+ \((.+)\)$/.exec(cell)?.[1] ??
          cell;
        const p = sizeProblem(size);
        if (p !== undefined) problems.push(`${where}:${r + 1}: column "${header[c]}": ${p}`);
      });
    }
  }
  return problems;
}

/** The generated examples of a markdown file: the fenced block after each `<!-- readme-run ... -->`. */
function generatedBlocks(file: string): string[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("<!-- readme-run")) continue;
    const open = lines.findIndex((l, k) => k > i && l.startsWith("```"));
    const close = lines.findIndex((l, k) => k > open && l.startsWith("```"));
    blocks.push(lines.slice(open + 1, close).join("\n"));
  }
  return blocks;
}

describe("formatBytes: the one size format", () => {
  it("prints every size as NUMBER UNIT with binary units and three significant digits", () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (n) => {
        const text = formatBytes(n);
        expect(sizeProblem(text)).toBeUndefined();
        const m = SIZE.exec(text)!;
        const back = Number(m[1]) * 1024 ** UNITS.indexOf(m[3]!);
        // three significant digits: within half a unit of the last digit, at most 0.5%
        expect(Math.abs(back - n)).toBeLessThanOrEqual(Math.max(0.005 * n, 0.5) + 1e-9 * n);
      }),
    );
  });

  it("prints a whole number of a unit without decimals", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1023 }), fc.integer({ min: 0, max: 5 }), (k, u) => {
        expect(formatBytes(k * 1024 ** u)).toBe(`${k} ${k === 0 ? "B" : UNITS[u]}`);
      }),
    );
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(1048575)).toBe("1.00 MiB");
    expect(formatBytes(10.239 * 1024)).toBe("10.2 KiB");
  });

  it("the HTML report's chart formatter (FORMAT_BYTES_SCRIPT) agrees with formatBytes", () => {
    const bytes = new Function(`${FORMAT_BYTES_SCRIPT}; return bytes;`)() as (n: number) => string;
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.double({ min: 0, max: 2 ** 60, noNaN: true })), (n) => {
        expect(bytes(n)).toBe(formatBytes(n));
      }),
    );
  });
});

describe("rendered outputs show sizes only as formatBytes prints them", () => {
  it("the scan finds sizes printed another way (it can fail)", () => {
    const bad = [
      "#  segment  memsz     bufsz",
      "-  -------  --------  --------",
      "0  kernel   28672000  27.3 MB",
      "1  initrd   1024 KiB  1.5 KiB",
      "2  dtb      4 KiB     3.11 KiB",
      "wrote 8192 bytes, 4.2 MB",
    ].join("\n");
    const problems = scan(bad, "sample");
    expect(problems.some((p) => p.includes('column "memsz"') && p.includes("28672000"))).toBe(true);
    expect(problems.some((p) => p.includes('decimal unit "27.3 MB"'))).toBe(true);
    expect(problems.some((p) => p.includes('"1024 KiB"'))).toBe(true);
    expect(problems.some((p) => p.includes('"1.5 KiB"'))).toBe(true); // formatBytes prints 1.50 KiB
    expect(problems.some((p) => p.includes('raw byte count "8192 bytes"'))).toBe(true);
    expect(problems.filter((p) => p.startsWith("sample:5:"))).toEqual([]);
    expect(scan("segment  memsz\n-------  ------\nkernel   28 MiB\n", "good")).toEqual([]);
  });

  it("the CLI snapshots (test/__snapshots__/cli)", () => {
    const dir = join(ROOT, "test/__snapshots__/cli");
    const files = readdirSync(dir).filter((f) => f.endsWith(".txt") || f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    const problems = files.flatMap((f) => scan(readFileSync(join(dir, f), "utf8"), f));
    expect(problems).toEqual([]);
  });

  it("README.md's and docs/guide.md's generated examples", () => {
    for (const file of ["README.md", "docs/guide.md"]) {
      const blocks = generatedBlocks(file);
      expect(blocks.length).toBeGreaterThan(0);
      expect(blocks.flatMap((b, i) => scan(b, `${file} example ${i + 1}`))).toEqual([]);
    }
  });

  // Outputs no snapshot keeps: each command's text, as it prints it now.
  const dir = testTempDir("size-format");
  const KERNEL = dataFile("debian-6.1.0-50-cloud-arm64.Image");
  const HOST = join(ROOT, "test/fixtures/recordings/arm64-virt-4g-crash-kexec_load");
  const commands: [string, string[]][] = [
    ["overhead", ["overhead", "--map", "block", "--size", "3G"]],
    ["walk", ["walk", "0x40201008", "--map", "block", "--size", "1G", "--va-base", "0x40000000"]],
    ["tables", ["tables", "--size", "2M", "--binary", join(dir, "t.bin")]],
    ["emit", ["emit", "--out", join(dir, "emit")]],
    ["memory", ["memory", "--kernel", KERNEL, "--initrd-size", "60M", "--host", HOST]],
    ["plan", ["plan", "--kernel", KERNEL, "--initrd-size", "60M", "--host", HOST]],
  ];
  for (const [name, args] of commands) {
    it(`kexec-lab ${name}`, async () => {
      const r = await runCli(args);
      expect(r.code, r.err).toBe(0);
      expect(r.out.length).toBeGreaterThan(0);
      expect(scan(r.out, name)).toEqual([]);
      expect(scan(r.err, `${name} (stderr)`)).toEqual([]);
    });
  }
});
