import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseBzImage } from "../src/formats/bzimage.js";
import { decompress } from "../src/formats/decompress.js";
import { bzImageHeader } from "../src/formats/synth.js";
import {
  kernelPayloadOf,
  scenarioKernelPayload,
  syntheticKernelPayload,
} from "../src/model/kernel-payload.js";
import { traceModeler } from "../src/model/model.js";
import { builtinProfile } from "../src/model/profiles.js";
import { rebootReport } from "../src/model/reboot.js";
import { runScenario } from "../src/reloc/run.js";
import { savedShare } from "../src/report/run-text.js";
import { defaultScenario } from "../src/scenario/default.js";
import { loadScenario } from "../src/scenario/load.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";

const MiB = 1024 * 1024;
const altra = builtinProfile("ampere-altra");

describe("reboot report of a run", () => {
  const sc = defaultScenario("arm64", "synthetic", 1);
  const out = runScenario(sc, { strategies: ["linear-map-copy", "in-place"], model: traceModeler([altra]) });
  if (!out.ok) throw new Error("refused");
  const r = out.result;
  const kernel = syntheticKernelPayload("arm64", 28 * MiB);
  const rb = rebootReport(r, altra, { call: "kexec_load", purgatoryChecks: true, cma: false, kernel });

  it("has every phase for every strategy; the relocation phase is the trace model's time", () => {
    expect(rb.strategies.map((s) => s.strategy)).toEqual(["linear-map-copy", "in-place"]);
    const lmc = rb.strategies[0]!;
    expect(lmc.phases.map((p) => p.name)).toEqual([
      "shutdown",
      "cpu-teardown",
      "relocation",
      "purgatory",
      "decompress",
    ]);
    const reloc = lmc.phases.find((p) => p.name === "relocation")!;
    expect(reloc.seconds).toBe(r.strategies[0]!.model![0]!.seconds);
    expect(reloc.range).toEqual(r.strategies[0]!.model![0]!.range);
    expect(lmc.seconds).toBeCloseTo(
      lmc.phases.filter((p) => p.unknown === undefined).reduce((a, p) => a + p.seconds, 0),
      12,
    );
    expect(lmc.unknown).toEqual(["shutdown"]);
    expect(lmc.range[0]).toBeLessThanOrEqual(lmc.seconds);
    expect(lmc.seconds).toBeLessThanOrEqual(lmc.range[1]);
    // the in-place load relocates nothing
    expect(rb.strategies[1]!.phases.find((p) => p.name === "relocation")!.seconds).toBe(0);
    expect(rb.baseline).toBe("linear-map-copy");
  });

  it("what saves how much: --no-checks saves the purgatory, CMA on arm64 saves everything", () => {
    const purg = rb.strategies[0]!.phases.find((p) => p.name === "purgatory")!.seconds;
    const noChecks = rb.savings.find((s) => s.change.includes("--no-checks"))!;
    expect(noChecks.saved).toBeCloseTo(purg, 12);
    const cma = rb.savings.find((s) => s.change.includes("CMA"))!;
    expect(cma.seconds).toBe(0);
    const file = rb.savings.find((s) => s.change.startsWith("kexec_file_load instead"))!;
    expect(file.saved).toBeCloseTo(purg, 12);
    const granules = rb.savings.filter((s) => s.change.includes("granule")).map((s) => s.change);
    expect(granules).toEqual([
      "16K granule (CONFIG_ARM64_16K_PAGES)",
      "64K granule (CONFIG_ARM64_64K_PAGES)",
    ]);
  });

  it("--cma: nothing relocated, no purgatory on arm64 (kexec_file_load)", () => {
    const c = rebootReport(r, altra, { call: "kexec_file_load", purgatoryChecks: true, cma: true, kernel });
    for (const s of c.strategies) expect(s.seconds).toBe(0);
  });

  it("answers every question of the list in every configuration (a number, or why it is nothing)", () => {
    const topics = [/kexec_file_load|kexec_load instead/, /no-checks/, /CMA/, /uncompressed/, /granule/];
    const configs = [
      rb,
      rebootReport(r, altra, { call: "kexec_load", purgatoryChecks: false, cma: false, kernel }),
      rebootReport(r, altra, { call: "kexec_file_load", purgatoryChecks: true, cma: true, kernel }),
      rebootReport(r, altra, { call: "kexec_file_load", purgatoryChecks: true, cma: false }),
    ];
    for (const c of configs) {
      for (const t of topics) expect(c.savings.some((v) => t.test(v.change))).toBe(true);
    }
    // with CMA on, going back costs the relocation; kexec_load adds arm64's caches-off purgatory
    const cma = configs[2]!;
    const noCma = cma.savings.find((v) => v.change.startsWith("without CMA"))!;
    expect(noCma.saved).toBeCloseTo(-r.strategies[0]!.model![0]!.seconds, 12);
    const load = cma.savings.find((v) => v.change.startsWith("kexec_load instead"))!;
    expect(load.saved).toBeCloseTo(-rb.strategies[0]!.phases.find((p) => p.name === "purgatory")!.seconds, 9);
    // arm64 enters its kernel uncompressed, whatever the file was: nothing to gain
    const unknown = configs[3]!.savings.find((v) => v.change.includes("uncompressed"))!;
    expect(unknown.saved).toBe(0);
  });

  it("ranks the savings by their range, and offers parallel CPU shutdown and the crash path on many CPUs", () => {
    const many = rebootReport(r, altra, {
      call: "kexec_file_load",
      purgatoryChecks: true,
      cma: false,
      kernel,
      cpus: 128,
    });
    for (let i = 1; i < many.savings.length; i++) {
      expect(many.savings[i - 1]!.savedRange[0]).toBeGreaterThanOrEqual(many.savings[i]!.savedRange[0]);
    }
    for (const v of many.savings) {
      expect(v.savedRange[0]).toBeLessThanOrEqual(v.saved + 1e-12);
      expect(v.saved).toBeLessThanOrEqual(v.savedRange[1] + 1e-12);
    }
    const par = many.savings.find((v) => v.change.startsWith("parallel CPU shutdown"))!;
    expect(par.saved).toBeGreaterThan(20);
    expect(many.savings.some((v) => v.change.startsWith("the crash path"))).toBe(true);
    // on 128 CPUs with kexec_file_load (no purgatory on arm64) the teardown is the largest phase
    const lmc = many.strategies[0]!;
    const top = lmc.phases.reduce((a, p) => (p.seconds > a.seconds ? p : a));
    expect(top.name).toBe("cpu-teardown");
  });

  it("the crash path with crashkernel=,cma waits 10 s; without ,cma saves it", () => {
    const c = rebootReport(r, altra, {
      call: "kexec_load",
      purgatoryChecks: true,
      cma: false,
      kernel,
      path: "crash",
      crashCma: true,
      cpus: 8,
    });
    const ph = c.strategies[0]!.phases;
    expect(ph.find((p) => p.name === "cma-dma-wait")!.seconds).toBe(10);
    expect(ph.find((p) => p.name === "relocation")!.seconds).toBe(0);
    expect(ph.find((p) => p.name === "cpu-teardown")!.unknown).toBeDefined();
    const s = c.savings.find((v) => v.change.includes("without ,cma"))!;
    expect(s.saved).toBeCloseTo(10, 12);
  });

  it("is deterministic", () => {
    const again = rebootReport(r, altra, { call: "kexec_load", purgatoryChecks: true, cma: false, kernel });
    expect(JSON.stringify(again)).toBe(JSON.stringify(rb));
  });
});

