/**
 * npm run record:kexec [-- --only <substr>[,<substr>...]] [--skip-existing] [--commit] [--list]
 *
 * Boots real kernels under QEMU (TCG) with a busybox initramfs, runs Debian's real kexec-tools in the guest and
 * writes what the guest printed into test/fixtures/recordings/<case-id>/ (format: that folder's README.md).
 * Outside CI: it needs QEMU, network access to the host's configured Debian archive (apt-get download through a
 * private apt, cached under RECORD_CACHE, default ~/.cache/kexec-lab/record), the Debian kernels of the test data
 * (data:<key>, fetched by test/helpers/data.ts) and, for the custom arm64 cases, scripts/record/build-arm64-kernel.sh's
 * output (RECORD_ARTIFACTS, default ~/.cache/kexec-lab/artifacts, the script's own default).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { type CpioEntry, writeNewc } from "../../src/node/guest/cpio.js";
import {
  type DebArch,
  debKernel,
  debVersion,
  ensureDebs,
  interpreter,
  libClosure,
  recordCacheDir,
  type Suite,
  unpack,
} from "../../src/node/guest/debs.js";
import { dataRef, ensureData } from "../../test/helpers/data.js";
import { CASES, type RecordCase } from "./cases.js";
import { boot, buildInitramfs, type GuestKexec, type GuestPlan, records } from "./guest.js";
import { writePurgatoryFacts } from "./purgatory.js";

const CACHE = recordCacheDir();
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUT = join(REPO, "test", "fixtures", "recordings");
/** Built kernels (artifact:<path>): RECORD_ARTIFACTS, else ~/.cache/kexec-lab/artifacts (build-arm64-kernel.sh's default). */
const ARTIFACTS =
  process.env.RECORD_ARTIFACTS ??
  join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kexec-lab", "artifacts");
const LOGS = join(ARTIFACTS, "record-logs");

const APPEND_LOADED: Record<RecordCase["arch"], string> = {
  x86_64: "console=ttyS0 reset_devices kexec_lab=loaded",
  arm64: "console=ttyAMA0 reset_devices kexec_lab=loaded",
};

/**
 * `testkey:<ref>`: the kernel of <ref> with its signatures removed and signed again (sbsign) by a throwaway
 * key made once under CACHE/testkey: a PE signature that no keyring of the guest trusts.
 */
function testkeySigned(ref: string): string {
  const inner = hostPath(ref.slice("testkey:".length));
  const dir = join(CACHE, "testkey");
  mkdirSync(dir, { recursive: true });
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  if (!existsSync(cert)) {
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=kexec-lab recording test key/",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
  }
  const out = join(dir, `${createHash("sha256").update(inner).digest("hex").slice(0, 12)}.signed`);
  if (!existsSync(out)) {
    const bare = `${out}.bare`;
    writeFileSync(bare, readFileSync(inner));
    execFileSync("sbattach", ["--remove", bare]);
    execFileSync("sbsign", ["--key", key, "--cert", cert, "--output", out, bare]);
    rmSync(bare);
  }
  return out;
}

/**
 * A kernel reference of cases.ts: artifact:<path under ARTIFACTS>, data:<key of test/fixtures/data-manifest.json>,
 * deb:<package>=<version>:<path in the .deb> (debs.ts debKernel) or testkey:<ref> (re-signed, above).
 */
function hostPath(ref: string): string {
  if (ref.startsWith("testkey:")) return testkeySigned(ref);
  if (ref.startsWith("deb:")) return debKernel(ref);
  if (ref.startsWith("artifact:")) return join(ARTIFACTS, ref.slice("artifact:".length));
  return dataRef(ref);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The initrd a case loads: a newc archive with one file of a fixed pattern, 60,000 bytes unless the case asks
 * for more (a realistic initramfs size, where placement changes: the CMA cases).
 */
function smallInitrd(size = 60000, busybox?: string): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  const entries: CpioEntry[] = [{ kind: "file", path: "kexec-lab-initrd.bin", data }];
  if (busybox !== undefined) entries.push(...newFdtProbe(busybox));
  return writeNewc(entries);
}

export const M_NEWFDT_BEGIN = "@@KXL-NEWFDT-BEGIN@@";
export const M_NEWFDT_END = "@@KXL-NEWFDT-END@@";

/**
 * What the loaded kernel runs from its initrd when a case asks for captureNewFdt: busybox and an /init
 * that prints /sys/firmware/fdt (the DTB this kernel was booted with: kexec-tools' edit of the first
 * kernel's, after this kernel's own in-place changes such as the consumed kaslr-seed) and powers off.
 */
