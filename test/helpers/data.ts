/**
 * The real files the tests and examples read (Debian kernels, DTBs, kexec binaries, memory maps), named by
 * a key of test/fixtures/data-manifest.json: pinned (Debian package, exact version, architecture, the path
 * inside the .deb) and checksummed (sha256, size). Small files are committed in test/fixtures/data/; the
 * others are fetched once into a cache directory:
 *
 *   1. the cache (KEXEC_LAB_DATA_CACHE, default $XDG_CACHE_HOME/kexec-lab/data or ~/.cache/kexec-lab/data),
 *      when the file there has the manifest's sha256;
 *   2. else `apt-get download package:arch=version` through a private apt (src/node/guest/debian-apt.ts: its own
 *      sources list, lists and archive cache under the cache directory; the host's apt is never changed), one
 *      `dpkg-deb --fsys-tarfile | tar -x` of just the files needed, sha256 checked, then renamed into place.
 *
 * `ensureData()` does that (vitest's globalSetup calls it once per run; `npm run fetch-data` from a shell);
 * `dataFile(key)` gives the path for a test, synchronously, and throws when the file has not been fetched.
 * Any failure names the file, the package and what failed: the suite stops, it never skips silently.
 * See docs/testing.md.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AptError,
  type DebArch,
  debianArchiveUris,
  privateAptDownload,
  privateAptOptions,
  privateAptUpdate,
} from "../../src/node/guest/debian-apt.js";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The manifest of every data file. */
export const DATA_MANIFEST = join(REPO_ROOT, "test", "fixtures", "data-manifest.json");
/** Where the committed data files are. */
export const COMMITTED_DATA = join(REPO_ROOT, "test", "fixtures", "data");
/** The folder of links that examples/*.json name their real files through (examples/data/<key>). */
export const EXAMPLES_DATA = join(REPO_ROOT, "examples", "data");

export interface DebSource {
  /** Debian binary package name. */
  package: string;
  /** Exact Debian version (with epoch when it has one). */
  version: string;
  arch: DebArch;
  /** Debian suite that carries this version (bookworm, bookworm-security, trixie...). */
  suite: string;
  /** Path of the file inside the package, without a leading "./" or "/". */
  path: string;
}

export interface DataEntry {
  what: string;
  size: number;
  sha256: string;
  deb?: DebSource;
  /** File name under test/fixtures/data/ when the file is committed. */
  committed?: string;
}

export interface DataManifest {
  files: Record<string, DataEntry>;
}

let manifestCache: DataManifest | undefined;

export function dataManifest(): DataManifest {
  manifestCache ??= JSON.parse(readFileSync(DATA_MANIFEST, "utf8")) as DataManifest;
  return manifestCache;
}

/** The data cache directory: KEXEC_LAB_DATA_CACHE, else $XDG_CACHE_HOME/kexec-lab/data, else ~/.cache/kexec-lab/data. */
export function dataCacheDir(): string {
  const env = process.env.KEXEC_LAB_DATA_CACHE;
  if (env !== undefined && env !== "") return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "kexec-lab", "data");
}

function entryOf(key: string): DataEntry {
  const e = dataManifest().files[key];
  if (e === undefined) {
    throw new Error(`test data: "${key}" is not in ${relative(REPO_ROOT, DATA_MANIFEST)}`);
  }
  return e;
}

/** Where the file of `key` is when present: test/fixtures/data/ for a committed file, else the cache. */
export function dataPath(key: string): string {
  const e = entryOf(key);
  return e.committed !== undefined ? join(COMMITTED_DATA, e.committed) : join(dataCacheDir(), key);
}

/**
 * The path of the data file `key` (a key of test/fixtures/data-manifest.json), for a test to read.
 * Throws, naming the key, the cache and how to fetch it, when the file is not there (ensureData has not
 * run). Does not hash the file: ensureData checked it at the start of the run.
 */
export function dataFile(key: string): string {
  const p = dataPath(key);
  if (!existsSync(p)) {
    throw new Error(
      `test data: ${key} is not in ${dataCacheDir()} (run \`npm run fetch-data\`; vitest's globalSetup fetches it)`,
    );
  }
  return p;
}

/** The bytes of the data file `key`. */
export function dataBytes(key: string): Uint8Array {
  return new Uint8Array(readFileSync(dataFile(key)));
}

/** The text of the data file `key`. */
export function dataText(key: string): string {
  return readFileSync(dataFile(key), "utf8");
}

