import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { fakeIo } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("validate");
let n = 0;
function file(content: string): string {
  const p = join(dir, `in${n++}.json`);
  writeFileSync(p, content);
  return p;
}

async function validate(content: string, json = true) {
  const io = fakeIo();
  const code = await main(["validate", file(content), ...(json ? ["--json"] : [])], io);
  return { code, out: io.out, err: io.err };
}

const good = {
  arch: "arm64",
  pageSize: 4096,
  ramBytes: 4294967296,
  segments: [{ mem: "0x40000000", memsz: 4096, bufsz: 100 }],
};

describe("kexec-lab validate", () => {
  it("exit 0 and the verdict JSON when the kernel would accept", async () => {
    const r = await validate(JSON.stringify(good));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      ok: true,
      errno: null,
      check: "ok",
      segment: null,
      reason: "the kernel accepts 1 segment",
    });
  });

  it("exit 1 with errno, check and segment when it would refuse", async () => {
    const r = await validate(
      JSON.stringify({ ...good, segments: [{ mem: "0xfffffffffffff000", memsz: "0x2000", bufsz: 0 }] }),
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      errno: "EADDRNOTAVAIL",
      check: "segment_alignment",
      segment: 0,
    });
  });

  it("human output says refused and why", async () => {
    const r = await validate(
      JSON.stringify({ ...good, segments: [{ mem: 0x40000000, memsz: 4096, bufsz: 8192 }] }),
      false,
    );
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      "refused with EINVAL by the segment_bufsz check (segment 0): bufsz 8192 is larger than memsz 4096\n",
    );
  });

  const bad: [string, string, RegExp][] = [
    ["malformed JSON", "{", /error\[E_JSON_PARSE\]/],
    ["missing arch", JSON.stringify({ ...good, arch: undefined }), /error\[E_FIELD_MISSING\].*\(arch\)/],
    [
      "missing memsz",
      JSON.stringify({ ...good, segments: [{ mem: 0, bufsz: 0 }] }),
      /\(segments\[0\]\.memsz\)/,
    ],
    ["non-integer", JSON.stringify({ ...good, ramBytes: 1.5 }), /error\[E_FIELD_TYPE\].*\(ramBytes\)/],
    [
      "negative",
      JSON.stringify({ ...good, segments: [{ mem: -4096, memsz: 0, bufsz: 0 }] }),
      /error\[E_NUMBER_RANGE\].*\(segments\[0\]\.mem\)/,
    ],
    [
      "value >= 2^64",
      JSON.stringify({ ...good, segments: [{ mem: "0x10000000000000000", memsz: 0, bufsz: 0 }] }),
      /error\[E_NUMBER_RANGE\].*64 bits.*\(segments\[0\]\.mem\)/,
    ],
    [
      "unsafe JSON number",
      '{"arch":"arm64","pageSize":4096,"ramBytes":18446744073709551616,"segments":[]}',
      /error\[E_NUMBER_RANGE\].*\(ramBytes\)/,
    ],
    ["unknown arch", JSON.stringify({ ...good, arch: "riscv64" }), /error\[E_UNKNOWN_ARCH\].*\(arch\)/],
    ["unknown page size", JSON.stringify({ ...good, pageSize: 8192 }), /error\[E_PAGE_SIZE\].*\(pageSize\)/],
    [
      "x86 with 64K pages",
      JSON.stringify({ ...good, arch: "x86_64", pageSize: 65536 }),
      /error\[E_PAGE_SIZE\]/,
    ],
    [
      "segments not an array",
      JSON.stringify({ ...good, segments: {} }),
      /error\[E_FIELD_TYPE\].*\(segments\)/,
    ],
    ["string garbage", JSON.stringify({ ...good, ramBytes: "lots" }), /error\[E_FIELD_TYPE\].*\(ramBytes\)/],
  ];
  for (const [what, content, pattern] of bad) {
    it(`bad input (${what}) exits 2 with one error line naming the field, no stack trace`, async () => {
      const r = await validate(content);
      expect(r.code).toBe(2);
      // --json: stdout holds the one error document (docs/json.md "Errors"), stderr the message.
      const code = /error\[(E_[A-Z_]+)\]/.exec(r.err)?.[1];
      expect(JSON.parse(r.out)).toMatchObject({ error: { code, kind: "bad-input", exitCode: 2 } });
      const lines = r.err.trimEnd().split("\n");
      expect(lines[0]).toMatch(pattern);
      expect(lines[0]).toMatch(/^kexec-lab: error\[E_[A-Z_]+\]: /);
      expect(lines.slice(1).every((l) => l.startsWith("  hint: "))).toBe(true);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it("a missing file is a catalogued error naming the file", async () => {
    const io = fakeIo();
    const code = await main(["validate", join(dir, "nope.json")], io);
    expect(code).toBe(2);
    expect(io.err).toMatch(/error\[E_FILE_READ\].*no such file.*nope\.json/);
  });

  it("an unknown option is a usage error, exit 2", async () => {
    const io = fakeIo();
    expect(await main(["validate", "--bogus"], io)).toBe(2);
  });
});
