/**
 * The shape of the real-kexec recordings (test/fixtures/recordings, written by `npm run record:kexec`; format in
 * that folder's README.md). Needs no QEMU: it checks that every case has the files its case.json promises, that
 * the guest's own records agree with the QEMU setup the case says it used, and that every successful load left
 * its segment table (kexec-tools' `kexec -d` table for kexec_load, the kernel's kexec_file pr_debug lines for
 * kexec_file_load).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { dataManifest } from "./helpers/data.js";

const DIR = fileURLToPath(new URL("./fixtures/recordings/", import.meta.url));

// data:<key of test/fixtures/data-manifest.json> (a Debian kernel of the test data) or artifact:<path> (built)
const fileRef = z
  .string()
  .regex(
    /^(data:[\w.-]+|artifact:[\w./-]+|deb:[\w.+-]+=[\w.+~:-]+:[\w./+-]+|testkey:deb:[\w.+-]+=[\w.+~:-]+:[\w./+-]+)$/,
  );
const sha = z.string().regex(/^[0-9a-f]{64}$/);
const CaseJson = z.object({
  id: z.string(),
  arch: z.enum(["x86_64", "arm64"]),
  qemu: z.object({
    binary: z.enum(["qemu-system-x86_64", "qemu-system-aarch64"]),
    machine: z.enum(["q35", "pc", "virt"]),
    cpu: z.string(),
    memory: z.string().regex(/^\d+G$/),
    smp: z.number().int().positive(),
    append: z.string(),
  }),
  runningKernel: z.object({ file: fileRef, uname: z.string().min(1), sha256: sha }),
  kexecTools: z.object({
    version: z.string().regex(/^\d+\.\d+\.\d+/),
    debianPackage: z.string().regex(/^kexec-tools_\d+:[\w.+~-]+_(amd64|arm64)\.deb$/),
  }),
  command: z.array(z.string()).min(3),
  syscall: z.enum(["kexec_load", "kexec_file_load"]),
  crash: z.boolean(),
  loaded: z.object({
    kernel: z.object({
      file: fileRef,
      size: z.number().int().positive(),
      sha256: sha,
      head: z.string().optional(),
    }),
    initrd: z.object({ size: z.number().int().positive(), sha256: sha }).nullable(),
    append: z.string(),
  }),
  exitCode: z.number().int().min(0).max(255),
  confirmed: z.boolean(),
  confirmNote: z.string().min(1),
  recordedAt: z.string().datetime(),
  durationSeconds: z.number().positive(),
  files: z.array(z.string()),
});
type Case = z.infer<typeof CaseJson>;

const COMMON_FILES = [
  "case.json",
  "kexec-d.txt",
  "dmesg.txt",
  "iomem.txt",
  "memmap.txt",
  "memblock-memory.txt",
  "memblock-reserved.txt",
  "cmdline.txt",
  "meminfo.txt",
  "nproc.txt",
  "kexec_crash_size.txt",
  "uname.txt",
  "kexec-version.txt",
];

const ids = existsSync(DIR)
  ? readdirSync(DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];
const read = (id: string, f: string): string => readFileSync(`${DIR}${id}/${f}`, "utf8");
const load = (id: string): Case => CaseJson.parse(JSON.parse(read(id, "case.json")));

/** kexec-tools' `kexec -d` segment table (kexec/kexec.c, the debug print before kexec_load). */
function kexecLoadSegments(text: string): { mem: number; memsz: number; bufsz: number }[] {
  const n = /^nr_segments = (\d+)$/m.exec(text);
  if (!n) return [];
  const segs = [];
  for (let i = 0; i < Number(n[1]); i++) {
    const field = (f: string): number => {
      const m = new RegExp(`^segment\\[${i}\\]\\.${f}\\s+= (0x[0-9a-f]+)$`, "m").exec(text);
      if (!m) throw new Error(`segment[${i}].${f} missing`);
      return Number(m[1]);
    };
    segs.push({ mem: field("mem"), memsz: field("memsz"), bufsz: field("bufsz") });
  }
  return segs;
}

/**
 * The kernel's kexec_file segment lines (kernel/kexec_file.c): 6.1's "Loading segment N: ..." or 6.8+'s
 * "segment[N]: ..." (printed only for KEXEC_FILE_DEBUG).
 */
function kexecFileSegments(dmesg: string): { mem: number; memsz: number; bufsz: number }[] {
  return [
    ...dmesg.matchAll(
      /(?:Loading segment (\d+):|segment\[\d+\]:) buf=\S+ bufsz=(0x[0-9a-f]+) mem=(0x[0-9a-f]+) memsz=(0x[0-9a-f]+)/g,
    ),
  ].map((m) => ({ bufsz: Number(m[2]), mem: Number(m[3]), memsz: Number(m[4]) }));
}

