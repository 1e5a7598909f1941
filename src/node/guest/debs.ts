/**
 * Debian packages for the guests (the recordings, scripts/record, and `crashkernel --verify`,
 * src/node/kdump-verify): download with `apt-get download` into a cache, unpack with `dpkg -x`
 * (foreign-architecture packages are only unpacked, never run on the host), and collect a binary's shared
 * libraries by following DT_NEEDED (read with binutils `readelf`, which reads any ELF architecture).
 * Node only; every command runs through src/node/child.ts (it dies with its parent).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { execFileSyncOwned } from "../child.js";
import {
  type DebArch,
  debianArchiveUris,
  privateAptDownload,
  privateAptOptions,
  privateAptUpdate,
  privateListsPresent,
} from "./debian-apt.js";

/**
 * The Debian suites whose kexec-tools the guests run: bookworm (2.0.25), trixie (2.0.29) and forky, Debian's
 * testing (2.0.32; checked 2026-12-07: kexec-tools 1:2.0.32-3 amd64 and 1:2.0.32-3+b1 arm64 in both forky and sid).
 */
export type Suite = "bookworm" | "trixie" | "forky";
export type { DebArch };

/**
 * The download cache (packages, private apt lists, unpacked roots): $RECORD_CACHE, else
 * $XDG_CACHE_HOME/kexec-lab/record, else ~/.cache/kexec-lab/record.
 */
export function recordCacheDir(): string {
  return (
    process.env.RECORD_CACHE ??
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kexec-lab", "record")
  );
}

const execFileSync = execFileSyncOwned;

/** The libraries Debian's kexec-tools links in both suites, the Xen ones included (libxenctrl's closure). */
const KEXEC_LIBS = [
  "libc6",
  "zlib1g",
  "liblzma5",
  "libzstd1",
  "libfdt1",
  "libgcc-s1",
  "libuuid1",
  "libyajl2",
  "libxencall1",
  "libxendevicemodel1",
  "libxenevtchn1",
  "libxenforeignmemory1",
  "libxengnttab1",
  "libxenhypfs1",
  "libxenstore4",
  "libxentoolcore1",
  "libxentoollog1",
];

/**
 * Packages whose files end up in the guest: kexec-tools, its library closure (Depends), busybox-static
 * (bookworm's, for both suites). The suites differ in libxenmisc's Xen version.
 */
const PACKAGES: Record<Suite, string[]> = {
  bookworm: ["kexec-tools", "busybox-static", ...KEXEC_LIBS, "libxenmisc4.17"],
  trixie: ["kexec-tools", ...KEXEC_LIBS, "libxenmisc4.20"],
  forky: ["kexec-tools", ...KEXEC_LIBS, "libxenmisc4.20"],
};

/**
 * apt options for a suite: a private sources list, lists and cache under CACHE/apt-<suite>
 * (./debian-apt.ts), amd64 and arm64 both, so the host's own apt configuration is never changed,
 * not even for a moment, whatever the host's suite and architectures. Same Debian mirror as the host's.
 */
function suiteAptOptions(suite: Suite, cache: string): string[] {
  // testing has no -updates and its security archive is not needed for kexec-tools: forky alone
  if (suite === "forky")
    return privateAptOptions(
      join(cache, "apt-forky"),
      [{ uri: debianArchiveUris().debian, suites: ["forky"] }],
      ["amd64", "arm64"],
    );
  return privateAptOptions(
    join(cache, `apt-${suite}`),
    [
      {
        uri: debianArchiveUris().debian,
        suites: [suite, `${suite}-updates`, ...(suite === "trixie" ? ["trixie-backports"] : [])],
      },
      { uri: debianArchiveUris().security, suites: [`${suite}-security`] },
    ],
    ["amd64", "arm64"],
  );
}

function debsDir(suite: Suite, cache: string): string {
  return join(cache, "debs", suite);
}

function findDeb(suite: Suite, pkg: string, arch: DebArch, cache: string): string | undefined {
  const dir = debsDir(suite, cache);
  if (!existsSync(dir)) return undefined;
  const esc = pkg.replace(/[.+]/g, (c) => `\\${c}`);
  const re = new RegExp(`^${esc}_[^_]+_${arch}\\.deb$`);
  const hits = readdirSync(dir).filter((f) => re.test(f));
  return hits.length ? join(dir, hits.sort().at(-1)!) : undefined;
}

/** Download (once) every package of the suite for the architecture. Returns the .deb paths by package name. */
export function ensureDebs(
  suite: Suite,
  arch: DebArch,
  cache: string = recordCacheDir(),
  extra: readonly string[] = [],
): Map<string, string> {
  const dir = debsDir(suite, cache);
  mkdirSync(dir, { recursive: true });
  const all = [...PACKAGES[suite], ...extra];
  const missing = all.filter((p) => !findDeb(suite, p, arch, cache));
  if (missing.length) {
    const opts = suiteAptOptions(suite, cache);
    if (!privateListsPresent(join(cache, `apt-${suite}`))) privateAptUpdate(opts);
    privateAptDownload(
      opts,
      missing.map((p) => `${p}:${arch}`),
      dir,
    );
  }
  const out = new Map<string, string>();
  for (const p of all) {
    const f = findDeb(suite, p, arch, cache);
    if (!f) throw new Error(`record: ${p}:${arch} (${suite}) could not be downloaded`);
    out.set(p, f);
  }
  return out;
}