function newFdtProbe(busybox: string): CpioEntry[] {
  const init = `#!/bin/sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo 1 > /proc/sys/kernel/printk
echo "${M_NEWFDT_BEGIN}"
/bin/busybox gzip -c /sys/firmware/fdt | /bin/busybox base64
echo "${M_NEWFDT_END}"
/bin/busybox sleep 1
/bin/busybox poweroff -f
`;
  return [
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/busybox", data: readFileSync(busybox), mode: 0o755 },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    { kind: "file", path: "init", data: new TextEncoder().encode(init), mode: 0o755 },
  ];
}

/** The DTB the loaded kernel printed (captureNewFdt), from the console after its banner. */
function newFdtOf(secondBoot: string): Buffer | undefined {
  const b = secondBoot.indexOf(M_NEWFDT_BEGIN);
  const e = secondBoot.indexOf(M_NEWFDT_END, b);
  if (b < 0 || e < 0) return undefined;
  const text = secondBoot.slice(b + M_NEWFDT_BEGIN.length, e).replace(/\s+/g, "");
  return gunzipSync(Buffer.from(text, "base64"));
}

interface Tools {
  kexec: GuestKexec;
  deb: string;
  version: string;
  busybox: string;
}

const toolCache = new Map<string, Tools>();
function tools(suite: Suite, arch: DebArch): Tools {
  const key = `${suite}-${arch}`;
  const hit = toolCache.get(key);
  if (hit) return hit;
  const debs = ensureDebs(suite, arch);
  const root = unpack(suite, arch, debs);
  const binary = [join(root, "sbin", "kexec"), join(root, "usr", "sbin", "kexec")].find((f) => existsSync(f));
  if (!binary) throw new Error(`record: no sbin/kexec in ${root}`);
  const kexec: GuestKexec = {
    name: suite,
    binary,
    libs: libClosure(root, arch, binary),
    interp: interpreter(binary),
  };
  // busybox-static comes from bookworm for both suites
  const bb = unpack("bookworm", arch, ensureDebs("bookworm", arch));
  const t: Tools = {
    kexec,
    deb: debs.get("kexec-tools")!,
    version: debVersion(debs.get("kexec-tools")!),
    busybox: join(bb, "bin", "busybox"),
  };
  toolCache.set(key, t);
  return t;
}

function qemuArgs(
  c: RecordCase,
  initramfs: string,
): { binary: string; args: string[]; cpu: string; append: string } {
  const console = c.arch === "x86_64" ? "ttyS0" : "ttyAMA0";
  const append = `console=${console} panic=0${c.runningExtra ? ` ${c.runningExtra}` : ""}`;
  const common = [
    "-m",
    c.memory,
    "-smp",
    String(c.smp),
    "-nographic",
    "-no-reboot",
    "-accel",
    "tcg",
    ...(c.qemuExtra ?? []),
  ];
  const kernel = ["-kernel", hostPath(c.running), "-initrd", initramfs, "-append", append];
  if (c.arch === "x86_64") {
    return {
      binary: "qemu-system-x86_64",
      args: ["-machine", c.machine, "-cpu", "qemu64", ...common, ...kernel],
      cpu: "qemu64",
      append,
    };
  }
  return {
    binary: "qemu-system-aarch64",
    args: [
      "-machine",
      c.machineOptions ? `virt,${c.machineOptions}` : "virt",
      "-cpu",
      "cortex-a57",
      ...common,
      ...kernel,
    ],
    cpu: "cortex-a57",
    append,
  };
}

const FILES: Record<string, string> = {
  "kexec-d": "kexec-d.txt",
  dmesg: "dmesg.txt",
  iomem: "iomem.txt",
  memmap: "memmap.txt",
  "memblock-memory": "memblock-memory.txt",
  "memblock-reserved": "memblock-reserved.txt",
  cmdline: "cmdline.txt",
  meminfo: "meminfo.txt",
  nproc: "nproc.txt",
  kexec_crash_size: "kexec_crash_size.txt",
  uname: "uname.txt",
  "kexec-version": "kexec-version.txt",
  setup: "setup.txt",
  cma: "cma.txt",
  "cma-after": "cma-after.txt",
  dyndbg: "dyndbg.txt",
  "kho-scratch": "kho-scratch.txt",
};

