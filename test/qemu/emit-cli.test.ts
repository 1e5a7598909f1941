/** `kexec-lab emit`, in process. */

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { makeTempDir } from "../../src/node/tmp.js";
import { QEMU_ARM64, QEMU_X86, requireTool } from "./harness.js";

function fakeIo(cwd = process.cwd()): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
    isTTY: false,
    stderrTTY: false,
    env: {},
    cwd,
  };
  return io;
}

const haveArm = requireTool(QEMU_ARM64);
const haveX86 = requireTool(QEMU_X86);

describe("kexec-lab emit", () => {
  it("--help lists the targets and examples", async () => {
    const io = fakeIo();
    expect(await main(["emit", "--help"], io)).toBe(0);
    expect(io.out).toContain("qemu-virt-arm64");
    expect(io.out).toContain("Examples:");
  });

  it("refuses to do nothing, and a bad granule, with exit 2", async () => {
    let io = fakeIo();
    expect(await main(["emit"], io)).toBe(2);
    expect(io.err).toContain("E_USAGE");
    io = fakeIo();
    expect(await main(["emit", "--granule", "8K", "--run"], io)).toBe(2);
    expect(io.err).toContain("E_PAGE_SIZE");
    io = fakeIo();
    expect(await main(["emit", "--target", "qemu-pc-x86_64", "--granule", "16K", "--run"], io)).toBe(2);
  });

  it("--out writes the blobs, expected memory, manifest and script; same inputs, same bytes", async () => {
    const tmp = makeTempDir("kexec-lab-emit");
    const dir = tmp.path;
    try {
      const io = fakeIo(dir);
      expect(
        await main(["emit", "--strategy", "mmu-off", "--granule", "64K", "--out", "a", "--json"], io),
      ).toBe(0);
      const doc = JSON.parse(io.out) as { files: string[]; checks: { size: number }[] };
      expect(doc.files).toContain("manifest.json");
      for (const f of doc.files) expect(existsSync(join(dir, "a", f)), f).toBe(true);
      const manifest = JSON.parse(readFileSync(join(dir, "a", "manifest.json"), "utf8")) as {
        args: string[];
        checks: { expected: string; size: number; offset: number }[];
      };
      expect(manifest.args).toContain("-no-shutdown");
      // expected.img and ram.img are sparse RAM images of QEMU's -m (64 MiB for the built-in scenario)
      expect(statSync(join(dir, "a", "expected.img")).size).toBe(64 * 1024 * 1024);
      expect(statSync(join(dir, "a", "ram.img")).size).toBe(64 * 1024 * 1024);
      for (const c of manifest.checks) {
        expect(c.expected).toBe("expected.img");
        expect(c.offset + c.size).toBeLessThanOrEqual(64 * 1024 * 1024);
      }
      const again = fakeIo(dir);
      expect(
        await main(["emit", "--strategy", "mmu-off", "--granule", "64K", "--out", "b", "--json"], again),
      ).toBe(0);
      for (const f of doc.files.filter((x) => x !== "manifest.json")) {
        expect(readFileSync(join(dir, "b", f)).equals(readFileSync(join(dir, "a", f))), f).toBe(true);
      }
      // an existing directory's files are kept without --force
      const refused = fakeIo(dir);
      expect(await main(["emit", "--strategy", "mmu-off", "--granule", "64K", "--out", "a"], refused)).toBe(
        2,
      );
      expect(refused.err).toContain("E_FILE_EXISTS");
    } finally {
      tmp.dispose();
    }
  });

  it.skipIf(!haveArm)(
    "--run: linear-map-copy on QEMU equals the simulator (exit 0)",
    { timeout: 120_000 },
    async () => {
      const io = fakeIo();
      expect(await main(["emit", "--granule", "16K", "--run", "--json"], io)).toBe(0);
      const doc = JSON.parse(io.out) as {
        qemu: { verified: boolean; differences: string[]; pagesCopied: number };
      };
      expect(doc.qemu).toMatchObject({ verified: true, differences: [] });
      // kernel 4 MiB + initrd 2 MiB + dtb 2 MiB in 16K pages
      expect(doc.qemu.pagesCopied).toBe((8 * 1024 * 1024) / 16384);
    },
  );

  it.skipIf(!haveX86)(
    "--run: x86-ident swap with NX cleared equals the simulator",
    { timeout: 120_000 },
    async () => {
      const io = fakeIo();
      const code = await main(
        ["emit", "--target", "qemu-pc-x86_64", "--x86-swap", "--x86-clear-nx", "--run"],
        io,
      );
      expect(io.out).toContain("equal the simulator's byte for byte");
      expect(code).toBe(0);
    },
  );

  it.skipIf(!haveArm)(
    "--scenario: the 4 GiB QEMU virt example through va-copy on QEMU",
    { timeout: 180_000 },
    async () => {
      const io = fakeIo();
      const code = await main(
        ["emit", "--scenario", "examples/qemu-virt-4g.json", "--strategy", "va-copy", "--run", "--json"],
        io,
      );
      const doc = JSON.parse(io.out) as {
        pageSize: number;
        checks: { label: string }[];
        qemu: { verified: boolean };
      };
      expect(doc.checks.map((c) => c.label).slice(0, 4)).toEqual(["kernel", "dtb", "purgatory", "initrd"]);
      expect(doc.qemu.verified).toBe(true);
      expect(code).toBe(0);
    },
  );

  it("--scenario that does not fit the target is refused with a catalogued error", async () => {
    let io = fakeIo();
    expect(await main(["emit", "--scenario", "examples/juno-16k-random.json", "--run"], io)).toBe(2);
    expect(io.err).toContain("E_LIMIT");
    io = fakeIo();
    expect(
      await main(
        ["emit", "--scenario", "examples/qemu-virt-4g.json", "--target", "qemu-pc-x86_64", "--run"],
        io,
      ),
    ).toBe(2);
    expect(io.err).toContain("E_FIELD_VALUE");
    io = fakeIo();
    expect(
      await main(
        ["emit", "--scenario", "examples/pc-4g-x86_64.json", "--target", "qemu-pc-x86_64", "--run"],
        io,
      ),
    ).toBe(2);
    expect(io.err).toContain("E_NOT_MODELED");
  });
});
