/**
 * The gates through the CLI: the hand-built collect trees of test/fixtures/gates through `--host`
 * (plan, kexec, memory, run), the gate options without a host, `kexec-lab-collect --root` on a saved
 * tree reproducing a refusal, and `diff` explaining every refusal log kind in glibc's and musl's
 * wording.
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serializeFdt } from "../src/formats/fdt.js";
import { arm64Header, bzImageHeader, elf64 } from "../src/formats/synth.js";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const MiB = 1024 * 1024;
const FIXTURES = fileURLToPath(new URL("./fixtures/gates/", import.meta.url));
const COLLECT = fileURLToPath(new URL("../bin/kexec-lab-collect", import.meta.url));
const dir = testTempDir("gates-cli");
const put = (name: string, data: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const BZ = put("bzImage", bzImageHeader({ initSize: 32 * MiB }, 4 * MiB));
const IOMEM = put("iomem.txt", "00001000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n");

interface Expected {
  what: string;
  syscall: string;
  gate: string;
  errno: string;
  log?: string;
  crashAllowed?: boolean;
}
const cases = readdirSync(FIXTURES).filter((d) => !d.includes("."));

describe("hand-built collect trees through --host", () => {
  it("has the five cases", () => {
    expect(cases.sort()).toEqual(
      ["kexec-load-disabled", "limit-reboot-0", "lockdown-integrity", "no-cap-sys-boot", "no-kexec"].sort(),
    );
  });
  for (const c of cases) {
    const host = join(FIXTURES, c);
    const exp = JSON.parse(readFileSync(join(host, "expected.json"), "utf8")) as Expected;
    it(`${c}: plan --host exits 1 naming the gate and errno (${exp.what})`, async () => {
      const r = await runCli(["plan", "--kernel", BZ, "--host", host]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/E_GATE_REFUSED/);
      expect(r.err).toContain(`${exp.syscall} fails with ${exp.errno} at the ${exp.gate} gate`);
      if (exp.log !== undefined) expect(r.err).toContain(exp.log);
      expect(r.out).toBe("");
      const j = await runCli(["plan", "--kernel", BZ, "--host", host, "--json"]);
      expect(j.code).toBe(1);
      const doc = JSON.parse(j.out);
      expect(doc.error.code).toBe("E_GATE_REFUSED");
      expect(doc.error.refusal).toMatchObject({ gate: exp.gate, errno: exp.errno, syscall: exp.syscall });
      expect(doc.error.refusal.source).toMatch(/\.c /);
    });
    it(`${c}: kexec and memory refuse the same load`, async () => {
      const k = await runCli(["kexec", "-l", BZ, "--host", host]);
      expect(k.code).toBe(1);
      expect(k.err).toContain(`fails with ${exp.errno} at the ${exp.gate} gate`);
      const m = await runCli(["memory", "--kernel", BZ, "--initrd-size", "16M", "--host", host]);
      expect(m.code).toBe(1);
      expect(m.err).toContain(`at the ${exp.gate} gate`);
    });
  }
  it("limit-reboot-0: a crash load (-p) still passes: only kexec_load_limit_reboot is 0", async () => {
    const r = await runCli(["plan", "--kernel", BZ, "--host", join(FIXTURES, "limit-reboot-0"), "-p"]);
    expect(r.code, r.err).toBe(0);
  });
  it("no-kexec: kexec-tools 2.0.29 falls back from kexec_file_load's ENOSYS and meets ENOSYS again", async () => {
    const r = await runCli(["plan", "--kernel", BZ, "--host", join(FIXTURES, "no-kexec"), "--json"]);
    const doc = JSON.parse(r.out);
    expect(doc.error.gates.map((v: { syscall: string }) => v.syscall)).toEqual([
      "kexec_file_load",
      "kexec_load",
    ]);
  });
});

describe("arm64: CPUs stuck in the kernel (spin-table)", () => {
  it("a normal load is refused with EBUSY after placement, a crash load is not", async () => {
    const enc = (t: string) => new TextEncoder().encode(t);
    const u32 = (...v: number[]) => {
      const b = new Uint8Array(v.length * 4);
      const d = new DataView(b.buffer);
      for (let i = 0; i < v.length; i++) d.setUint32(i * 4, v[i]!);
      return b;
    };
    const cpu = (i: number) => ({
      name: `cpu@${i}`,
      props: [
        { name: "device_type", value: enc("cpu\0") },
        { name: "reg", value: u32(i) },
        { name: "enable-method", value: enc("spin-table\0") },
      ],
      children: [],
    });
    const fdt = serializeFdt({
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      totalSize: 0,
      memreserve: [],
      root: {
        name: "",
        props: [
          { name: "#address-cells", value: u32(2) },
          { name: "#size-cells", value: u32(2) },
        ],
        children: [
          { name: "chosen", props: [], children: [] },
          {
            name: "memory@40000000",
            props: [
              { name: "device_type", value: enc("memory\0") },
              { name: "reg", value: u32(0, 0x40000000, 0, 0x40000000) },
            ],
            children: [],
          },
          {
            name: "cpus",
            props: [
              { name: "#address-cells", value: u32(1) },
              { name: "#size-cells", value: u32(0) },
            ],
            children: [cpu(0), cpu(1)],
          },
        ],
      },
    });
    const host = join(dir, "spin-table-host");
    mkdirSync(host);
    writeFileSync(join(host, "fdt.dtb"), fdt);
    writeFileSync(
      join(host, "iomem.txt"),
      "40000000-7fffffff : System RAM\n  50000000-57ffffff : Crash kernel\n",
    );
    writeFileSync(join(host, "uname-m.txt"), "aarch64\n");
    writeFileSync(join(host, "kexec-version.txt"), "kexec-tools 2.0.25\n");
    const image = put("Image", arm64Header({ imageSize: 2 * MiB }, 64 * 1024));
    const r = await runCli(["plan", "--kernel", image, "--host", host]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(
      "kexec_load fails with EBUSY at the cpus-stuck gate: 2 CPUs and every one use the spin-table",
    );
    expect(r.err).toContain("Can't kexec: CPUs are stuck in the kernel.");
    const crash = await runCli(["plan", "--kernel", image, "--host", host, "-p"]);
    expect(crash.code, crash.err).toBe(0);
  });
});

describe("whole outputs (snapshots)", () => {
  it("plan --host of a locked-down machine: the message on stderr, the error document on stdout", async () => {
    const host = "test/fixtures/gates/lockdown-integrity";
    const t = await runCli(["plan", "--kernel", BZ, "--host", host]);
    expect(t.code).toBe(1);
    await expect(t.err).toMatchFileSnapshot("__snapshots__/cli/plan-gate-lockdown.txt");
    const j = await runCli(["plan", "--kernel", BZ, "--host", host, "--json"]);
    await expect(j.out).toMatchFileSnapshot("__snapshots__/cli/plan-gate-lockdown.json");
  });
});

describe("gate options without a host", () => {
  it("--lockdown integrity refuses kexec_load (EPERM) and lets --loader kexec-file through to its signature check", async () => {
    const base = ["plan", "--kernel", BZ, "--iomem", IOMEM, "--lockdown", "integrity"];
    const a = await runCli([...base, "--loader", "kexec-tools"]);
    expect(a.code).toBe(1);
    expect(a.err).toContain("kexec_load fails with EPERM at the lockdown gate");
    const b = await runCli([...base, "--loader", "kexec-file", "--kernel-version", "6.12", "--json"]);
    expect(b.code, b.err).toBe(0);
    const doc = JSON.parse(b.out);
    expect(doc.gates.syscall).toBe("kexec_file_load");
    const sig = doc.gates.verdicts[0].checks.find((c: { gate: string }) => c.gate === "signature");
    expect(sig.status).toBe("unknown");
  });
  it("--kexec-load-disabled refuses both syscalls; --kernel-config reads a .config (or config.gz)", async () => {
    const r = await runCli(["plan", "--kernel", BZ, "--iomem", IOMEM, "--kexec-load-disabled"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/EPERM at the permitted gate: kexec_load_disabled is 1 \(--kexec-load-disabled\)/);
    const cfg = put("config", "CONFIG_KEXEC_FILE=y\n# CONFIG_KEXEC is not set\n");
    const c = await runCli([
      "plan",
      "--kernel",
      BZ,
      "--iomem",
      IOMEM,
      "--kernel-config",
      cfg,
      "--loader",
      "kexec-tools",
    ]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(
      /kexec_load fails with ENOSYS at the syscall gate: .*CONFIG_KEXEC is not set in .*config/,
    );
  });
  it("run --lockdown refuses kexec_load before relocating anything", async () => {
    const r = await runCli([
      "run",
      "--kernel",
      BZ,
      "--arch",
      "x86_64",
      "--loader",
      "kexec-tools",
      "--lockdown",
      "confidentiality",
      "--strategy",
      "x86-ident",
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("EPERM at the lockdown gate");
  });
});

describe("kexec-lab-collect --root", () => {
  it("reads a saved tree and its output reproduces the refusal through --host", async () => {
    const tree = join(dir, "tree");
    const w = (p: string, t: string) => {
      mkdirSync(join(tree, p, ".."), { recursive: true });
      writeFileSync(join(tree, p), t);
    };
    const rel = "6.12.48+deb13-amd64";
    w("proc/iomem", readFileSync(join(FIXTURES, "lockdown-integrity/iomem.txt"), "utf8"));
    w(
      "proc/meminfo",
      "MemTotal:        2014236 kB\nMemFree:         1800000 kB\nMemAvailable:    1850000 kB\n",
    );
    w("proc/cpuinfo", "processor\t: 0\nprocessor\t: 1\n");
    w("proc/cmdline", "console=ttyS0 crashkernel=256M\n");
    w("proc/sys/kernel/osrelease", `${rel}\n`);
    w("proc/sys/kernel/arch", "x86_64\n");
    w("proc/sys/kernel/kexec_load_disabled", "0\n");
    w("proc/sys/kernel/kexec_load_limit_reboot", "-1\n");
    w("proc/sys/kernel/kexec_load_limit_panic", "-1\n");
    w("sys/kernel/security/lockdown", "none integrity [confidentiality]\n");
    w("sys/kernel/kexec_loaded", "0\n");
    w("sys/kernel/kexec_crash_size", "268435456\n");
    w(
      `boot/config-${rel}`,
      `${Array.from({ length: 150 }, (_, i) => `CONFIG_FILLER_${i}=y`).join("\n")}\nCONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\n`,
    );
    w("proc/self/status", "Name:\tcat\nCapEff:\t000001ffffffffff\n");
    w("proc/self/uid_map", "         0          0 4294967295\n");
    const out = join(dir, "collected");
    const r = spawnSync("sh", [COLLECT, "--root", tree, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const cfg = readFileSync(join(out, "kernel-config.txt"), "utf8");
    expect(cfg).toMatch(new RegExp(`^# source: /boot/config-${rel.replace(/\+/g, "\\+")}\n`));
    expect(cfg).toContain("CONFIG_KEXEC=y\n");
    expect(cfg).toContain("# CONFIG_KEXEC_SIG is not set\n");
    expect(readFileSync(join(out, "kexec-sysfs.txt"), "utf8")).toContain("/sys/kernel/kexec_loaded 0");
    expect(readFileSync(join(out, "lockdown.txt"), "utf8")).toContain("[confidentiality]");
    expect(readFileSync(join(out, "nproc.txt"), "utf8").trim()).toBe("2");
    const p = await runCli(["plan", "--kernel", BZ, "--host", out, "--loader", "kexec-tools"]);
    expect(p.code).toBe(1);
    expect(p.err).toContain(
      "kexec_load fails with EPERM at the lockdown gate: the kernel is locked down (confidentiality",
    );
  });
  it("takes a sosreport's uname -a (release and machine only, never the node name) and dmesg", () => {
    const tree = join(dir, "sos");
    const w = (p: string, t: string) => {
      mkdirSync(join(tree, p, ".."), { recursive: true });
      writeFileSync(join(tree, p), t);
    };
    w("proc/iomem", "00001000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n");
    w(
      "sos_commands/kernel/uname_-a",
      "Linux secret-node-name 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29) x86_64 GNU/Linux\n",
    );
    w(
      "sos_commands/kernel/dmesg",
      "[    0.000000] Linux version 6.1.0\n[    1.000000] random: crng init done\n",
    );
    const out = join(dir, "sos-out");
    const r = spawnSync("sh", [COLLECT, "--root", tree, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(out, "uname.txt"), "utf8")).toBe("6.1.0-13-amd64\n");
    expect(readFileSync(join(out, "uname-m.txt"), "utf8")).toBe("x86_64\n");
    expect(readFileSync(join(out, "dmesg.txt"), "utf8")).toContain("random: crng init done");
    const all = readdirSync(out)
      .map((f) => readFileSync(join(out, f), "utf8"))
      .join("\n");
    expect(all).not.toContain("secret-node-name");
  });
  it("refuses a --root that is not a directory (exit 2)", () => {
    const r = spawnSync("sh", [COLLECT, "--root", join(dir, "nope"), join(dir, "o2")], { encoding: "utf8" });
    expect(r.status).toBe(2);
  });
});

describe("diff explains each refusal log kind", () => {
  const ELF = put(
    "vmlinux",
    elf64({ machine: 62, entry: 0x1000000, loads: [{ paddr: 0x1000000, filesz: 0x1000, memsz: 0x1000 }] }),
  );
  const diff = async (log: string, extra: string[] = [], kernel = BZ) => {
    const f = put(`log${Math.random().toString(36).slice(2)}`, log);
    return runCli(["diff", f, "--kernel", kernel, "--iomem", IOMEM, "--json", ...extra]);
  };
  const gateFinding = (out: string) => {
    const doc = JSON.parse(out) as { findings: { topic: string; status: string; text: string }[] };
    return doc.findings.find((x) => x.topic === "gate");
  };
  const cases: [string, string, RegExp, string[]?, string?][] = [
    [
      "EPERM (lockdown, both libcs' text)",
      "Lockdown: kexec: kexec of unsigned images is restricted; see man kernel_lockdown.7\nkexec_load failed: Operation not permitted\n",
      /kexec_load failed with EPERM: the log says "Lockdown: kexec: .*the kernel is locked down/,
    ],
    [
      "EPERM without a lockdown line",
      "kexec_load failed: Operation not permitted\n",
      /kexec_load_permitted \(no CAP_SYS_BOOT.*no "Lockdown:" line, so it is kexec_load_permitted/,
    ],
    [
      "EACCES (IMA, kexec_load)",
      "ima: impossible to appraise a kernel image without a file descriptor; try using kexec_file_load syscall.\nkexec_load failed: Permission denied\n",
      /failed with EACCES: the log says "ima: impossible.*use kexec_file_load/,
    ],
    [
      "EKEYREJECTED (glibc and musl: Key was rejected by service)",
      "kexec_file: Enforced kernel signature verification failed (-129).\nkexec_file_load failed: Key was rejected by service\n",
      /kexec_file_load failed with EKEYREJECTED: the log says "kexec_file: Enforced kernel signature/,
      ["--loader", "kexec-file"],
    ],
    [
      "ENODATA (unsigned)",
      "kexec_file: Enforced kernel signature verification failed (-61).\nkexec_file_load failed: No data available\n",
      /failed with ENODATA: .*enforces signatures/,
      ["--loader", "kexec-file"],
    ],
    [
      "ENOKEY (Required key not available)",
      "kexec_file_load failed: Required key not available\n",
      /failed with ENOKEY: ENOKEY at a gate comes from kexec_file_load's signature check: the kernel is signed by a key in none/,
      ["--loader", "kexec-file"],
    ],
    [
      "ENOEXEC (x86 probe)",
      "kexec_file_load failed: Exec format error\n",
      /failed with ENOEXEC at the probe gate: x86_64 kexec_file_load takes a bzImage/,
      ["--loader", "kexec-file"],
      ELF,
    ],
    [
      "EBUSY, musl's 'Resource busy', arm64's CPUs stuck",
      "Can't kexec: CPUs are stuck in the kernel.\nkexec_load failed: Resource busy\n",
      /failed with EBUSY: the log says "Can't kexec: CPUs are stuck in the kernel\.": arm64 could not take the secondary CPUs offline/,
    ],
    [
      "ENOSYS (musl's old 'Function not supported')",
      "kexec_load failed: Function not supported\n",
      /failed with ENOSYS: ENOSYS at a gate comes from the kernel has no such syscall/,
    ],
  ];
  for (const [what, log, re, extra, kernel] of cases)
    it(what, async () => {
      const r = await diff(log, extra, kernel);
      const g = gateFinding(r.out);
      expect(g, r.out + r.err).toBeDefined();
      expect(g!.status).toBe("explained");
      expect(g!.text).toMatch(re);
    });

  it("EINVAL on arm64 kexec_file_load of an ELF is the probe's", async () => {
    const arm = put(
      "vmlinux-arm64",
      elf64({
        machine: 183,
        entry: 0x40200000,
        loads: [{ paddr: 0x40200000, filesz: 0x1000, memsz: 0x1000 }],
      }),
    );
    const f = put("einval.log", "kexec_file_load failed: Invalid argument\n");
    const r = await runCli([
      "diff",
      f,
      "--kernel",
      arm,
      "--arch",
      "arm64",
      "--iomem",
      put("iomem-arm", "40000000-7fffffff : System RAM\n"),
      "--loader",
      "kexec-file",
      "--json",
    ]);
    const g = gateFinding(r.out);
    expect(g?.text).toMatch(/failed with EINVAL at the probe gate: arm64 kexec_file_load takes an Image/);
  });

  it("with the host's gate state it names the gate: kexec_load_disabled", async () => {
    const r = await runCli([
      "diff",
      put("eperm.log", "kexec_load failed: Operation not permitted\n"),
      "--kernel",
      BZ,
      "--host",
      join(FIXTURES, "kexec-load-disabled"),
      "--json",
    ]);
    const g = gateFinding(r.out);
    expect(g?.status).toBe("explained");
    expect(g?.text).toMatch(/failed with EPERM at the permitted gate: kexec_load_disabled is 1/);
  });

  it("a host whose gates all pass leaves an EPERM unexplained", async () => {
    const r = await runCli([
      "diff",
      put("eperm2.log", "kexec_load failed: Operation not permitted\n"),
      "--kernel",
      BZ,
      "--host",
      join(FIXTURES, "limit-reboot-0"),
      "-p",
      "--json",
    ]);
    const g = gateFinding(r.out);
    expect(g?.status).toBe("unexplained");
    expect(r.code).toBe(1);
  });

  it("kexec-tools' own 'Memory for crashkernel is not reserved' is explained", async () => {
    const r = await diff(
      'Memory for crashkernel is not reserved\nPlease reserve memory by passing"crashkernel=Y@X" parameter to kernel\nThen try to loading kdump kernel\n',
    );
    expect(gateFinding(r.out)?.text).toMatch(/is_crashkernel_mem_reserved/);
  });
});