async function recordCase(c: RecordCase): Promise<Record<string, unknown> | undefined> {
  const arch: DebArch = c.arch === "x86_64" ? "amd64" : "arm64";
  for (const ref of new Set([c.running, c.loaded])) {
    if (!existsSync(hostPath(ref))) {
      console.log(
        `  skip ${c.id}: ${hostPath(ref)} does not exist (run scripts/record/build-arm64-kernel.sh)`,
      );
      return undefined;
    }
  }
  const t = tools(c.suite, arch);
  const initrd = smallInitrd(c.initrdSize, c.captureNewFdt ? t.busybox : undefined);
  const append = APPEND_LOADED[c.arch];
  const args = [c.crash ? "-p" : "-l"];
  if (c.syscall === "kexec_file_load") args.unshift("-s");
  else if (c.explicitSyscall) args.unshift("-c");
  if (c.debug !== false) args.unshift("-d");
  args.push("/k/kernel");
  if (c.initrd) args.push("--initrd=/k/initrd");
  args.push(`--append=${append}`);
  const plan: GuestPlan = {
    busybox: t.busybox,
    kexecs: [t.kexec],
    files: new Map([
      ["/k/kernel", hostPath(c.loaded)],
      ...(c.runningConfig ? ([["/k/running-config", hostPath(c.runningConfig)]] as [string, string][]) : []),
    ]),
    ...(c.runningConfig
      ? {
          config: "/k/running-config",
          configAt: `/${c.runningConfig.slice(c.runningConfig.lastIndexOf(":") + 1)}`,
        }
      : {}),
    blobs: new Map([["/k/initrd", initrd]]),
    kexecName: c.suite,
    args,
    crash: c.crash,
    confirm: true,
    setup: c.setup ?? [],
    ...(c.wrap ? { wrap: c.wrap } : {}),
    collect: join(REPO, "bin", "kexec-lab-collect"),
  };
  mkdirSync(join(CACHE, "initramfs"), { recursive: true });
  const initramfs = join(CACHE, "initramfs", `${c.id}.cpio`);
  writeFileSync(initramfs, buildInitramfs(plan));
  const q = qemuArgs(c, initramfs);
  const started = new Date();
  console.log(`  ${c.id}: ${q.binary} ${q.args.join(" ")}`);
  mkdirSync(LOGS, { recursive: true });
  const r = await boot(
    q.binary,
    q.args,
    c.timeoutSec,
    c.crash,
    join(LOGS, `${c.id}.console.log`),
    c.secondBootSec ?? (c.captureNewFdt ? 120 : 8),
  );
  writeFileSync(join(LOGS, `${c.id}.console.txt`), r.console);
  const rec = records(r.console);
  if (!rec.has("exit-code")) {
    console.log(
      `  FAILED ${c.id}: the guest did not print its records (timedOut=${r.timedOut}); console in ${join(LOGS, `${c.id}.console.txt`)}`,
    );
    return undefined;
  }
  const dir = join(OUT, c.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, file] of Object.entries(FILES)) {
    const v = rec.get(name);
    if (v !== undefined) writeFileSync(join(dir, file), v);
  }
  if (r.secondBoot !== "") writeFileSync(join(dir, "second-boot.txt"), r.secondBoot);
  const newFdt = c.captureNewFdt ? newFdtOf(r.secondBoot) : undefined;
  if (newFdt !== undefined) writeFileSync(join(dir, "new-fdt.dtb"), newFdt);
  else if (c.captureNewFdt) console.log(`  ${c.id}: the loaded kernel printed no DTB (no new-fdt.dtb)`);
  const fdt = rec.get("fdt.gz.b64");
  if (fdt !== undefined)
    writeFileSync(join(dir, "fdt.dtb"), gunzipSync(Buffer.from(fdt.replace(/\s+/g, ""), "base64")));
  const collected = rec.get("collect.tar.gz.b64");
  if (collected !== undefined) {
    // what the shipped kexec-lab-collect wrote in the guest, as it wrote it (test/host-collect.test.ts)
    const into = join(dir, "collect");
    mkdirSync(into);
    execFileSync("tar", ["-xzf", "-", "-C", into], {
      input: Buffer.from(collected.replace(/\s+/g, ""), "base64"),
    });
  }
  const exitCode = Number(rec.get("exit-code")!.trim());
  const kernelBytes = readFileSync(hostPath(c.loaded));
  const runningBytes = readFileSync(hostPath(c.running));
  const loadedKernel: Record<string, unknown> = {
    file: c.loaded,
    size: kernelBytes.length,
    sha256: sha256(kernelBytes),
  };
  if (/^(artifact|deb|testkey):/.test(c.loaded)) {
    writeFileSync(join(dir, "kernel-head.bin"), kernelBytes.subarray(0, 65536));
    loadedKernel.head = "kernel-head.bin";
  }
  const kexecVersion = rec.get("kexec-version") ?? "";
  const confirmed = exitCode === 0 && r.confirmed;
  let confirmNote = r.confirmNote;
  if (exitCode !== 0) confirmNote = `load failed (exit code ${exitCode}); nothing to boot`;
  const caseJson = {
    id: c.id,
    arch: c.arch,
    about: c.about,
    qemu: {
      binary: q.binary,
      machine: c.machine,
      ...(c.machineOptions ? { machineOptions: c.machineOptions } : {}),
      cpu: q.cpu,
      memory: c.memory,
      smp: c.smp,
      ...(c.qemuExtra ? { extra: c.qemuExtra } : {}),
      append: q.append,
    },
    runningKernel: {
      file: c.running,
      uname: (rec.get("uname") ?? "").trim(),
      size: runningBytes.length,
      sha256: sha256(runningBytes),
    },
    kexecTools: {
      version: /kexec-tools ([\w.+~-]+)/.exec(kexecVersion)?.[1] ?? kexecVersion.trim(),
      debianPackage: `kexec-tools_${t.version}_${arch}.deb`,
      suite: c.suite,
    },
    command: ["kexec", ...args],
    syscall: c.syscall,
    crash: c.crash,
    ...(c.firstKernel ? { firstKernel: c.firstKernel } : {}),
    ...(c.runningConfig ? { runningConfig: c.runningConfig } : {}),
    ...(c.setup ? { setup: c.setup } : {}),
    ...(c.wrap ? { wrap: c.wrap } : {}),
    loaded: {
      kernel: loadedKernel,
      initrd: c.initrd ? { size: initrd.length, sha256: sha256(initrd) } : null,
      append,
    },
    exitCode,
    confirmed,
    confirmNote,
    recordedAt: started.toISOString(),
    durationSeconds: Math.round(r.seconds * 10) / 10,
    files: [...readdirNames(dir), "case.json"].sort(),
  };
  writeFileSync(join(dir, "case.json"), `${JSON.stringify(caseJson, null, 2)}\n`);
  console.log(
    `  -> ${c.id}: exit ${exitCode}, confirmed ${confirmed} (${confirmNote}), ${r.seconds.toFixed(1)} s`,
  );
  return caseJson;
}

