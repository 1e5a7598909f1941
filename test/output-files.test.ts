/**
 * Every output kexec-lab writes goes through one writer (src/formats/node/files.ts) that writes regular
 * files only, and the "probe the output path before the work starts" check applies the same rules:
 *
 * - a device node (/dev/null, /dev/full), a FIFO, a unix socket or a directory is refused with
 *   E_OUTPUT_KIND (exit 2), --force or not, and left as it was;
 * - a symbolic link is followed: its regular target is replaced (atomically: a temporary file in the
 *   TARGET's directory, fsync, rename) and the link stays a link; a dangling link's target is created;
 *   a link to /dev/null is refused like /dev/null;
 * - nothing is half-written on an error, and an existing file keeps its permission bits;
 * - `-` is standard output where the output is text (report -o -, sweep -o -), refused for binary ones.
 *
 * Run as root, as CI runs: afterwards /dev/null and /dev/full must still be character devices.
 */

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { checkOutputPath, writeOutputFile, writeOutputFileWith } from "../src/formats/node/files.js";
import { runCli } from "./helpers/cli.js";
import { fail } from "./helpers/errors.js";
import { testTempDir } from "./helpers/tmp.js";

const root = testTempDir("outputs");
let n = 0;
const fresh = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};

const isCharDevice = (p: string) => statSync(p).isCharacterDevice();

/** The special files of this test: name -> path, made in beforeAll. */
const special: Record<string, string> = {};
let server: Server | undefined;

beforeAll(async () => {
  const d = fresh();
  special.fifo = join(d, "fifo");
  execFileSync("mkfifo", [special.fifo]);
  special.socket = join(d, "sock");
  server = createServer();
  await new Promise<void>((resolve) => server!.listen(special.socket, resolve));
  special.directory = join(d, "dir");
  mkdirSync(special.directory);
  writeFileSync(join(special.directory, "inside"), "keep");
  special.devnull = "/dev/null";
  special.devfull = "/dev/full";
  special.linkToNull = join(d, "to-null");
  symlinkSync("/dev/null", special.linkToNull);
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  // The machine's device nodes are still device nodes, whatever the tests above did.
  expect(isCharDevice("/dev/null")).toBe(true);
  expect(isCharDevice("/dev/full")).toBe(true);
});

/** What each special path must still be after a refused write. */
function unchanged(name: string): void {
  const p = special[name]!;
  const st = lstatSync(p);
  switch (name) {
    case "fifo":
      expect(st.isFIFO()).toBe(true);
      break;
    case "socket":
      expect(st.isSocket()).toBe(true);
      break;
    case "directory":
      expect(st.isDirectory()).toBe(true);
      expect(readdirSync(p)).toEqual(["inside"]);
      break;
    case "linkToNull":
      expect(st.isSymbolicLink()).toBe(true);
      expect(readlinkSync(p)).toBe("/dev/null");
      break;
    default:
      expect(st.isCharacterDevice()).toBe(true);
  }
}

const KINDS: Record<string, RegExp> = {
  devnull: /is a character device: kexec-lab writes regular files only/,
  devfull: /is a character device/,
  fifo: /is a FIFO/,
  socket: /is a socket/,
  directory: /is a directory/,
  linkToNull: /is a character device \(a symbolic link to \/dev\/null\)/,
};

