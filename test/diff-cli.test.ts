/**
 * `kexec-lab diff`: every recorded real log explained (issue #16 item 3), and constructed failures of
 * each errno a load returns, each explained with the check or constraint behind it.
 */

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { diffLoad, pairSegments } from "../src/diagnose/diff.js";
import { parseKexecLog } from "../src/diagnose/log.js";
import { runCli } from "./helpers/cli.js";
import {
  REPLAY_LEFT_OUT,
  recordedCases,
  recordedKernelPath,
  recordedPlanInput,
} from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REC = join(ROOT, "test/fixtures/recordings");
const tmp = testTempDir("diff");

interface Rec {
  id: string;
  dir: string;
  arch: string;
  syscall: string;
  crash: boolean;
  exitCode: number;
  kernel: string;
  initrdSize: number;
  append: string;
}
const recs: Rec[] = readdirSync(REC, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => {
    const c = JSON.parse(readFileSync(join(REC, d.name, "case.json"), "utf8"));
    return {
      id: c.id,
      dir: join(REC, d.name),
      arch: c.arch,
      syscall: c.syscall,
      crash: c.crash,
      exitCode: c.exitCode,
      kernel: recordedKernelPath(join(REC, d.name), c.loaded.kernel, tmp),
      initrdSize: c.loaded.initrd?.size ?? 0,
      append: c.loaded.append ?? c.command.find((a: string) => a.startsWith("--append="))?.slice(9) ?? "",
    };
  });

async function diff(log: string, r: Rec, extra: string[] = []) {
  const res = await runCli([
    "diff",
    log,
    "--kernel",
    r.kernel,
    ...(r.initrdSize > 0 ? ["--initrd-size", String(r.initrdSize)] : []),
    "--append",
    r.append,
    "--host",
    r.dir,
    ...(r.crash ? ["-p"] : []),
    ...(r.syscall === "kexec_file_load" ? ["--loader", "kexec-file"] : []),
    ...extra,
    "--json",
  ]);
  return { ...res, report: res.out !== "" ? JSON.parse(res.out) : undefined };
}

const arm = recs.find((r) => r.id === "arm64-virt-4g-kexec_load")!;
const armCrash = recs.find((r) => r.id === "arm64-virt-4g-crash-kexec_load")!;