function readdirNames(dir: string): string[] {
  return execFileSync("ls", ["-1", dir], { encoding: "utf8" }).split("\n").filter(Boolean);
}

function updateIndex(): void {
  const ids = readdirNames(OUT).filter((d) => existsSync(join(OUT, d, "case.json")));
  const cases = ids.map((id) => {
    const j = JSON.parse(readFileSync(join(OUT, id, "case.json"), "utf8"));
    return {
      id,
      arch: j.arch,
      syscall: j.syscall,
      crash: j.crash,
      exitCode: j.exitCode,
      confirmed: j.confirmed,
    };
  });
  writeFileSync(join(OUT, "index.json"), `${JSON.stringify({ cases }, null, 2)}\n`);
}

function commit(paths: string[], msg: string): void {
  execFileSync("git", ["-C", REPO, "add", ...paths]);
  const staged = execFileSync("git", ["-C", REPO, "diff", "--cached", "--name-only"], { encoding: "utf8" });
  if (staged.trim()) execFileSync("git", ["-C", REPO, "commit", "-q", "-m", msg]);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const argv = process.argv.slice(2);
  const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1] : undefined;
  const doCommit = argv.includes("--commit");
  if (argv.includes("--list")) {
    for (const c of CASES) console.log(`${c.id}\t${c.about}`);
    return;
  }
  mkdirSync(OUT, { recursive: true });
  // the Debian kernels the cases boot and load (data:<key>): from the test-data cache, fetched when missing
  await ensureData({
    keys: [...new Set(CASES.flatMap((c) => [c.running, c.loaded]))]
      .filter((r) => r.startsWith("data:"))
      .map((r) => r.slice("data:".length)),
  });
  const selected = CASES.filter((c) => !only || only.split(",").some((o) => c.id.includes(o)));
  if (!only || only === "purgatory") {
    const facts = [];
    for (const suite of ["bookworm", "trixie", "forky"] as const)
      for (const arch of ["amd64", "arm64"] as const) {
        const t = tools(suite, arch);
        facts.push({
          suite,
          arch,
          binary: t.kexec.binary,
          guestPath: t.kexec.binary.slice(t.kexec.binary.indexOf("/", CACHE.length + 8)),
          debianPackage: `kexec-tools_${t.version}_${arch}.deb`,
        });
      }
    writePurgatoryFacts(join(OUT, "purgatory.json"), facts);
    console.log("purgatory.json written");
    if (doCommit)
      commit([join(OUT, "purgatory.json")], "recordings: purgatory.json from Debian's kexec binaries");
  }
  let ok = 0;
  const skipExisting = argv.includes("--skip-existing");
  for (const c of selected) {
    if (skipExisting && existsSync(join(OUT, c.id, "case.json"))) {
      console.log(`  ${c.id}: already recorded (--skip-existing)`);
      continue;
    }
    const res = await recordCase(c);
    if (!res) continue;
    ok++;
    updateIndex();
    if (doCommit) {
      commit(
        [join(OUT, c.id), join(OUT, "index.json")],
        `recordings: ${c.id} (exit ${res.exitCode}, confirmed ${res.confirmed})`,
      );
    }
  }
  const secs = (Date.now() - t0) / 1000;
  console.log(`record:kexec: ${ok}/${selected.length} cases recorded in ${secs.toFixed(1)} s`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