describe("kernel payload", () => {
  it("an x86_64 bzImage is decompressed at boot; an arm64 Image is not", () => {
    const bz = kernelPayloadOf(bzImageHeader({ initSize: 44 * MiB }, 8 * MiB));
    expect(bz.format).toBe("bzImage");
    expect(bz.uncompressedBytes).toBeGreaterThan(bz.compressedBytes);
    expect(syntheticKernelPayload("arm64", 10).format).toBe("Image");
  });
});

describe("a bzImage's uncompressed size: the payload's appended size, bounded by init_size", () => {
  /** A bzImage header with a `len`-byte payload of `magic` ending in `size` (LE u32). */
  const withPayload = (magic: number[], len: number, size: number, initSize = 44 * MiB) => {
    const b = bzImageHeader({ initSize }, len);
    const v = new DataView(b.buffer);
    v.setUint32(0x248, 0, true); // payload_offset: the start of the protected-mode code
    v.setUint32(0x24c, len, true); // payload_length
    const at = 5 * 512;
    b.set(magic, at);
    v.setUint32(at + len - 4, size, true);
    return b;
  };
  const ZSTD = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];

  it("reads it for every codec, not only gzip, and says it is from the file", () => {
    const k = kernelPayloadOf(withPayload(ZSTD, 64 * 1024, 30 * MiB));
    expect(k).toMatchObject({ codec: "zstd", compressedBytes: 64 * 1024, uncompressedBytes: 30 * MiB });
    expect(k.sizeFrom).toBe("file");
  });

  it("falls back to the assumed ratio when the size is past init_size or the payload is not there", () => {
    const big = kernelPayloadOf(withPayload(ZSTD, 64 * 1024, 60 * MiB));
    expect(big.sizeFrom).toBe("assumed");
    expect(big.uncompressedBytes).not.toBe(60 * MiB);
    const whole = withPayload(ZSTD, 64 * 1024, 30 * MiB);
    const cut = kernelPayloadOf(whole.subarray(0, 5 * 512 + 1024), whole.length);
    expect(cut.codec).toBe("zstd");
    expect(cut.sizeFrom).toBe("assumed");
  });

  it("the Debian 6.1 amd64 bzImage (lz4): the size the kernel decompresses to, checked by decompressing it", async () => {
    const file = readFileSync(dataFile("debian-6.1.0-56-cloud-amd64.bzImage"));
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    const k = kernelPayloadOf(bytes);
    expect(k.codec).toBe("lz4");
    expect(k.sizeFrom).toBe("file");
    const bz = parseBzImage(bytes);
    const at = bz.setupSize + bz.payloadOffset;
    const out = await decompress(bytes.subarray(at, at + bz.payloadLength), "lz4-legacy");
    expect(k.uncompressedBytes).toBe(out.bytes.length);
    expect(k.uncompressedBytes).toBeLessThanOrEqual(bz.initSize);
    expect(k.compressedBytes).toBe(bz.payloadLength);
  });
});

