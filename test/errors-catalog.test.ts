/**
 * Every error code in the catalog has a trigger here that raises it through a real code path (the CLI
 * where a user would meet it, the library otherwise) and checks its message; the CLI prints it as
 * `kexec-lab: error[CODE]: title: detail (where)` plus the hint, exits 2 (1 for a refusal the real
 * kexec would make too: REFUSAL_CODES), and prints a stack only with
 * --trace-errors. A code added to src/errors.ts without a trigger fails to compile (`satisfies`) and fails
 * here. docs/errors.md is generated from the catalog and these triggers: UPDATE_DOCS=1 rewrites it.
 */

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CATALOG, type ErrorCode, KexecLabError, REFUSAL_CODES } from "../src/errors.js";
import { parseFdt, serializeFdt, setProp } from "../src/formats/fdt.js";
import { bzImageHeader } from "../src/formats/synth.js";
import { kexecLoad } from "../src/kimage/load.js";
import { Machine } from "../src/machine/machine.js";
import { MemoryMap } from "../src/machine/memmap.js";
import { PhysMem } from "../src/machine/physmem.js";
import { bumpAllocator, TableBuilder } from "../src/mmu/builder.js";
import { createFormat } from "../src/mmu/formats.js";
import { runCli, smallArm64Image, smallElf64 } from "./fuzz/targets.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("errors");
let n = 0;
function file(content: string | Uint8Array, name = `f${n++}`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
const IMAGE = file(smallArm64Image(), "Image");
const QEMU_DTB = dataFile("qemu-virt-4g.dtb");
const RW = { memType: "normal", writable: true, executable: false } as const;

/** How a code is met: a CLI command (args) or a library call that must throw. */
type Trigger =
  | { what: string; cli: () => string[]; detail: RegExp; env?: Record<string, string> }
  | { what: string; lib: () => unknown; detail: RegExp };

function elfWithLoads(count: number): Uint8Array {
  // smallElf64's header with `count` PT_LOADs of one page each, 2 MiB apart.
  const b = new Uint8Array(0x1000 + count * 0x1000);
  b.set(smallElf64(183).subarray(0, 64));
  const dv = new DataView(b.buffer);
  dv.setUint16(56, count, true);
  dv.setBigUint64(24, 0x40200000n, true);
  for (let i = 0; i < count; i++) {
    const ph = 64 + i * 56;
    dv.setUint32(ph, 1, true);
    dv.setUint32(ph + 4, 7, true);
    dv.setBigUint64(ph + 8, BigInt(0x1000 * (i + 1)), true);
    const pa = BigInt(0x40200000 + i * 0x200000);
    dv.setBigUint64(ph + 16, pa, true);
    dv.setBigUint64(ph + 24, pa, true);
    dv.setBigUint64(ph + 32, 0x1000n, true);
    dv.setBigUint64(ph + 40, 0x1000n, true);
    dv.setBigUint64(ph + 48, 0x1000n, true);
  }
  return b;
}

function bigDtb(): Uint8Array {
  const fdt = parseFdt(new Uint8Array(readFileSync(QEMU_DTB)));
  setProp(fdt.root, "padding", new Uint8Array(2 * 1024 * 1024 + 1));
  return serializeFdt(fdt);
}

const validateJson = (o: unknown) => ["validate", file(JSON.stringify(o)), "--json"];
const req = { arch: "arm64", pageSize: 4096, ramBytes: "64M", segments: [] };

const TRIGGERS = {
  E_USAGE: {
    what: "`run --bogus` (an unknown option)",
    cli: () => ["run", "--bogus"],
    detail: /unknown option '--bogus'/,
  },
  E_FILE_READ: {
    what: "`inspect` of a path that does not exist",
    cli: () => ["inspect", join(dir, "missing")],
    detail: /no such file \(.*missing\)/,
  },
  E_FILE_EMPTY: {
    what: "`plan --kernel` of a file of 0 bytes",
    cli: () => ["plan", "--kernel", file("", "empty-kernel")],
    detail: /--kernel has 0 bytes \(.*empty-kernel\)/,
  },
  E_FILE_EXISTS: {
    what: "`plan --out-dtb` onto an existing file without --force",
    cli: () => ["plan", "--kernel", IMAGE, "--dtb", QEMU_DTB, "--wipe-kaslr-seed", "--out-dtb", file("x")],
    detail: /refusing to overwrite/,
  },
  E_FILE_WRITE: {
    what: "`plan --out-dtb` into a directory that does not exist",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--out-dtb",
      join(dir, "no/x.dtb"),
    ],
    detail: /its directory does not exist/,
  },
  E_OUTPUT_KIND: {
    what: "`plan --out-dtb /dev/null --force` (a device node; a directory, FIFO or socket too)",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--out-dtb",
      "/dev/null",
      "--force",
    ],
    detail: /is a character device: kexec-lab writes regular files only/,
  },
  E_JSON_PARSE: {
    what: "`validate` of a file holding `{`",
    cli: () => ["validate", file("{")],
    detail: /JSON/,
  },
  E_FIELD_MISSING: {
    what: "`validate` of `{}`",
    cli: () => validateJson({}),
    detail: /"arch" is required \(arch\)/,
  },
  E_FIELD_TYPE: {
    what: "`validate` with `ramBytes: true`",
    cli: () => validateJson({ ...req, ramBytes: true }),
    detail: /expected a number or a "0x\.\.\." string, got boolean true \(ramBytes\)/,
  },
  E_FIELD_VALUE: {
    what: "`validate` with an unknown field",
    cli: () => validateJson({ ...req, colour: 1 }),
    detail: /unknown field "colour"/,
  },
  E_NUMBER_RANGE: {
    what: "`validate` with ramBytes 0x1ffffffffffffffff",
    cli: () => validateJson({ ...req, ramBytes: "0x1ffffffffffffffff" }),
    detail: /does not fit in 64 bits \(ramBytes\)/,
  },
  E_UNKNOWN_ARCH: {
    what: '`validate` with `arch: "mips"`',
    cli: () => validateJson({ ...req, arch: "mips" }),
    detail: /unknown arch "mips" \(arch\)/,
  },
  E_ARCH_MISMATCH: {
    what: "`plan` of an arm64 Image with an x86_64 recording as --host",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--host",
      fileURLToPath(new URL("fixtures/recordings/x86_64-q35-2g-kexec_load/collect", import.meta.url)),
    ],
    detail: /the kernel is an arm64 kernel, but the --host machine is x86_64 \(its uname -m\)/,
  },
  E_PAGE_SIZE: { what: "`run --granule 8k`", cli: () => ["run", "--granule", "8k"], detail: /granule "8k"/ },
  E_LIMIT: {
    what: "`--max-memory 64M run` (the default scenario needs more for exact contents)",
    cli: () => ["--max-memory", "64M", "run"],
    detail: /needs more than 64 MiB .*--max-memory/,
  },
  E_NOT_MODELED: {
    what: "a translation regime Linux does not have (64K granule with a 39-bit VA)",
    lib: () => createFormat({ arch: "arm64", granule: 65536, vaBits: 39 as 42 }),
    detail: /no 39-bit VA configuration with the 64K granule/,
  },
  E_RAM_LAYOUT: {
    what: "a memory map with overlapping RAM regions",
    lib: () =>
      MemoryMap.fromRam([
        { start: 0x40000000, end: 0x50000000 },
        { start: 0x48000000, end: 0x60000000 },
      ]),
    detail: /RAM regions overlap at 0x48000000/,
  },
  E_OUT_OF_MEMORY: {
    what: "kexec_load on a machine with one free page (the swap page finds none)",
    lib: () => {
      const m = new Machine({
        arch: "arm64",
        pageSize: 4096,
        memoryMap: new MemoryMap([
          { start: 0x40000000, end: 0x40100000, type: "ram", name: "System RAM" },
          { start: 0x40000000, end: 0x400ff000, type: "reserved", name: "reserved" },
        ]),
      });
      kexecLoad(m, [{ mem: 0x40000000, memsz: 4096, content: { kind: "synthetic", seed: 1, bufsz: 4096 } }]);
    },
    detail: /no free page left/,
  },
  E_PHYS_FAULT: {
    what: "a table builder whose allocator hands out a page outside RAM",
    lib: () => {
      const mem = new PhysMem({ pageSize: 4096, ram: [{ start: 0x40000000, end: 0x41000000 }] });
      const b = new TableBuilder(
        mem,
        createFormat({ arch: "arm64", granule: 4096, vaBits: 48 }),
        () => 0x1000,
      );
      b.map({ half: 0, va: 0, pa: 0x40000000, size: 4096, attrs: RW });
    },
    detail: /table page 0x1000 is not RAM/,
  },
  E_WRONG_FILE: {
    what: "`plan` with a DTB given as --iomem",
    cli: () => ["plan", "--kernel", IMAGE, "--iomem", QEMU_DTB],
    detail:
      /--iomem wants a \/proc\/iomem or \/sys\/firmware\/memmap dump: this is a DTB \(flattened device tree\); did you mean to pass it as --dtb\?/,
  },
  E_FORMAT_UNKNOWN: {
    what: "`inspect` of a text file that is no known format",
    cli: () => ["inspect", file("hello, world\n")],
    detail: /./,
  },
  E_FORMAT_TRUNCATED: {
    what: "`inspect` of the first 64 bytes of a DTB",
    cli: () => ["inspect", file(new Uint8Array(readFileSync(QEMU_DTB)).subarray(0, 64))],
    detail: /./,
  },
  E_FORMAT_CORRUPT: {
    what: "`inspect` of an arm64 Image whose text_offset is not 4 KiB-aligned",
    cli: () => {
      const b = smallArm64Image();
      b[8] = 0x10;
      return ["inspect", file(b)];
    },
    detail: /text_offset 0x10 is not 4 KiB-aligned/,
  },
  E_COMPRESSION_UNSUPPORTED: {
    what: "`inspect` of an lzop-compressed kernel (recognised, no browser-capable decoder)",
    cli: () => [
      "inspect",
      file(
        new Uint8Array([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x30, 0x20, 0xa0]),
        "Image.lzo",
      ),
    ],
    detail: /lzo-compressed: kexec-lab recognises lzo but has no browser-capable decoder/,
  },
  E_KERNEL_UNSUPPORTED: {
    what: "`plan --arch arm64` with an x86_64 bzImage",
    cli: () => [
      "plan",
      "--arch",
      "arm64",
      "--kernel",
      dataFile("debian-6.1.0-56-cloud-amd64.bzImage"),
      "--dtb",
      QEMU_DTB,
    ],
    detail: /arm64 loads an Image or an ELF64 vmlinux; this file is bzimage/,
  },
  E_NO_MEMORY_MAP: {
    what: "`plan --arch x86_64` without --iomem",
    cli: () => ["plan", "--arch", "x86_64", "--kernel", dataFile("debian-6.1.0-56-cloud-amd64.bzImage")],
    detail: /x86_64 needs --iomem/,
  },
  E_NO_HOLE: {
    what: "`plan --mem-max` below the end of the first page of RAM",
    cli: () => [
      "plan",
      "--loader",
      "kexec-tools",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--mem-max",
      "0x40001000",
    ],
    detail: /kernel: no free range/,
  },
  E_CRASH_NOT_RESERVED: {
    what: "`plan --crashkernel 256M@0x200000000` above the end of a 4 GiB arm64 machine's RAM",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--iomem",
      file("40000000-13fffffff : System RAM\n"),
      "--crashkernel",
      "256M@0x200000000",
    ],
    detail: /above the end of RAM \(0x140000000\).*crashkernel reservation failed - memory is in use/,
  },
  E_INITRD_WINDOW: {
    what: "`plan` whose initrd only fits in a RAM bank 60 GiB above the kernel",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--iomem",
      file("40000000-40ffffff : System RAM\n1000000000-103fffffff : System RAM\n"),
      "--initrd",
      file(new Uint8Array(16 * 1024 * 1024)),
    ],
    detail: /image \+ initrd too big/,
  },
  E_DTB_TOO_BIG: {
    what: "`plan` with a DTB of more than 2 MiB",
    cli: () => ["plan", "--kernel", IMAGE, "--dtb", file(bigDtb()), "--wipe-kaslr-seed"],
    detail: /booting\.rst allows at most 2 MiB/,
  },
  E_TOO_MANY_SEGMENTS: {
    what: "`plan` of an ELF kernel with 17 PT_LOAD segments",
    cli: () => ["plan", "--kernel", file(elfWithLoads(17)), "--dtb", QEMU_DTB, "--wipe-kaslr-seed"],
    detail: /kexec_load takes at most 16/,
  },
  E_SYSCALL_REFUSED: {
    what: "`plan --loader kexec-file` of an ELF vmlinux on arm64 (image_probe refuses it)",
    cli: () => ["plan", "--loader", "kexec-file", "--kernel", file(elfWithLoads(1)), "--dtb", QEMU_DTB],
    detail: /EINVAL: arm64 kexec_file_load takes an Image/,
  },
  E_CRASHKERNEL_NOT_RESERVED: {
    what: "`plan --crashkernel 3G --host` of a 4 GiB arm64 machine whose 6.1 kernel reserves only below 4 GiB",
    cli: () => [
      "plan",
      "--kernel",
      IMAGE,
      "--host",
      join(
        fileURLToPath(new URL(".", import.meta.url)),
        "fixtures/recordings/arm64-virt-4g-crash-kexec_load/collect",
      ),
      "--crashkernel",
      "3G",
    ],
    detail:
      /crashkernel=3G: no free range fits \(the kernel logs "cannot allocate crashkernel \(size:0xc0000000\)"\)/,
  },
  E_GATE_REFUSED: {
    what: "`plan --lockdown integrity --loader kexec-tools` (kexec_load under lockdown)",
    cli: () => [
      "plan",
      "--loader",
      "kexec-tools",
      "--lockdown",
      "integrity",
      "--kernel",
      file(bzImageHeader({ initSize: 32 * 1024 * 1024 }, 1024 * 1024)),
      "--iomem",
      file("00001000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n"),
    ],
    detail: /kexec_load fails with EPERM at the lockdown gate/,
  },
  E_DTB_KASLR_SEED: {
    what: "`plan` with QEMU's DTB (non-zero /chosen/kaslr-seed) and no --wipe-kaslr-seed",
    cli: () => ["plan", "--loader", "kexec-tools", "--kernel", IMAGE, "--dtb", QEMU_DTB],
    detail: /kaslr-seed/,
  },
  E_CMDLINE_TOO_LONG: {
    what: "`plan --append` of 3000 characters",
    cli: () => [
      "plan",
      "--loader",
      "kexec-tools",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--append",
      "x".repeat(3000),
    ],
    detail: /./,
  },
  E_MAP_OVERLAP: {
    what: "mapping the same page twice with a table builder",
    lib: () => {
      const mem = new PhysMem({ pageSize: 4096, ram: [{ start: 0x40000000, end: 0x41000000 }] });
      const b = new TableBuilder(
        mem,
        createFormat({ arch: "arm64", granule: 4096, vaBits: 48 }),
        bumpAllocator(mem, 0x40000000, 0x40100000, 4096),
      );
      b.map({ half: 0, va: 0x200000, pa: 0x40800000, size: 4096, attrs: RW });
      b.map({ half: 0, va: 0x200000, pa: 0x40800000, size: 4096, attrs: RW });
    },
    detail: /va 0x200000 is already mapped/,
  },
  E_MAP_RANGE: {
    what: "mapping an unaligned VA",
    lib: () => {
      const mem = new PhysMem({ pageSize: 4096, ram: [{ start: 0x40000000, end: 0x41000000 }] });
      const b = new TableBuilder(
        mem,
        createFormat({ arch: "arm64", granule: 4096, vaBits: 48 }),
        bumpAllocator(mem, 0x40000000, 0x40100000, 4096),
      );
      b.map({ half: 0, va: 0x200800, pa: 0x40800000, size: 4096, attrs: RW });
    },
    detail: /./,
  },
  E_STRATEGY: {
    what: "`run --load-strategy` of a module whose strategy throws in prepare()",
    cli: () => [
      "run",
      "--load-strategy",
      file(
        `export const bad = { name: "bad", description: "", arches: ["arm64"], phase: "after-segments", prepare() { throw new Error("boom"); } };\n`,
        "throws.mjs",
      ),
    ],
    detail: /strategy "bad" \(from .*throws\.mjs\) threw: boom/,
  },
  E_STRATEGY_MODULE: {
    what: "`run --load-strategy` of a module that exports no strategy",
    cli: () => ["run", "--load-strategy", file("export const x = 1;\n", "empty.mjs")],
    detail: /the module exports no relocation strategy \(exports: x\)/,
  },
  E_TOOL_MISSING: {
    what: "`emit --run` on a machine without QEMU (PATH emptied)",
    cli: () => ["emit", "--run", "--timeout", "1"],
    env: { PATH: dir },
    detail: /qemu-system-aarch64 is not installed/,
  },
  E_DOWNLOAD: {
    what: "`crashkernel --verify` with an empty --cache and a Debian mirror that does not answer (KEXEC_LAB_DEBIAN_MIRROR=http://127.0.0.1:9)",
    cli: () => [
      "crashkernel",
      "--verify",
      "--kernel",
      IMAGE,
      "--crashkernel",
      "256M",
      "--cache",
      join(dir, "empty-cache"),
    ],
    env: {
      KEXEC_LAB_DEBIAN_MIRROR: "http://127.0.0.1:9/debian",
      KEXEC_LAB_DEBIAN_SECURITY_MIRROR: "http://127.0.0.1:9/debian-security",
    },
    detail:
      /fetching Debian.s kexec-tools \(bookworm, arm64\) into .*empty-cache failed: apt-get update -qq exited 100: Failed to fetch http:\/\/127\.0\.0\.1:9\//,
  },
} satisfies Record<ErrorCode, Trigger>;