describe("kexec-lab diff on the recorded real logs", () => {
  // left out: REPLAY_LEFT_OUT's cases, and the CMA loads (diff takes no CMA area yet)
  const replayable = (r: Rec) => REPLAY_LEFT_OUT[r.id] === undefined && !/-cma\d+m/.test(r.id);
  const logs = recs.filter((r) => r.syscall === "kexec_load" && r.exitCode === 0 && replayable(r));
  for (const r of logs) {
    it(`${r.id}: every difference explained`, async () => {
      const { report, err } = await diff(join(r.dir, "kexec-d.txt"), r);
      expect(err).toBe("");
      const byStatus = (s: string) => report.findings.filter((f: { status: string }) => f.status === s);
      expect(byStatus("unexplained")).toEqual([]);
      // With the recorded kexec build's purgatory, every segment, the memory ranges and the entry are
      // the same, not merely explained: nothing on a recorded load rests on a size model any more.
      expect(byStatus("explained")).toEqual([]);
      const same = byStatus("same").map((f: { topic: string }) => f.topic);
      expect(same).toContain("memory ranges");
      expect(same).toContain("flags");
      expect(same).toContain("entry");
      expect(same.filter((t: string) => t.startsWith("segment[")).length).toBeGreaterThanOrEqual(3);
    });
  }

  // kexec_file_load logs its segments in dmesg (kernel/kexec_file.c pr_debug, dynamic debug on):
  // diff reads them and compares every segment; the recorded loads match exactly.
  const fileLogs = recs.filter((r) => r.syscall === "kexec_file_load" && r.exitCode === 0 && replayable(r));
  for (const r of fileLogs) {
    it(`${r.id}: the kernel's kexec_file segments in dmesg are all the same`, async () => {
      const facts = parseKexecLog(readFileSync(join(r.dir, "dmesg.txt"), "utf8"));
      expect(facts.syscall).toBe("kexec_file_load");
      expect(facts.fileSegments?.length).toBeGreaterThan(0);
      const { report, err } = await diff(join(r.dir, "dmesg.txt"), r);
      expect(err).toBe("");
      const byStatus = (s: string) => report.findings.filter((f: { status: string }) => f.status === s);
      expect(byStatus("unexplained")).toEqual([]);
      const same = byStatus("same").map((f: { topic: string }) => f.topic);
      expect(same.filter((t: string) => t.startsWith("segment[")).length).toBe(facts.fileSegments!.length);
    });
  }

  // arm64's machine_kexec_post_load logs "kexec kimage info" (pr_debug, arch/arm64/kernel/machine_kexec.c
  // _kexec_image_info) after either syscall: diff compares its mem and memsz of every segment.
  // (7.x prints a shorter block without segments: tested below)
  const kimageLogs = recs.filter(
    (r) => r.exitCode === 0 && /\]\s+nr_segments: \d/.test(readFileSync(join(r.dir, "dmesg.txt"), "utf8")),
  );
  it("some recordings log the kimage info block", () => expect(kimageLogs.length).toBeGreaterThan(0));
  for (const r of kimageLogs) {
    it(`${r.id}: the kimage info block in dmesg is read and every segment is the same`, async () => {
      const facts = parseKexecLog(readFileSync(join(r.dir, "dmesg.txt"), "utf8"));
      expect(facts.kimageInfo?.segments.length).toBeGreaterThan(0);
      // The block does not say which syscall made the load: name it as the user would.
      const loader = r.syscall === "kexec_load" ? ["--loader", "kexec-tools"] : [];
      const { report, err } = await diff(join(r.dir, "dmesg.txt"), r, loader);
      expect(err).toBe("");
      const kimage = report.findings.filter((f: { topic: string }) => f.topic.startsWith("kimage "));
      expect(kimage.filter((f: { status: string }) => f.status !== "same")).toEqual([]);
      expect(kimage.filter((f: { topic: string }) => f.topic.startsWith("kimage segment[")).length).toBe(
        facts.kimageInfo!.segments.length,
      );
      expect(report.unexplained).toBe(0);
    });
  }

  it("7.3's short kimage info block (type, head, kern_reloc, el2_vectors) is read: its type compared, no segments or start", async () => {
    const r = recs.find((x) => x.id === "arm64-virt-4g-linux-7.3-custom-kexec_file_load")!;
    const facts = parseKexecLog(readFileSync(join(r.dir, "dmesg.txt"), "utf8"));
    expect(facts.kimageInfo).toEqual({ type: 0, segments: [] });
    const { report, err } = await diff(join(r.dir, "dmesg.txt"), r);
    expect(err).toBe("");
    const kimage = report.findings.filter((f: { topic: string }) => f.topic.startsWith("kimage "));
    expect(kimage.map((f: { topic: string; status: string }) => [f.topic, f.status])).toEqual([
      ["kimage type", "same"],
    ]);
    expect(report.unexplained).toBe(0);
  });

  it("a file with no kexec output is not a match: one unexplained finding naming what diff reads, exit 1", async () => {
    const res = await runCli([
      "diff",
      join(arm.dir, "cmdline.txt"),
      "--kernel",
      arm.kernel,
      "--initrd-size",
      String(arm.initrdSize),
      "--host",
      arm.dir,
    ]);
    expect(res.code).toBe(1);
    expect(res.out).toContain("! log: no kexec output recognised");
    expect(res.out).toContain("kexec kimage info");
    expect(res.out).toContain("1 findings, 1 not explained");
  });

  // Every recorded load that failed (exit code != 0): the failure in its log is explained by the
  // plan's own refusal (kexec-tools' "Cannot determine the file type", "Cannot load", ... or the
  // kernel's errno), nothing left unexplained.
  const failed = recs.filter((r) => r.exitCode !== 0);
  it("some recordings failed", () => expect(failed.length).toBeGreaterThanOrEqual(5));
  for (const r of failed) {
    it(`${r.id} (exit ${r.exitCode}): the failure is explained`, async () => {
      const { report, err } = await diff(join(r.dir, "kexec-d.txt"), r);
      expect(err).toBe("");
      expect(report.findings.filter((f: { status: string }) => f.status === "unexplained")).toEqual([]);
      expect(report.findings.some((f: { status: string }) => f.status === "explained")).toBe(true);
    });
  }

  it("the zboot load kexec-tools 2.0.25 cannot type is explained with E_KERNEL_UNSUPPORTED", async () => {
    const r = recs.find((x) => x.id === "arm64-virt-4g-kexec_load-zboot-gzip")!;
    const facts = parseKexecLog(readFileSync(join(r.dir, "kexec-d.txt"), "utf8"));
    expect(facts.refusals).toEqual([
      { kind: "file-type", message: "Cannot determine the file type of /k/kernel" },
    ]);
    const { report } = await diff(join(r.dir, "kexec-d.txt"), r);
    const f = report.findings.find((x: { topic: string }) => x.topic === "kexec-tools");
    expect(f.status).toBe("explained");
    expect(f.text).toContain("E_KERNEL_UNSUPPORTED");
    expect(f.text).toContain("no zboot support");
    expect(report.findings.some((x: { topic: string }) => x.topic === "placement")).toBe(false);
  });

  it("kexec-tools' refusal lines are read, and one kexec-lab places stays unexplained", async () => {
    const facts = parseKexecLog(
      "Wrong file type Image, file matches type vmlinux\nUnsupported kernel type foo\nNo crash kernel segment found in /proc/iomem\nCould not get memory layout\nInvalid memory segment 0x40000000 - 0x40010000\nkexec: setup_2nd_dtb failed.\nCannot load /k/kernel\n",
    );
    expect(facts.refusals.map((r) => r.kind)).toEqual([
      "wrong-type",
      "unsupported-type",
      "no-crash-kernel",
      "memory-layout",
      "invalid-segment",
      "step",
      "cannot-load",
    ]);
    expect(facts.unrecognisedKexecLines).toEqual([]);
    const { report } = await diff(log("cannot-load.txt", "Cannot load /k/kernel\n"), arm);
    const f = report.findings.find((x: { topic: string }) => x.topic === "kexec-tools");
    expect(f.status).toBe("unexplained");
    expect(f.text).toContain("kexec-lab places it");
  });

  it("each segment finding is named by the log's own index (x86_64 kexec_file_load: purgatory is segment 0, bootparams 1)", async () => {
    const r = recs.find((x) => x.id === "x86_64-q35-8g-kexec_file_load")!;
    const facts = parseKexecLog(readFileSync(join(r.dir, "dmesg.txt"), "utf8"));
    const { report } = await diff(join(r.dir, "dmesg.txt"), r);
    const segs = report.findings.filter((f: { topic: string }) => f.topic.startsWith("segment["));
    expect(segs.map((f: { topic: string }) => f.topic)).toEqual([
      "segment[0] (purgatory)",
      "segment[1] (bootparams)",
      "segment[2] (kernel)",
      "segment[3] (initrd)",
    ]);
    for (const f of segs) {
      const n = Number(/^segment\[(\d+)\]/.exec(f.topic)![1]);
      expect(f.text).toContain(`mem 0x${facts.fileSegments![n]!.mem.toString(16)} `);
    }
  });

  it("a segment placed elsewhere keeps the log's index and is compared with the plan's left-over segment", () => {
    const real = [
      { index: 0, mem: 0x9a000, memsz: 0x5000, bufsz: 0 },
      { index: 1, mem: 0x50000, memsz: 0x2000, bufsz: 0 },
      { index: 2, mem: 0x7cc00000, memsz: 0x1000, bufsz: 0 },
    ];
    const ours = [
      { mem: 0x98000, label: "bootparams" },
      { mem: 0x9a000, label: "purgatory" },
      { mem: 0x7cc00000, label: "kernel" },
    ];
    expect(pairSegments(real, ours).map((p) => [p.real.index, p.ours.label])).toEqual([
      [0, "purgatory"],
      [1, "bootparams"],
      [2, "kernel"],
    ]);
  });

  it("a kexec_file_load the kernel refused (syscall not available) is explained", async () => {
    const r = recs.find((x) => x.id === "arm64-virt-4g-kexec_file_load-unsupported")!;
    const facts = parseKexecLog(readFileSync(join(r.dir, "kexec-d.txt"), "utf8"));
    expect(facts.fileLoadUnavailable).toBe(true);
    const { report } = await diff(join(r.dir, "kexec-d.txt"), r);
    expect(report.unexplained).toBe(0);
    expect(JSON.stringify(report)).toContain("falls back to kexec_load");
  });
});

