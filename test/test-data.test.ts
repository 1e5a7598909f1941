/**
 * The test data (test/helpers/data.ts, test/fixtures/data-manifest.json): every file pinned and
 * checksummed, the committed ones as the manifest says, the cached ones checked, a failed fetch a loud
 * error naming the package, and no test, example or script naming a path outside the repository and its
 * cache.
 */

import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  COMMITTED_DATA,
  DataFetchError,
  type DataManifest,
  dataCacheDir,
  dataFile,
  dataManifest,
  EXAMPLES_DATA,
  ensureData,
  REPO_ROOT,
} from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const files = Object.entries(dataManifest().files);

describe("the data manifest", () => {
  it("names each file by a Debian package (exact version, architecture, suite, path) or a committed file", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const [key, e] of files) {
      expect(key).toMatch(/^[\w.-]+$/);
      expect(e.sha256, key).toMatch(/^[0-9a-f]{64}$/);
      expect(e.size, key).toBeGreaterThan(0);
      expect((e.deb === undefined) !== (e.committed === undefined), `${key}: deb or committed`).toBe(true);
      if (e.deb !== undefined) {
        expect(e.deb.version, key).toMatch(/^(\d+:)?[\w.+~-]+$/);
        expect(["amd64", "arm64"], key).toContain(e.deb.arch);
        expect(e.deb.suite, key).toMatch(/^(bookworm|trixie)(-security|-backports)?$/);
        expect(e.deb.path, key).not.toMatch(/^[./]/);
      }
    }
  });

  it("the committed files are in test/fixtures/data with the manifest's size and sha256, each described in its README", () => {
    const readme = readFileSync(join(COMMITTED_DATA, "README.md"), "utf8");
    const committed = files.filter(([, e]) => e.committed !== undefined);
    expect(
      readdirSync(COMMITTED_DATA)
        .filter((f) => f !== "README.md")
        .sort(),
    ).toEqual(committed.map(([, e]) => e.committed).sort());
    for (const [key, e] of committed) {
      const bytes = readFileSync(dataFile(key));
      expect(bytes.length, key).toBe(e.size);
      expect(sha(bytes), key).toBe(e.sha256);
      expect(readme, key).toContain(e.committed);
    }
  });

  it("every fetched file is in the cache with its sha256 (vitest's globalSetup put it there)", () => {
    for (const [key, e] of files) {
      if (e.committed !== undefined) continue;
      const p = dataFile(key);
      expect(p).toBe(join(dataCacheDir(), key));
      expect(statSync(p).size, key).toBe(e.size);
      expect(sha(readFileSync(p)), key).toBe(e.sha256);
    }
  });

  it("examples/data/<key> leads to each file, so the examples' scenario files resolve", () => {
    for (const [key] of files) {
      expect(realpathSync(join(EXAMPLES_DATA, key)), key).toBe(realpathSync(dataFile(key)));
    }
  });

  it("dataFile of a key that is not in the manifest says so", () => {
    expect(() => dataFile("no-such-file.dtb")).toThrow(
      /"no-such-file\.dtb" is not in test\/fixtures\/data-manifest\.json/,
    );
  });
});

describe("ensureData", () => {
  const dir = testTempDir("data");
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ["KEXEC_LAB_DATA_CACHE", "KEXEC_LAB_DEBIAN_MIRROR", "KEXEC_LAB_DEBIAN_SECURITY_MIRROR"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const bytes = new TextEncoder().encode("a file of the fetcher's own test\n");
  const fake = (over: Partial<DataManifest["files"][string]> = {}): DataManifest => ({
    files: {
      "fake.bin": {
        what: "a file of this test",
        size: bytes.length,
        sha256: sha(bytes),
        deb: {
          package: "kexec-lab-no-such-package",
          version: "1.0-1",
          arch: "amd64",
          suite: "bookworm",
          path: "usr/share/fake.bin",
        },
        ...over,
      },
    },
  });
  const quiet = { log: () => {} };

  it("takes a file from the cache when its sha256 matches, without fetching it", async () => {
    const cache = join(dir, "cache1");
    process.env.KEXEC_LAB_DATA_CACHE = cache;
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, "fake.bin"), bytes);
    // the package does not exist: a fetch would fail, so "cached" means the cache was read
    const again = await ensureData({ manifest: fake(), ...quiet });
    expect(again.cached).toEqual(["fake.bin"]);
    expect(again.downloaded).toEqual([]);
    expect(existsSync(join(cache, ".lock"))).toBe(false);
  });

  it("a download that cannot reach the archive fails loudly, naming the package, version and archive", async () => {
    process.env.KEXEC_LAB_DATA_CACHE = join(dir, "cache2");
    // a cached copy with other bytes is not taken: it is removed and fetched again
    mkdirSync(join(dir, "cache2"), { recursive: true });
    writeFileSync(join(dir, "cache2", "fake.bin"), "other bytes\n");
    // nothing listens on port 9 (discard) of the loopback: apt-get update fails at once, offline or not
    process.env.KEXEC_LAB_DEBIAN_MIRROR = "http://127.0.0.1:9/debian";
    const err = await ensureData({ manifest: fake(), ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFetchError);
    const msg = (err as Error).message;
    expect(msg).toContain("kexec-lab-no-such-package 1.0-1 (amd64, bookworm)");
    expect(msg).toContain("http://127.0.0.1:9/debian bookworm");
    expect(existsSync(join(dir, "cache2", "fake.bin"))).toBe(false);
    // nothing half-done is left in the cache: no apt tree, no work directory, no lock
    expect(readdirSync(join(dir, "cache2"))).toEqual([]);
  }, 120_000);

  it("a file neither cached nor in a package is an error naming it", async () => {
    process.env.KEXEC_LAB_DATA_CACHE = join(dir, "cache3");
    const m = fake();
    delete m.files["fake.bin"]!.deb;
    await expect(ensureData({ manifest: m, ...quiet })).rejects.toThrow(
      /fake\.bin is neither committed nor in .*cache3, and the manifest names no Debian package/,
    );
  });
});

describe("no test, example, script or benchmark names a path outside the repository and its cache", () => {
  // a folder beside the clone is not there on a fresh machine, and a path of one machine is on no other.
  const parent = ["..", "shared"].join("/");
  const machine = ["", "work", ""].join("/");
  const roots = ["test", "src", "examples", "scripts", "bench"];
  const skip = /^examples\/data\//;
  const walk = (d: string): string[] =>
    readdirSync(join(REPO_ROOT, d), { withFileTypes: true }).flatMap((e) => {
      const p = `${d}/${e.name}`;
      if (skip.test(`${p}/`) || skip.test(p)) return [];
      if (e.isDirectory()) return walk(p);
      return e.isFile() && /\.(ts|mjs|js|json|sh|md)$/.test(e.name) ? [p] : [];
    });
  it("finds no path to a folder beside the clone or of this machine", () => {
    const hits: string[] = [];
    for (const f of roots.flatMap(walk)) {
      if (f === relative(REPO_ROOT, import.meta.filename)) continue;
      const text = readFileSync(join(REPO_ROOT, f), "utf8");
      if (text.includes(parent) || text.includes(machine)) hits.push(f);
    }
    expect(hits).toEqual([]);
  });
});