const LINE = /^kexec-lab: error\[(E_[A-Z0-9_]+)\]: (.*)\n {2}hint: (.*)\n$/;

describe("error catalog", () => {
  it("every code has a trigger, and every trigger a code", () => {
    expect(Object.keys(TRIGGERS).sort()).toEqual(Object.keys(CATALOG).sort());
  });

  it("every catalog entry has a title and a hint that say something", () => {
    for (const [code, e] of Object.entries(CATALOG)) {
      expect(e.title.length, code).toBeGreaterThan(5);
      expect(e.hint.length, code).toBeGreaterThan(10);
      expect(e.title, code).not.toMatch(/\.$/);
    }
  });

  for (const [code, t] of Object.entries(TRIGGERS) as [ErrorCode, Trigger][]) {
    const title = CATALOG[code].title;
    if ("cli" in t) {
      const exit = REFUSAL_CODES.has(code) ? 1 : 2;
      it(`${code}: ${t.what}: exit ${exit}, one error line and the hint, no stack`, async () => {
        const saved = { ...process.env };
        Object.assign(process.env, t.env ?? {});
        const r = await runCli(t.cli()).finally(() => {
          for (const k of Object.keys(t.env ?? {})) process.env[k] = saved[k];
        });
        expect(r.code).toBe(exit);
        const m = LINE.exec(r.err);
        expect(m, r.err).not.toBeNull();
        expect(m![1]).toBe(code);
        expect(m![2]!.startsWith(`${title}: `), m![2]).toBe(true);
        expect(m![2]).toMatch(t.detail);
        expect(m![3]).toBe(CATALOG[code].hint);
        expect(r.err).not.toMatch(/\n\s+at /);
      });
    } else {
      it(`${code}: ${t.what}`, () => {
        let caught: unknown;
        try {
          t.lib();
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(KexecLabError);
        const e = caught as KexecLabError;
        expect(e.code).toBe(code);
        expect(e.message.startsWith(`${title}: `), e.message).toBe(true);
        expect(e.message).toMatch(t.detail);
        expect(e.hint).toBe(CATALOG[code].hint);
        expect(JSON.parse(JSON.stringify(e))).toMatchObject({ code, hint: CATALOG[code].hint });
      });
    }
  }

  it("--trace-errors adds the stack trace, and only then", async () => {
    const args = TRIGGERS.E_FILE_READ.cli();
    const plain = await runCli(args);
    const debug = await runCli(["--trace-errors", ...args]);
    expect(plain.err).not.toMatch(/\n\s+at /);
    expect(debug.code).toBe(2);
    expect(debug.err.startsWith(plain.err)).toBe(true);
    expect(debug.err).toMatch(/\n\s+at /);
  });
});

// ---- docs/errors.md ------------------------------------------------------------------------------

const DOC = fileURLToPath(new URL("../docs/errors.md", import.meta.url));

function errorsDoc(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = (Object.keys(CATALOG) as ErrorCode[]).map(
    (c) =>
      `| \`${c}\` | ${esc(CATALOG[c].title)} | ${REFUSAL_CODES.has(c) ? "refusal (exit 1)" : "bad input (exit 2)"} | ${esc(CATALOG[c].hint)} | ${esc(TRIGGERS[c].what)} |`,
  );
  return `# Error codes

Generated from \`src/errors.ts\` and the triggers in \`test/errors-catalog.test.ts\`
(\`UPDATE_DOCS=1 npx vitest run test/errors-catalog.test.ts\` rewrites this file; the test fails when it is stale).

Every bad input ends in one of these codes. The CLI prints

    kexec-lab: error[CODE]: title: detail (file:offset, field)
      hint: what to do

on stderr and exits 2, or 1 for the codes marked "refusal" (the real kexec-tools or kernel would refuse
the load too; exit 1 also means a verification failed; 0 is success). \`--trace-errors\` adds the stack trace. With \`--json\`, a command that fails
also prints one JSON document on stdout, \`{"error": {code, kind, exitCode, message, hint, where: {file, offset, field}}}\`
([json.md](json.md#errors)); library callers get the same fields from \`KexecLabError.toJSON()\`. Anything else on
stderr (\`error[E_INTERNAL]\`) is a bug in kexec-lab: please report it with the input (docs/security.md).

Interrupted by SIGINT or SIGTERM, a command prints \`kexec-lab: interrupted by SIGINT: ...\` and exits 130
(143 for SIGTERM), as shells expect, after killing its child processes (QEMU) and removing its
temporary directories and the temporary file of an unfinished output (outputs are written into the
target's directory and renamed: a file is complete or absent). The command runs on a worker thread, so
the signal is acted on at once, also in the middle of a simulation (src/cli/thread.ts, src/cli/signals.ts).
Outputs are regular files only: a device node, FIFO, socket or directory is refused (\`E_OUTPUT_KIND\`),
a symbolic link is followed to the file it names, and \`-\` is standard output for a text output.

| code | title | kind | hint | example that triggers it |
| --- | --- | --- | --- | --- |
${rows.join("\n")}
`;
}

describe("docs/errors.md", () => {
  it("is the table generated from the catalog", () => {
    const want = errorsDoc();
    if (process.env.UPDATE_DOCS) {
      mkdirSync(fileURLToPath(new URL("../docs/", import.meta.url)), { recursive: true });
      writeFileSync(DOC, want);
    }
    expect(readFileSync(DOC, "utf8")).toBe(want);
  });
});