/** `dpkg -x` every package into CACHE/roots/<suite>-<arch> (once). Returns that directory. */
export function unpack(
  suite: Suite,
  arch: DebArch,
  debs: Map<string, string>,
  cache: string = recordCacheDir(),
): string {
  const root = join(cache, "roots", `${suite}-${arch}`);
  const stamp = join(root, ".unpacked");
  const want = [...debs.values()].sort().join("\n");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return root;
  mkdirSync(root, { recursive: true });
  for (const deb of debs.values()) execFileSync("dpkg", ["-x", deb, root]);
  writeFileSync(stamp, want);
  return root;
}

/** Debian package version (the Version field) of a .deb. */
export function debVersion(deb: string): string {
  return execFileSync("dpkg-deb", ["-f", deb, "Version"], { encoding: "utf8" }).trim();
}

const TRIPLET: Record<DebArch, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

function needed(elf: string): string[] {
  const out = execFileSync("readelf", ["-d", "-W", elf], { encoding: "utf8" });
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

/** The program interpreter a dynamically linked ELF asks for (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2. */
export function interpreter(elf: string): string {
  const out = execFileSync("readelf", ["-l", "-W", elf], { encoding: "utf8" });
  const m = /Requesting program interpreter: ([^\]]+)\]/.exec(out);
  if (!m) throw new Error(`record: ${elf} has no PT_INTERP`);
  return m[1];
}

/**
 * The shared-library closure of `elf` inside an unpacked root: soname -> real file on the host.
 * Searches lib/<triplet>, usr/lib/<triplet>, lib, usr/lib of the root, as ld.so's default paths would.
 */
export function libClosure(root: string, arch: DebArch, elf: string): Map<string, string> {
  const dirs = [`lib/${TRIPLET[arch]}`, `usr/lib/${TRIPLET[arch]}`, "lib", "usr/lib"].map((d) =>
    join(root, d),
  );
  const found = new Map<string, string>();
  const todo = [elf];
  while (todo.length) {
    const cur = todo.pop()!;
    for (const so of needed(cur)) {
      if (found.has(so)) continue;
      const dir = dirs.find((d) => existsSync(join(d, so)));
      if (!dir)
        throw new Error(`record: ${so} (needed by ${cur}) is in none of the unpacked packages under ${root}`);
      const real = realpathSync(join(dir, so));
      found.set(so, real);
      todo.push(real);
    }
  }
  const interp = interpreter(elf);
  const base = interp.split("/").at(-1)!;
  if (!found.has(base)) {
    const dir = dirs.find((d) => existsSync(join(d, base)));
    if (!dir) throw new Error(`record: interpreter ${interp} not found under ${root}`);
    found.set(base, realpathSync(join(dir, base)));
  }
  return found;
}

/**
 * A kernel from a Debian package, named in a case as `deb:<package>=<version>:<path inside the .deb>`
 * (e.g. `deb:linux-image-6.12.118+deb13-cloud-amd64=6.12.118-1:boot/vmlinuz-6.12.118+deb13-cloud-amd64`):
 * downloaded once with the private trixie apt configuration (trixie, -updates, -backports, -security) and
 * unpacked under CACHE/kernels/<package>_<version>. Returns the host path of the file.
 */
export function debKernel(ref: string, cache: string = recordCacheDir()): string {
  const m = /^deb:([^=]+)=([^:]+):(.+)$/.exec(ref);
  if (!m) throw new Error(`record: ${ref} is not deb:<package>=<version>:<path>`);
  const [, pkg, version, path] = m as unknown as [string, string, string, string];
  const arch = /arm64/.test(pkg) ? "arm64" : "amd64";
  const into = join(cache, "kernels", `${pkg}_${version}`);
  const file = join(into, path);
  if (existsSync(file)) return file;
  const dir = join(cache, "debs", "kernels");
  mkdirSync(dir, { recursive: true });
  const opts = suiteAptOptions("trixie", cache);
  if (!privateListsPresent(join(cache, "apt-trixie"))) privateAptUpdate(opts);
  privateAptDownload(opts, [`${pkg}:${arch}=${version}`], dir);
  const deb = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(`_${arch}.deb`));
  if (!deb) throw new Error(`record: ${pkg}=${version} (${arch}) could not be downloaded`);
  mkdirSync(into, { recursive: true });
  execFileSync("dpkg", ["-x", join(dir, deb), into]);
  if (!existsSync(file)) throw new Error(`record: ${path} is not in ${deb}`);
  return file;
}