describe("recordings: index and purgatory", () => {
  it("index.json lists exactly the case directories", () => {
    const index = JSON.parse(readFileSync(`${DIR}index.json`, "utf8")) as { cases: { id: string }[] };
    expect(index.cases.map((c) => c.id).sort()).toEqual(ids);
    expect(ids.length).toBeGreaterThan(0);
  });

  it("purgatory.json: one ET_REL purgatory per Debian kexec binary, its section table ends the ELF", () => {
    const p = JSON.parse(readFileSync(`${DIR}purgatory.json`, "utf8")) as {
      entries: {
        arch: string;
        embeddedRelocatables: number;
        purgatory: {
          offset: number;
          size: number;
          sections: { name: string; size: number; offset: number }[];
        };
      }[];
    };
    expect(p.entries.length).toBeGreaterThanOrEqual(2);
    for (const e of p.entries) {
      expect(e.embeddedRelocatables).toBe(1);
      const names = e.purgatory.sections.map((s) => s.name);
      expect(names).toContain(".text");
      expect(names).toContain(".symtab");
      expect(names[0]).toBe("");
      for (const s of e.purgatory.sections) expect(s.offset + s.size).toBeLessThanOrEqual(e.purgatory.size);
    }
  });
});

it("the recordings folder has cases (an empty list would check nothing)", () => {
  expect(ids.length).toBeGreaterThan(0);
});

describe.each(ids)("recording %s", (id) => {
  const c = load(id);

  it("case.json matches its directory and lists files that exist", () => {
    expect(c.id).toBe(id);
    const present = readdirSync(`${DIR}${id}`).sort();
    expect(c.files.slice().sort()).toEqual(present);
    for (const f of COMMON_FILES) expect(present).toContain(f);
    if (c.arch === "arm64") expect(present).toContain("fdt.dtb");
    if (c.loaded.kernel.file.startsWith("artifact:")) {
      expect(c.loaded.kernel.head).toBe("kernel-head.bin");
      const head = readFileSync(`${DIR}${id}/kernel-head.bin`);
      expect(head.length).toBe(Math.min(65536, c.loaded.kernel.size));
    }
    // a data:<key> kernel is the manifest's file: the sha256 (and size) the recording saw
    for (const k of [c.runningKernel, c.loaded.kernel]) {
      if (!k.file.startsWith("data:")) continue;
      const entry = dataManifest().files[k.file.slice("data:".length)];
      expect(entry, k.file).toBeDefined();
      expect(entry!.sha256, k.file).toBe(k.sha256);
      if ("size" in k) expect(entry!.size, k.file).toBe(k.size);
    }
    expect(c.command[0]).toBe("kexec");
    expect(c.command.includes("-s")).toBe(c.syscall === "kexec_file_load");
    expect(c.command.includes("-p")).toBe(c.crash);
  });

  it("the guest's records agree with the QEMU setup", () => {
    expect(read(id, "cmdline.txt").trim()).toBe(c.qemu.append);
    expect(read(id, "uname.txt").trim()).toBe(c.runningKernel.uname);
    expect(Number(read(id, "nproc.txt").trim())).toBe(c.qemu.smp);
    expect(read(id, "meminfo.txt")).toMatch(/^MemTotal:\s+\d+ kB\nMemFree:\s+\d+ kB\n$/);
    expect(read(id, "kexec-version.txt")).toContain(`kexec-tools ${c.kexecTools.version}`);
    expect(read(id, "iomem.txt")).toMatch(/^[0-9a-f]+-[0-9a-f]+ : System RAM$/m);
    const crashSize = Number(read(id, "kexec_crash_size.txt").trim());
    // crashkernel= asked for a reservation; it is 0 where the boot could not make it (the -too-large cases)
    const failedAtBoot = /Memory for crashkernel is not reserved/.test(read(id, "kexec-d.txt"));
    expect(crashSize > 0).toBe(/crashkernel=/.test(c.qemu.append) && !failedAtBoot);
    if (c.arch === "arm64") {
      const dtb = readFileSync(`${DIR}${id}/fdt.dtb`);
      expect(dtb.readUInt32BE(0)).toBe(0xd00dfeed);
      expect(dtb.readUInt32BE(4)).toBe(dtb.length);
    } else {
      expect(read(id, "memmap.txt")).toMatch(/^0x[0-9a-f]+ 0x[0-9a-f]+ System RAM$/m);
    }
  });

  it("a successful load left its segment table; a failed one is not confirmed", () => {
    if (c.exitCode !== 0) {
      expect(c.confirmed).toBe(false);
      return;
    }
    const segs =
      c.syscall === "kexec_load"
        ? kexecLoadSegments(read(id, "kexec-d.txt"))
        : kexecFileSegments(read(id, "dmesg.txt"));
    // 6.8+ prints kexec_file's segments only for KEXEC_FILE_DEBUG (kexec-tools 2.0.29+ with -d)
    if (c.syscall === "kexec_file_load" && segs.length === 0 && /-nodebugflag-/.test(id)) return;
    expect(segs.length).toBeGreaterThanOrEqual(2);
    // kernel/kexec_core.c sanity_check_segment_list: page-aligned, bufsz <= memsz, no overlap
    const sorted = segs.slice().sort((a, b) => a.mem - b.mem);
    for (let i = 0; i < sorted.length; i++) {
      expect(sorted[i].mem % 4096).toBe(0);
      expect(sorted[i].memsz % 4096).toBe(0);
      expect(sorted[i].bufsz).toBeLessThanOrEqual(sorted[i].memsz);
      if (i > 0) expect(sorted[i].mem).toBeGreaterThanOrEqual(sorted[i - 1].mem + sorted[i - 1].memsz);
    }
    if (c.confirmed) expect(c.confirmNote).toMatch(/Linux version \d/);
  });
});
