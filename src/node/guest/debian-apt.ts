/**
 * A private apt for fetching Debian packages by name and version, never touching the host's apt
 * configuration: its own sources list, package lists and archive cache live under a directory the caller
 * owns (`Dir::Etc::sourcelist`, `Dir::Etc::sourceparts`, `Dir::State::Lists`, `Dir::Cache`), the dpkg status
 * is /dev/null (nothing is ever installed), and the architectures are the ones asked for, so arm64 packages
 * can be downloaded on an amd64 host (they are only unpacked, never run). Used by the test-data fetcher
 * (test/helpers/data.ts), the recordings and `crashkernel --verify` (src/node/guest/debs.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSyncOwned } from "../child.js";

export type DebArch = "amd64" | "arm64";

/** One deb822 stanza of the private sources list. */
export interface AptSource {
  uri: string;
  suites: string[];
  components?: string[];
}

/** Debian's archive keyring, which every source here is signed by (package debian-archive-keyring). */
export const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

const DEFAULT_DEBIAN = "http://deb.debian.org/debian";
const DEFAULT_SECURITY = "http://deb.debian.org/debian-security";

function aptSourceFiles(): string[] {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  return files.filter((f) => existsSync(f));
}

/**
 * The Debian archive URIs the host's apt already uses (a mirror or proxy the machine is set up for): the
 * first "URIs:" of a deb822 .sources file or "deb URI suite" line whose suite is a Debian suite, split
 * into the main archive and the security archive (a suite ending in -security). deb.debian.org for
 * whatever the host does not name (a machine that is not Debian has neither). KEXEC_LAB_DEBIAN_MIRROR
 * and KEXEC_LAB_DEBIAN_SECURITY_MIRROR name others.
 */
export function debianArchiveUris(): { debian: string; security: string } {
  let debian = process.env.KEXEC_LAB_DEBIAN_MIRROR || undefined;
  let security = process.env.KEXEC_LAB_DEBIAN_SECURITY_MIRROR || undefined;
  const SUITE = /^(bookworm|trixie|forky|sid|stable|testing|unstable|oldstable)(-security)?/;
  for (const f of aptSourceFiles()) {
    const text = readFileSync(f, "utf8");
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (uri === undefined) continue;
      for (const s of suites) {
        const m = SUITE.exec(s);
        if (!m) continue;
        if (m[2] !== undefined) security ??= uri;
        else debian ??= uri;
      }
    }
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/gm)) {
      const s = SUITE.exec(m[2]!);
      if (!s) continue;
      if (s[2] !== undefined) security ??= m[1]!;
      else debian ??= m[1]!;
    }
  }
  return { debian: debian ?? DEFAULT_DEBIAN, security: security ?? DEFAULT_SECURITY };
}

/**
 * Write the private apt tree under `dir` (etc/, lists/, cache/) and return the `-o` options that make
 * apt-get use it. Architectures: every one in `architectures` (APT::Architectures), whatever the host's.
 */
export function privateAptOptions(dir: string, sources: AptSource[], architectures: DebArch[]): string[] {
  const parts = join(dir, "etc", "sources.list.d");
  mkdirSync(parts, { recursive: true });
  mkdirSync(join(dir, "lists", "partial"), { recursive: true });
  mkdirSync(join(dir, "cache", "archives", "partial"), { recursive: true });
  writeFileSync(join(dir, "etc", "sources.list"), "");
  const stanzas = sources.map((s) =>
    [
      "Types: deb",
      `URIs: ${s.uri}`,
      `Suites: ${s.suites.join(" ")}`,
      `Components: ${(s.components ?? ["main"]).join(" ")}`,
      `Architectures: ${architectures.join(" ")}`,
      `Signed-By: ${DEBIAN_KEYRING}`,
    ].join("\n"),
  );
  writeFileSync(join(parts, "private.sources"), `${stanzas.join("\n\n")}\n`);
  const opts = [
    `Dir::Etc::sourcelist=${join(dir, "etc", "sources.list")}`,
    `Dir::Etc::sourceparts=${parts}`,
    `Dir::State::Lists=${join(dir, "lists")}`,
    `Dir::Cache=${join(dir, "cache")}`,
    "Dir::State::status=/dev/null",
    "Acquire::Languages=none",
    "APT::Architectures::=",
    ...architectures.map((a) => `APT::Architectures::=${a}`),
  ];
  // As root apt hands downloads to the _apt user, which cannot enter a private directory under /root.
  if (process.getuid?.() === 0) opts.push("APT::Sandbox::User=root");
  return opts.flatMap((o) => ["-o", o]);
}

/** Whether the private lists under `dir` have been fetched (an apt-get update that got at least one list). */
export function privateListsPresent(dir: string): boolean {
  const lists = join(dir, "lists");
  return (
    existsSync(lists) && readdirSync(lists).some((f) => f.endsWith("_Packages") || /_Packages\./.test(f))
  );
}

/** A failure of apt-get, with what it printed, for the caller to put in its own error. */
export class AptError extends Error {}

function apt(opts: string[], args: string[], cwd?: string): void {
  if (!existsSync(DEBIAN_KEYRING)) {
    throw new AptError(`${DEBIAN_KEYRING} is missing (install the package debian-archive-keyring)`);
  }
  try {
    execFileSyncOwned("apt-get", [...opts, ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; stdout?: string; status?: number };
    if (err.code === "ENOENT")
      throw new AptError("apt-get is not installed (a Debian or Ubuntu machine has it)");
    const said = `${err.stderr ?? ""}${err.stdout ?? ""}`.trim().split("\n").slice(-8).join("\n  ");
    throw new AptError(`apt-get ${args.join(" ")} exited ${err.status ?? "?"}:\n  ${said}`);
  }
}

/** `apt-get update` of the private lists (apt's own error on a failed list: `-o APT::Update::Error-Mode=any`). */
export function privateAptUpdate(opts: string[]): void {
  apt([...opts, "-o", "APT::Update::Error-Mode=any"], ["update", "-qq"]);
}

/** `apt-get download spec...` into `cwd` (spec: `pkg:arch` or `pkg:arch=version`). */
export function privateAptDownload(opts: string[], specs: string[], cwd: string): void {
  apt(opts, ["download", "-qq", ...specs], cwd);
}
