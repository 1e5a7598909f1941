/**
 * Output files are written atomically (a temporary file beside the target, then rename) and never
 * left half written; an existing file is kept unless --force. Tested on writeOutputFile directly and
 * through a command that writes a file (`plan --out-dtb`).
 */

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeOutputFile } from "../src/formats/node/files.js";
import { runCli, smallArm64Image } from "./fuzz/targets.js";
import { dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";
import { testTempDir } from "./helpers/tmp.js";

const root = testTempDir("files");
let n = 0;
const fresh = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};

describe("writeOutputFile", () => {
  it("writes the whole content and leaves no temporary file", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.boolean(), (data, asText) => {
        const d = fresh();
        const p = join(d, "out.bin");
        const content = asText ? Buffer.from(data).toString("base64") : data;
        writeOutputFile(p, content);
        expect(readdirSync(d)).toEqual(["out.bin"]);
        expect(Buffer.compare(readFileSync(p), Buffer.from(content))).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it("keeps an existing file without force (E_FILE_EXISTS) and replaces it with force", () => {
    const d = fresh();
    const p = join(d, "out.txt");
    writeFileSync(p, "old");
    const e = fail(() => writeOutputFile(p, "new"));
    expect(e.code).toBe("E_FILE_EXISTS");
    expect(e.where.file).toBe(p);
    expect(readFileSync(p, "utf8")).toBe("old");
    writeOutputFile(p, "new", true);
    expect(readFileSync(p, "utf8")).toBe("new");
    expect(readdirSync(d)).toEqual(["out.txt"]);
  });

  it("onto a directory: E_OUTPUT_KIND, the directory intact, no temporary file left", () => {
    // Refused before anything is written (test/output-files.test.ts: every kind of path).
    const d = fresh();
    const target = join(d, "is-a-dir");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "keep");
    const e = fail(() => writeOutputFile(target, "x".repeat(100_000), true));
    expect(e.code).toBe("E_OUTPUT_KIND");
    expect(readdirSync(d)).toEqual(["is-a-dir"]);
    expect(readFileSync(join(target, "inside"), "utf8")).toBe("keep");
  });

  it("in a directory that does not exist: E_FILE_WRITE and nothing created", () => {
    const d = fresh();
    const e = fail(() => writeOutputFile(join(d, "no", "out.json"), "{}"));
    expect(e.code).toBe("E_FILE_WRITE");
    expect(readdirSync(d)).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)("in a read-only directory: E_FILE_WRITE and no temporary file", () => {
    const d = fresh();
    chmodSync(d, 0o500);
    const e = fail(() => writeOutputFile(join(d, "out.json"), "{}"));
    chmodSync(d, 0o700);
    expect(e.code).toBe("E_FILE_WRITE");
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("commands that write files", () => {
  const image = join(root, "Image");
  writeFileSync(image, smallArm64Image());
  const plan = (out: string, ...more: string[]) => [
    "plan",
    "--kernel",
    image,
    "--dtb",
    dataFile("qemu-virt-4g.dtb"),
    "--wipe-kaslr-seed",
    "--out-dtb",
    out,
    ...more,
  ];

  it("plan --out-dtb writes a whole DTB, refuses to overwrite it, and overwrites with --force", async () => {
    const d = fresh();
    const out = join(d, "patched.dtb");
    expect((await runCli(plan(out))).code).toBe(0);
    const first = readFileSync(out);
    expect(first.readUInt32BE(0)).toBe(0xd00dfeed);
    expect(first.readUInt32BE(4)).toBe(first.length); // totalsize: the whole file is there
    const again = await runCli(plan(out, "--seed", "9"));
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^kexec-lab: error\[E_FILE_EXISTS\]/);
    expect(Buffer.compare(readFileSync(out), first)).toBe(0);
    expect((await runCli(plan(out, "--seed", "9", "--force"))).code).toBe(0);
    expect(Buffer.compare(readFileSync(out), first)).not.toBe(0);
    expect(readdirSync(d)).toEqual(["patched.dtb"]);
  });

  it("a failing command leaves no output file behind", async () => {
    const d = fresh();
    const out = join(d, "patched.dtb");
    const r = await runCli(plan(out, "--loader", "kexec-tools", "--mem-max", "0x40001000"));
    // locate_hole finds no hole: a refusal kexec-tools makes too, exit 1.
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(d)).toEqual([]);
  });
});