describe("the writer refuses what is not a regular file, --force or not", () => {
  for (const name of Object.keys(KINDS)) {
    it(name, () => {
      for (const force of [false, true]) {
        const w = fail(() => writeOutputFile(special[name]!, "data", force));
        expect(w.code).toBe("E_OUTPUT_KIND");
        expect(w.message).toMatch(KINDS[name]!);
        expect(w.where.file).toBe(special[name]);
        const c = fail(() => checkOutputPath(special[name]!, force));
        expect(c.code).toBe("E_OUTPUT_KIND");
        unchanged(name);
      }
      // no temporary file was left beside it
      expect(readdirSync(join(special.fifo!, "..")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });
  }
});

describe("symbolic links are followed, never replaced", () => {
  it("a link to a regular file: the target is replaced atomically, the link stays", () => {
    const d = fresh();
    const target = join(d, "real.html");
    writeFileSync(target, "old");
    chmodSync(target, 0o640);
    const link = join(d, "link.html");
    symlinkSync("real.html", link);
    const e = fail(() => writeOutputFile(link, "new"));
    expect(e.code).toBe("E_FILE_EXISTS");
    expect(e.message).toContain(`a symbolic link to ${target}`);
    expect(fail(() => checkOutputPath(link)).code).toBe("E_FILE_EXISTS");
    checkOutputPath(link, true);
    writeOutputFile(link, "new", true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("real.html");
    expect(readFileSync(target, "utf8")).toBe("new");
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(["link.html", "real.html"]);
  });

  it("a dangling link: the file it names is created, the link stays", () => {
    const d = fresh();
    const sub = join(d, "sub");
    mkdirSync(sub);
    const link = join(d, "dangling.csv");
    symlinkSync(join(sub, "made.csv"), link);
    checkOutputPath(link);
    writeOutputFile(link, "a,b\n");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(sub, "made.csv"), "utf8")).toBe("a,b\n");
    expect(readdirSync(sub)).toEqual(["made.csv"]);
  });

  it("a chain of links across file systems: the temporary file is made in the target's directory", () => {
    // A temporary file beside the link would fail to rename across file systems (EXDEV).
    let shm: string;
    try {
      shm = mkdtempSync("/dev/shm/kexec-lab-outputs-");
    } catch {
      return; // no /dev/shm here: the same-directory cases above still hold
    }
    try {
      const target = join(shm, "real.bin");
      writeFileSync(target, "old");
      const d = fresh();
      symlinkSync(target, join(d, "hop2"));
      symlinkSync("hop2", join(d, "hop1"));
      writeOutputFile(join(d, "hop1"), new Uint8Array([1, 2, 3]), true);
      expect([...readFileSync(target)]).toEqual([1, 2, 3]);
      expect(lstatSync(join(d, "hop1")).isSymbolicLink()).toBe(true);
      expect(readdirSync(shm)).toEqual(["real.bin"]);
      expect(readdirSync(d).sort()).toEqual(["hop1", "hop2"]);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});

describe("nothing half-written", () => {
  it("a write that fails midway leaves the old file whole and no temporary file", () => {
    const d = fresh();
    const p = join(d, "out.img");
    writeFileSync(p, "the old contents");
    const e = fail(() =>
      writeOutputFileWith(
        p,
        (fd) => {
          writeFileSync(fd, "half of the new");
          throw new KexecLabError("E_LIMIT", "gave up");
        },
        true,
      ),
    );
    expect(e.code).toBe("E_LIMIT");
    expect(readFileSync(p, "utf8")).toBe("the old contents");
    expect(readdirSync(d)).toEqual(["out.img"]);
  });
});

describe("commands: the output path is checked first, by the same rules", () => {
  const COMMANDS: [string, (out: string) => string[]][] = [
    ["plan --out-dtb", (o) => ["plan", "--kernel", "/nonexistent/Image", "--out-dtb", o, "--force"]],
    ["run --html", (o) => ["run", "--html", o, "--force"]],
    ["report -o", (o) => ["report", "/nonexistent/result.json", "-o", o, "--force"]],
    ["sweep -o", (o) => ["sweep", "--initrd", "16M", "-o", o, "--force"]],
    ["tables --binary", (o) => ["tables", "--size", "64K", "--binary", o, "--force"]],
    [
      "calibrate --out",
      (o) => [
        "calibrate",
        "--profile",
        "cortex-a72-board",
        "--points",
        "/nonexistent/p.json",
        "--out",
        o,
        "--force",
      ],
    ],
  ];
  for (const [what, args] of COMMANDS) {
    it(`${what}: /dev/null, /dev/full, a FIFO, a socket, a directory, a link to /dev/null`, async () => {
      for (const name of Object.keys(KINDS)) {
        const r = await runCli(args(special[name]!));
        expect(r.code, `${what} ${name}: ${r.err}`).toBe(2);
        expect(r.err).toMatch(/^kexec-lab: error\[E_OUTPUT_KIND\]: output is not a regular file: /);
        expect(r.out).toBe("");
        unchanged(name);
      }
    });
  }

  it("emit --out: a directory output refuses a device node or a FIFO", async () => {
    for (const name of ["devnull", "fifo"]) {
      const r = await runCli(["emit", "--out", special[name]!]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /E_OUTPUT_KIND\]: output is not a regular file: is a (character device|FIFO).*, not a directory/,
      );
      unchanged(name);
    }
  });

  it("- is standard output for a text output, refused for a binary one and where stdout is taken", async () => {
    const csv = await runCli(["sweep", "--initrd", "1M", "--strategy", "in-place", "-o", "-"]);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.out.split("\n")[0]).toMatch(/^[a-z_]+(,[a-z_A-Z]+)+$/);
    for (const [args, option] of [
      [["tables", "--size", "64K", "--binary", "-"], "--binary"],
      [["plan", "--kernel", "/nonexistent/Image", "--out-dtb", "-"], "--out-dtb"],
      [["run", "--html", "-"], "--html"],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`E_USAGE]: invalid command line: ${option} -: `);
    }
  });

  it("report -o - prints the HTML on stdout", { timeout: 120_000 }, async () => {
    const d = fresh();
    const scenario = join(d, "tiny.json");
    writeFileSync(
      scenario,
      JSON.stringify({
        machine: { arch: "arm64", ram: [{ start: "0x40000000", size: "64M" }] },
        segments: [{ label: "kernel", mem: "0x40000000", memsz: "64K" }],
        strategies: ["in-place"],
      }),
    );
    const run = await runCli(["run", "--scenario", scenario, "--json"]);
    expect(run.code, run.err).toBe(0);
    const result = join(d, "result.json");
    writeFileSync(result, run.out);
    const r = await runCli(["report", result, "-o", "-", "--no-curves"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith("<!doctype html>") || r.out.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(readdirSync(d).sort()).toEqual(["result.json", "tiny.json"]);
  });
});