describe("the kernel of a scenario file", () => {
  const machine = {
    arch: "x86_64",
    memoryMap: [{ start: "0x100000", end: "0x100000000", type: "ram" }],
  };
  const noRead = (path: string): Uint8Array => {
    throw new Error(`read ${path}`);
  };

  it("synthetic kernel segment: the arch's kernel (x86_64 bzImage, sizes assumed)", () => {
    const sc = loadScenario({ machine, segments: [{ label: "kernel", mem: "0x1000000", memsz: "16M" }] });
    const k = scenarioKernelPayload(sc, noRead)!;
    expect(k.format).toBe("bzImage");
    expect(k.sizeFrom).toBe("assumed");
    expect(k.compressedBytes).toBe(16 * MiB - 0x4000);
  });

  it("a file segment is read and recognised; no kernel segment: undefined", () => {
    const bz = bzImageHeader({ initSize: 44 * MiB }, 8 * MiB);
    const sc = loadScenario({
      machine,
      segments: [{ label: "kernel", mem: "0x1000000", memsz: "16M", content: { kind: "file", path: "bz" } }],
    });
    expect(scenarioKernelPayload(sc, () => bz)).toEqual(kernelPayloadOf(bz));
    const none = loadScenario({ machine, segments: [{ label: "initrd", mem: "0x1000000", memsz: "16M" }] });
    expect(scenarioKernelPayload(none, noRead)).toBeUndefined();
  });

  it("run --scenario models the kernel's phases (bzImage self-decompression on x86_64)", async () => {
    const r = await runCli([
      "run",
      "--scenario",
      "examples/pc-4g-x86_64.json",
      "--strategy",
      "x86-ident",
      "--json",
    ]);
    const d = JSON.parse(r.out);
    expect(d.reboot.kernel.format).toBe("bzImage");
    const dec = d.reboot.strategies[0].phases.find((p: { name: string }) => p.name === "decompress");
    expect(dec.seconds).toBeGreaterThan(0);
    const files = JSON.parse(
      (
        await runCli([
          "run",
          "--scenario",
          "examples/debian-arm64-files.json",
          "--strategy",
          "in-place",
          "--json",
        ])
      ).out,
    );
    expect(files.reboot.kernel.format).toBe("Image");
  });
});