function log(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** The arm64 crash recording's segment table with `edit` applied, as a kexec -d log ending in `failure`. */
function crashLog(edit: (lines: string[]) => void, failure: string): string {
  const real = readFileSync(join(armCrash.dir, "kexec-d.txt"), "utf8").split("\n");
  edit(real);
  return `${real.join("\n")}\n${failure}\n`;
}

describe("kexec-lab diff: what rests on a model and what does not", () => {
  const purgatoryBufsz = /^(segment\[3\]\.bufsz = )0x3558$/m;

  it("a purgatory of another size than the given kexec build's is unexplained, with the input to check", async () => {
    const real = readFileSync(join(arm.dir, "kexec-d.txt"), "utf8");
    expect(real).toMatch(purgatoryBufsz);
    const p = log("other-purgatory.txt", real.replace(purgatoryBufsz, "$10x3600"));
    const { report } = await diff(p, arm);
    const f = report.findings.find((x: { topic: string }) => x.topic === "segment[3] (purgatory)");
    expect(f.status).toBe("unexplained");
    expect(f.text).toContain("is it the kexec that wrote the log?");
  });

  it("without a kexec binary or preset the purgatory is a model, and its size and entry are explained as such", () => {
    const c = recordedCases().find((x) => x.id === arm.id)!;
    const input = recordedPlanInput(c); // no purgatory: the default model
    const report = diffLoad({ facts: parseKexecLog(c.text("kexec-d.txt")!), plan: input });
    const purg = report.findings.filter((x) => x.topic.endsWith("(purgatory)"));
    expect(purg.length).toBeGreaterThan(0);
    for (const f of purg) expect(f.status === "same" || /is a model/.test(f.text), f.text).toBe(true);
    expect(purg.some((f) => f.status === "explained")).toBe(true);
  });

  it("a DTB of another size is unexplained and names the tree to check", async () => {
    const real = readFileSync(join(arm.dir, "kexec-d.txt"), "utf8");
    const dtbBufsz = /^(segment\[2\]\.bufsz = )0x1e8a$/m;
    expect(real).toMatch(dtbBufsz);
    const { report } = await diff(log("other-dtb.txt", real.replace(dtbBufsz, "$10x1f00")), arm);
    const f = report.findings.find((x: { topic: string }) => x.topic === "segment[2] (dtb)");
    expect(f.status).toBe("unexplained");
    expect(f.text).toContain("/sys/firmware/fdt");
  });
});

describe("kexec-lab diff on constructed failures", () => {
  it("Could not find a free area: which constraint rules out each range, the largest, the smallest change", async () => {
    const p = log(
      "nohole.txt",
      "Could not find a free area of memory of 0xc0000000 bytes...\nCannot load Image\n",
    );
    const { report } = await diff(p, { ...arm, initrdSize: 3 * 2 ** 30 });
    const f = report.findings.find((x: { topic: string }) => x.topic === "locate_hole");
    expect(f.status).toBe("explained");
    expect(f.text).toContain("kexec-lab fails too");
    expect(f.text).toMatch(/free range \[0x[0-9a-f]+, 0x[0-9a-f]+\) .*too small/);
    expect(f.text).toMatch(/smallest change: an initrd of at most 0x[0-9a-f]+ bytes/);
  });

  it("a crash load too big for its reservation: the crashkernel= that fits", async () => {
    const p = log("nohole-crash.txt", "Could not find a free area of memory of 0x12c00000 bytes...\n");
    const { report } = await diff(p, { ...armCrash, initrdSize: 300 * 2 ** 20 });
    const f = report.findings.find((x: { topic: string }) => x.topic === "locate_hole");
    expect(f.status).toBe("explained");
    expect(f.text).toMatch(/smallest change: crashkernel=\d+M@0x[0-9a-f]+ \(.* more\) fits/);
  });

  it("EADDRNOTAVAIL: a crash segment outside the reservation", async () => {
    const p = log(
      "eaddrnotavail.txt",
      crashLog((l) => {
        const i = l.findIndex((x) => x.startsWith("segment[1].mem"));
        l[i] = "segment[1].mem   = 0x40000000";
      }, "kexec_load failed: Cannot assign requested address"),
    );
    const { report } = await diff(p, armCrash);
    const f = report.findings.find((x: { topic: string }) => x.topic === "syscall");
    expect(f.status).toBe("explained");
    expect(f.text).toMatch(/EADDRNOTAVAIL: the kernel's crash_region check \(segment 1\)/);
  });

  it("EINVAL: overlapping segments", async () => {
    const p = log(
      "einval.txt",
      crashLog((l) => {
        const i = l.findIndex((x) => x.startsWith("segment[1].mem"));
        const j = l.findIndex((x) => x.startsWith("segment[0].mem"));
        l[i] = l[j]!.replace("segment[0]", "segment[1]");
      }, "kexec_load failed: Invalid argument"),
    );
    const { report } = await diff(p, armCrash);
    const f = report.findings.find((x: { topic: string }) => x.topic === "syscall");
    expect(f.status).toBe("explained");
    expect(f.text).toMatch(/EINVAL: the kernel's segment_overlap check/);
  });

  it("ENOMEM: the load's peak against MemFree", async () => {
    const p = log(
      "enomem.txt",
      `${readFileSync(join(arm.dir, "kexec-d.txt"), "utf8")}kexec_load failed: Cannot allocate memory\n`,
    );
    const { report } = await diff(p, arm, ["--mem-free", "20M"]);
    const f = report.findings.find((x: { topic: string }) => x.topic === "syscall");
    expect(f.status).toBe("explained");
    expect(f.text).toMatch(
      /ENOMEM: kimage_alloc_pages\(\) could not get the pages: the load needs .* source pages.*MemFree is 20 MiB/,
    );
  });

  it("EBUSY: another load held kexec_lock", async () => {
    const p = log("ebusy.txt", "kexec_load failed: Device or resource busy\n");
    const { report } = await diff(p, arm);
    const f = report.findings.find((x: { topic: string }) => x.topic === "syscall");
    expect(f.status).toBe("explained");
    expect(f.text).toContain("kexec_lock");
  });

  it("the syscall comes from the log: kexec_load's table, the kernel's kexec_file lines", () => {
    expect(parseKexecLog(readFileSync(join(arm.dir, "kexec-d.txt"), "utf8")).syscall).toBe("kexec_load");
    const file = recs.find((x) => x.id === "x86_64-q35-2g-kexec_file_load")!;
    expect(parseKexecLog(readFileSync(join(file.dir, "dmesg.txt"), "utf8")).syscall).toBe("kexec_file_load");
    expect(
      parseKexecLog("Could not find a free area of memory of 0x1000 bytes...\n").syscall,
    ).toBeUndefined();
  });

  it("journal prefixes are stripped, and kexec lines it does not understand are reported, not dropped", async () => {
    const facts = parseKexecLog(
      "Nov 30 09:00:00 box kernel: kexec_file_load failed: Invalid argument\n[   12.345678] kexec: weird failure here\n",
    );
    expect(facts.failures).toEqual([
      { syscall: "kexec_file_load", errno: "EINVAL", message: "kexec_file_load failed: Invalid argument" },
    ]);
    expect(facts.unrecognisedKexecLines).toEqual(["kexec: weird failure here"]);
  });
});
