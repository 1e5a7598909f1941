/**
 * The CMA area of a collected host (issue #23): kexec-lab-collect writes cma.txt (meminfo's Cma lines,
 * /sys/kernel/mm/cma, debugfs cma), the library reads the default area and its taken pages from it
 * and dmesg's "cma: Reserved" line (src/host/cma.ts), and `--host` gives them to a 6.17+ plan.
 */

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseHostCma } from "../src/host/cma.js";
import { parseHost } from "../src/host/host.js";
import { hostPlanFields } from "../src/host/plan.js";
import { spawnSyncOwned } from "../src/node/child.js";
import { testTempDir } from "./helpers/tmp.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const COLLECT = join(ROOT, "bin/kexec-lab-collect");
const tmp = testTempDir("host-cma");
const MiB = 2 ** 20;
const enc = (s: string) => new TextEncoder().encode(s);

const DMESG = "[    0.000000] cma: Reserved 64 MiB at 0x0000000100000000\n";
/** What Debian's 7.3 kernel shows right after boot with cma=64M (recorded: x86_64-q35-*-linux-7.3-cma64m-*). */
const SYSFS_73 = `CmaTotal:          65536 kB
CmaFree:           65280 kB
/sys/kernel/mm/cma/reserved/alloc_pages_fail: 0
/sys/kernel/mm/cma/reserved/alloc_pages_success: 64
/sys/kernel/mm/cma/reserved/available_pages: 16320
/sys/kernel/mm/cma/reserved/release_pages_success: 0
/sys/kernel/mm/cma/reserved/total_pages: 16384
`;

describe("parseHostCma", () => {
  it("base and size from dmesg, the taken pages from sysfs total - available", () => {
    const c = parseHostCma(SYSFS_73, DMESG)!;
    expect(c.area).toEqual({ start: 0x1_0000_0000, end: 0x1_0000_0000 + 64 * MiB });
    expect(c.used).toBe(64 * 4096);
    expect(c.sources).toContain("used: /sys/kernel/mm/cma/reserved/total_pages - available_pages");
    expect(c.notes).toEqual([]);
  });

  it("sysfs without total/available pages: alloc_pages_success - release_pages_success", () => {
    const text = SYSFS_73.split("\n")
      .filter((l) => !/total_pages|available_pages/.test(l))
      .join("\n")
      .replace("release_pages_success: 0", "release_pages_success: 16");
    expect(parseHostCma(text, DMESG)!.used).toBe(48 * 4096);
  });

  it("debugfs wins: base_pfn, count and used; a bitmap that is not one run from the base is said", () => {
    const dbg = "/sys/kernel/debug/cma/reserved";
    const text = `${SYSFS_73}${dbg}/base_pfn: 262144\n${dbg}/count: 8192\n${dbg}/used: 5\n${dbg}/order_per_bit: 0\n${dbg}/bitmap: 23 0 0\n`;
    const c = parseHostCma(text, DMESG)!;
    expect(c.area).toEqual({ start: 262144 * 4096, end: (262144 + 8192) * 4096 });
    expect(c.used).toBe(5 * 4096);
    // 23 = 0b10111: four pages, not a run from bit 0
    expect(c.notes.join()).toMatch(/not one run from the area's base/);
    const prefix = parseHostCma(text.replace("bitmap: 23", "bitmap: 31"), DMESG)!;
    expect(prefix.notes).toEqual([]);
  });

  it("no counters: the area alone, with a note; no area at all: undefined", () => {
    const c = parseHostCma(undefined, DMESG)!;
    expect(c.used).toBeUndefined();
    expect(c.notes.join()).toMatch(/taken pages of the CMA area are not known/);
    expect(parseHostCma("absent", "")).toBeUndefined();
    expect(parseHostCma(SYSFS_73, "no cma line")).toBeUndefined();
  });
});

describe("--host gives the CMA area to kernels that place in CMA", () => {
  const files = (release: string) => ({
    "iomem.txt": enc("00001000-7fffffff : System RAM\n100000000-17fffffff : System RAM\n"),
    "uname.txt": enc(`${release}\n`),
    "dmesg.txt": enc(DMESG),
    "cma.txt": enc(SYSFS_73),
  });
  it("7.3: cma and cmaUsed; 6.12 (no CMA placement): neither", () => {
    const f73 = hostPlanFields(parseHost(files("7.3.4+deb13-cloud-amd64"), "h"), "x86_64", "kexec-file");
    expect(f73.cma).toEqual({ start: 0x1_0000_0000, end: 0x1_0000_0000 + 64 * MiB });
    expect(f73.cmaUsed).toBe(64 * 4096);
    const f612 = hostPlanFields(parseHost(files("6.12.118+deb13-cloud-amd64"), "h"), "x86_64", "kexec-file");
    expect(f612.cma).toBeUndefined();
    expect(f612.cmaUsed).toBeUndefined();
  });
});

describe("kexec-lab-collect --root writes cma.txt", () => {
  it("meminfo's Cma lines and every sysfs/debugfs cma file, which parseHostCma reads back", () => {
    const root = join(tmp, "root");
    for (const d of ["proc", "sys/kernel/mm/cma/reserved", "sys/kernel/debug/cma/reserved"])
      mkdirSync(join(root, d), { recursive: true });
    writeFileSync(
      join(root, "proc/meminfo"),
      "MemTotal: 2000000 kB\nCmaTotal: 65536 kB\nCmaFree: 65280 kB\n",
    );
    writeFileSync(join(root, "proc/iomem"), "00001000-7fffffff : System RAM\n");
    writeFileSync(join(root, "dmesg.txt"), `[    0.000000] Linux version 7.3.4\n${DMESG}`);
    writeFileSync(join(root, "sys/kernel/mm/cma/reserved/total_pages"), "16384\n");
    writeFileSync(join(root, "sys/kernel/mm/cma/reserved/available_pages"), "16300\n");
    writeFileSync(join(root, "sys/kernel/debug/cma/reserved/bitmap"), "4294967295 15\n");
    const out = join(tmp, "out");
    const r = spawnSyncOwned("sh", [COLLECT, "--root", root, out], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const cma = readFileSync(join(out, "cma.txt"), "utf8");
    expect(cma.split("\n")).toEqual([
      "CmaTotal: 65536 kB",
      "CmaFree: 65280 kB",
      "/sys/kernel/mm/cma/reserved/available_pages: 16300",
      "/sys/kernel/mm/cma/reserved/total_pages: 16384",
      "/sys/kernel/debug/cma/reserved/bitmap: 4294967295 15",
      "",
    ]);
    const c = parseHostCma(cma, readFileSync(join(out, "dmesg.txt"), "utf8"))!;
    expect(c.used).toBe(84 * 4096);
    // a kernel without CMA: no cma.txt, and the log says why
    const bare = join(tmp, "bare");
    mkdirSync(join(bare, "proc"), { recursive: true });
    writeFileSync(join(bare, "proc/iomem"), "00001000-7fffffff : System RAM\n");
    writeFileSync(join(bare, "proc/meminfo"), "MemTotal: 2000000 kB\n");
    const out2 = join(tmp, "out2");
    expect(spawnSyncOwned("sh", [COLLECT, "--root", bare, out2]).status).toBe(0);
    expect(readFileSync(join(out2, "collect.log"), "utf8")).toMatch(/^missing cma\.txt: /m);
  });
});