describe("kexec-lab run: the reboot breakdown", () => {
  const args = [
    "run",
    "--strategy",
    "linear-map-copy",
    "--content",
    "synthetic",
    "--profile",
    "ampere-altra",
  ];

  it("prints every phase and what saves how much", async () => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "kexec -e to the new kernel on ampere-altra, 1 CPU: kexec_load, purgatory checks on",
    );
    expect(r.out).toMatch(/strategy\s+shutdown\s+cpu-teardown\s+relocation\s+purgatory\s+decompress\s+total/);
    // each known phase and the total as "likely [low .. high]"
    expect(r.out).toMatch(/linear-map-copy\s+unknown\s+0\.0 µs\s+[\d.]+ ms \[[\d.]+ ms \.\. [\d.]+ ms\]/);
    expect(r.out).toContain("what saves how much (baseline linear-map-copy");
    expect(r.out).toContain("kexec --no-checks");
  });

  it("the header says when the call has no purgatory; shares never read -0.0% or -57217%", async () => {
    const r = await runCli(["run", "--scenario", "examples/published-25mb.json"]);
    expect(r.code).toBe(0);
    const header = r.out.split("\n").find((l) => l.startsWith("kexec -e"))!;
    expect(header).toContain("kexec_file_load, no purgatory (the kernel is entered directly)");
    expect(header).not.toContain("purgatory checks");
    const load = r.out.split("\n").find((l) => l.startsWith("kexec_load instead"))!;
    expect(load).toMatch(/-28\.\d+ s \[-[\d.]+ s \.\. -[\d.]+ s\] \(x5\d\d slower\)/);
    expect(r.out).not.toMatch(/-0\.0+%|-0\.0 µs|\d{4,}\.\d%/);
  });

  it("a saving's share of the current total: rounded before its sign, 'x N slower' past 100%", () => {
    expect(savedShare(0.02214, 0.04924)).toBe(" (45.0%)");
    expect(savedShare(-1.74e-3, 90)).toBe(" (0.0%)");
    expect(savedShare(-0.0534, 0.9634)).toBe(" (-5.5%)");
    expect(savedShare(-28.172, 0.04924)).toBe(" (x573 slower)");
    expect(savedShare(-0.05, 0.04)).toBe(" (x2.25 slower)");
    expect(savedShare(-0.04, 0.04)).toBe(" (-100.0%)");
    expect(savedShare(1, 0)).toBe("");
  });

  it("--cma: the kimage line says nothing is relocated at reboot instead of swap and parked counts", async () => {
    const r = await runCli([...args, "--loader", "kexec-file", "--cma"]);
    expect(r.code).toBe(0);
    const kimage = r.out.split("\n").filter((l) => l.startsWith("kimage"));
    expect(kimage[0]).toBe(
      "kimage: with CMA placement every segment is loaded at its destination: no source pages, nothing to relocate at reboot",
    );
    expect(kimage[1]).toMatch(
      /^kimage without CMA \(what the strategies below relocate\): [\d,]+ source pages/,
    );
    const plain = (await runCli(args)).out.split("\n").find((l) => l.startsWith("kimage"))!;
    expect(plain).toMatch(/^kimage: [\d,]+ source pages, .* swaps, [\d,]+ parked$/);
  });

  it("--no-checks and --cma change the scenario, and the JSON says so", async () => {
    const plain = JSON.parse((await runCli([...args, "--json"])).out);
    const noChecks = JSON.parse((await runCli([...args, "--json", "--no-checks"])).out);
    const cma = JSON.parse((await runCli([...args, "--json", "--cma"])).out);
    const purg = (d: { reboot: { strategies: { phases: { name: string; seconds: number }[] }[] } }) =>
      d.reboot.strategies[0]!.phases.find((p) => p.name === "purgatory")!.seconds;
    expect(purg(plain)).toBeGreaterThan(1);
    expect(noChecks.reboot.purgatoryChecks).toBe(false);
    expect(purg(noChecks)).toBe(0);
    expect(cma.reboot.call).toBe("kexec_file_load");
    expect(cma.reboot.strategies[0].seconds).toBe(0);
    // the relocation phase is the strategy's modeled time either way
    const reloc = noChecks.reboot.strategies[0].phases.find((p: { name: string }) => p.name === "relocation");
    expect(reloc.seconds).toBe(noChecks.strategies[0].model[0].seconds);
    // every phase carries its range in seconds beside `seconds`
    for (const p of noChecks.reboot.strategies[0].phases) {
      expect(p.range).toHaveLength(2);
      expect(p.range[0]).toBeLessThanOrEqual(p.range[1]);
    }
  });

  it("run --cpus 128 on an arm64 server: CPU teardown from its published source; --crash --cma waits 10 s", async () => {
    const r = await runCli([...args, "--cpus", "128", "--no-checks"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /largest phase \(linear-map-copy\): cpu-teardown, [\d.]+ s \[[\d.]+ s \.\. [\d.]+ s\], published: .*openEuler/,
    );
    expect(r.out).toContain("parallel CPU shutdown (the parallel-shutdown series)");
    const crash = JSON.parse((await runCli([...args, "--json", "--crash", "--cma", "--cpus", "4"])).out);
    expect(crash.reboot.path).toBe("crash");
    const wait = crash.reboot.strategies[0].phases.find((p: { name: string }) => p.name === "cma-dma-wait");
    expect(wait.seconds).toBe(10);
    const bad = await runCli([...args, "--cpus", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--cpus");
  });
});