/** "data:<key>" (how case.json and scripts/record/cases.ts name a data file) to its path. */
export function dataRef(ref: string): string {
  if (!ref.startsWith("data:")) throw new Error(`test data: "${ref}" is not a data:<key> reference`);
  return dataFile(ref.slice("data:".length));
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function matches(path: string, e: DataEntry): Promise<boolean> {
  try {
    if (!statSync(path).isFile() || statSync(path).size !== e.size) return false;
  } catch {
    return false;
  }
  return (await sha256Of(path)) === e.sha256;
}

/** A failure of the fetch, naming the file and the package; the suite stops on it. */
export class DataFetchError extends Error {}

function describeDeb(d: DebSource): string {
  return `Debian package ${d.package} ${d.version} (${d.arch}, ${d.suite})`;
}

// ---- the lock: one fetch per cache directory at a time (several vitest runs may start together) ----------

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withLock<T>(dir: string, fn: () => Promise<T>, log: (s: string) => void): Promise<T> {
  const lock = join(dir, ".lock");
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // the owner has made the directory and not yet written its pid: wait
      }
      const age = (() => {
        try {
          return Date.now() - statSync(lock).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if ((Number.isInteger(owner) && !alive(owner)) || (Number.isNaN(owner) && age > 10_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DataFetchError(`test data: ${lock} is held by process ${owner} for 15 minutes`);
      }
      if (!told) log(`test data: waiting for process ${owner}, which is filling ${dir}`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// ---- extraction ------------------------------------------------------------------------------------------

/** `dpkg-deb --fsys-tarfile deb | tar -x -C dir ./member...`: only the members asked for. */
function extract(deb: string, members: string[], dir: string): Promise<void> {
  return new Promise((done, fail) => {
    const dpkg = spawn("dpkg-deb", ["--fsys-tarfile", deb], { stdio: ["ignore", "pipe", "pipe"] });
    const tar = spawn("tar", ["-x", "-C", dir, ...members.map((m) => `./${m}`)], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let err = "";
    dpkg.stderr.on("data", (d) => {
      err += d;
    });
    tar.stderr.on("data", (d) => {
      err += d;
    });
    dpkg.stdout.pipe(tar.stdin);
    let left = 2;
    let failed: Error | undefined;
    const end = (who: string) => (code: number | null, signal: NodeJS.Signals | null) => {
      if (code !== 0 && failed === undefined) {
        failed = new Error(`${who} exited ${code ?? signal}: ${err.trim()}`);
      }
      if (--left > 0) return;
      if (failed !== undefined) fail(failed);
      else done();
    };
    dpkg.on("error", (e) => fail(new Error(`dpkg-deb: ${e.message} (is dpkg installed?)`)));
    tar.on("error", (e) => fail(new Error(`tar: ${e.message}`)));
    dpkg.on("close", end("dpkg-deb --fsys-tarfile"));
    tar.on("close", end("tar -x"));
  });
}

/** Rename `from` to `key` in the cache atomically (a temporary name beside it, then rename). */
function place(from: string, cache: string, key: string): void {
  const tmp = join(cache, `.${key}.${process.pid}.tmp`);
  renameSync(from, tmp);
  renameSync(tmp, join(cache, key));
}

export interface EnsureOptions {
  /** The keys to make present (default: every file of the manifest). */
  keys?: string[];
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /**
   * Another manifest (tests of the fetcher itself): its files go to the cache only; committed files and
   * the examples/data links are those of the real manifest and are left alone.
   */
  manifest?: DataManifest;
}

export interface EnsureResult {
  cache: string;
  /** Keys already in the cache with the right sha256. */
  cached: string[];
  /** Keys fetched from Debian's archive. */
  downloaded: string[];
  seconds: number;
}

/**
 * Make every data file (or `keys`) present and checked: committed files are checked in place, the others
 * filled into the cache as the module comment says. Also links examples/data/<key> to each file so the
 * examples' scenario files resolve. Throws DataFetchError naming the file and the package on any failure.
 */
export async function ensureData(opts: EnsureOptions = {}): Promise<EnsureResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const manifest = opts.manifest ?? dataManifest();
  const entryOf = (key: string): DataEntry => {
    const e = manifest.files[key];
    if (e === undefined) throw new DataFetchError(`test data: "${key}" is not in the manifest`);
    return e;
  };
  const keys = opts.keys ?? Object.keys(manifest.files);
  const cache = dataCacheDir();
  const result: EnsureResult = { cache, cached: [], downloaded: [], seconds: 0 };
  for (const key of opts.manifest === undefined ? keys : []) {
    const e = entryOf(key);
    if (e.committed === undefined) continue;
    if (!(await matches(dataPath(key), e))) {
      throw new DataFetchError(
        `test data: the committed ${relative(REPO_ROOT, dataPath(key))} does not have the sha256 ${e.sha256} of the manifest`,
      );
    }
  }
  const fetched = keys.filter((k) => entryOf(k).committed === undefined);
  try {
    mkdirSync(cache, { recursive: true });
  } catch (e) {
    throw new DataFetchError(`test data: cannot make the cache directory ${cache}: ${(e as Error).message}`);
  }
  await withLock(
    cache,
    async () => {
      const missing: string[] = [];
      for (const key of fetched) {
        const e = entryOf(key);
        const at = join(cache, key);
        if (await matches(at, e)) {
          result.cached.push(key);
          continue;
        }
        if (existsSync(at)) {
          log(`test data: ${at} does not have the manifest's sha256; fetching it again`);
          rmSync(at, { force: true });
        }
        missing.push(key);
      }
      if (missing.length > 0) {
        await download(cache, missing, entryOf, log);
        result.downloaded.push(...missing);
      }
    },
    log,
  );
  if (opts.manifest === undefined) linkExamples(keys);
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}

/** Fetch `keys` from Debian's archive into `cache`: one apt-get download, one extraction per package. */
async function download(
  cache: string,
  keys: string[],
  entryOf: (key: string) => DataEntry,
  log: (s: string) => void,
): Promise<void> {
  const byDeb = new Map<string, { deb: DebSource; keys: string[] }>();
  for (const key of keys) {
    const d = entryOf(key).deb;
    if (d === undefined) {
      throw new DataFetchError(
        `test data: ${key} is neither committed nor in ${cache}, and the manifest names no Debian package for it`,
      );
    }
    const id = `${d.package}:${d.arch}=${d.version}`;
    const g = byDeb.get(id) ?? { deb: d, keys: [] };
    g.keys.push(key);
    byDeb.set(id, g);
  }
  const groups = [...byDeb.values()];
  const what = groups.map((g) => describeDeb(g.deb)).join("; ");
  log(`test data: fetching ${keys.join(", ")} from ${what} into ${cache}`);
  const uris = debianArchiveUris();
  const suites = [...new Set(groups.map((g) => g.deb.suite))];
  const sources = [
    { uri: uris.debian, suites: suites.filter((s) => !s.endsWith("-security")) },
    { uri: uris.security, suites: suites.filter((s) => s.endsWith("-security")) },
  ].filter((s) => s.suites.length > 0);
  const archs = [...new Set(groups.map((g) => g.deb.arch))].sort() as DebArch[];
  const aptDir = join(cache, "apt");
  const work = mkdtempSync(join(cache, ".fetch-"));
  try {
    const options = privateAptOptions(aptDir, sources, archs);
    const t0 = Date.now();
    try {
      privateAptUpdate(options);
    } catch (e) {
      throw new DataFetchError(
        `test data: could not read the package lists of ${sources.map((s) => `${s.uri} ${s.suites.join(",")}`).join(" and ")} (needed for ${what}): ${(e as Error).message}`,
      );
    }
    log(`test data: read the package lists in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const debDir = join(work, "debs");
    mkdirSync(debDir);
    const t1 = Date.now();
    try {
      privateAptDownload(
        options,
        groups.map((g) => `${g.deb.package}:${g.deb.arch}=${g.deb.version}`),
        debDir,
      );
    } catch (e) {
      throw new DataFetchError(`test data: could not download ${what}: ${(e as AptError).message}`);
    }
    log(`test data: downloaded ${groups.length} packages in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    for (const [i, g] of groups.entries()) {
      const d = g.deb;
      const debs = debFile(debDir, d);
      if (debs === undefined) {
        throw new DataFetchError(
          `test data: apt-get download of ${describeDeb(d)} left no ${d.package}_*_${d.arch}.deb in ${debDir}`,
        );
      }
      const out = join(work, `x${i}`);
      mkdirSync(out);
      const members = [...new Set(g.keys.map((k) => entryOf(k).deb!.path))];
      try {
        await extract(debs, members, out);
      } catch (e) {
        throw new DataFetchError(
          `test data: could not extract ${members.join(", ")} from ${describeDeb(d)}: ${(e as Error).message}`,
        );
      }
      for (const key of g.keys) {
        const e = entryOf(key);
        const file = join(out, e.deb!.path);
        if (!(await matches(file, e))) {
          const got = existsSync(file)
            ? `sha256 ${await sha256Of(file)}, ${statSync(file).size} bytes`
            : "nothing";
          throw new DataFetchError(
            `test data: /${e.deb!.path} of ${describeDeb(d)} is ${got}, not the manifest's sha256 ${e.sha256} (${e.size} bytes), for ${key}`,
          );
        }
        place(file, cache, key);
      }
      rmSync(out, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    // the lists (about 80 MB) are fetched fresh whenever something is missing; the archive cache is empty
    rmSync(aptDir, { recursive: true, force: true });
  }
}

/** The .deb apt-get download wrote for `d`: package_version_arch.deb, the epoch's ":" written "%3a". */
function debFile(dir: string, d: DebSource): string | undefined {
  const name = `${d.package}_${d.version.replace(":", "%3a")}_${d.arch}.deb`;
  return readdirSync(dir).includes(name) ? join(dir, name) : undefined;
}

/**
 * examples/data/<key>: a symbolic link to each data file (committed or cached), so the examples' scenario
 * files name their real files relative to themselves ("data/juno.dtb"). The folder is not in git.
 */
export function linkExamples(keys: string[] = Object.keys(dataManifest().files)): void {
  mkdirSync(EXAMPLES_DATA, { recursive: true });
  for (const key of keys) {
    const link = join(EXAMPLES_DATA, key);
    const e = entryOf(key);
    const target = e.committed !== undefined ? relative(EXAMPLES_DATA, dataPath(key)) : dataPath(key);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) continue;
    } catch {
      // not there yet
    }
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    try {
      renameSync(tmp, link);
    } catch (err) {
      unlinkSync(tmp);
      throw err;
    }
  }
}
