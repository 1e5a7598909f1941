/**
 * The gates one by one (src/gates), in the kernel's order: each refusal's errno, log line and source,
 * the version rules (kexec_load_limit_* from 6.3), the signature matrix (enforced, lockdown, IMA),
 * the host files they are read from (src/host/gates.ts) and the fallback of kexec-tools' -a.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serializeFdt } from "../src/formats/fdt.js";
import { bzImageHeader, elf64 } from "../src/formats/synth.js";
import { GateRefusalError } from "../src/gates/error.js";
import { evaluateGates } from "../src/gates/evaluate.js";
import { lockdownInForce } from "../src/gates/state.js";
import type { GateQuery, GateSignatureVerdict, GateState } from "../src/gates/types.js";
import { cpusStuckFromFdt, parseHostGates, parseKernelConfig, parseLockdown } from "../src/host/gates.js";
import { gatedPlanLoad } from "../src/request/gates.js";

const MiB = 1024 * 1024;
const q = (over: Partial<GateQuery> & { state: GateState }): GateQuery => ({
  syscall: "kexec_load",
  crash: false,
  arch: "x86_64",
  kernelVersion: "6.12",
  ...over,
});
const cfg = (
  values: GateState["config"] extends infer C ? (C extends { values: infer V } ? V : never) : never,
) => ({
  values,
  source: "test config",
});
const known = <T>(value: T) => ({ value, source: "test" });

describe("kexec_load_permitted", () => {
  it("refuses without CAP_SYS_BOOT, with kexec_load_disabled, for either syscall: EPERM", () => {
    for (const syscall of ["kexec_load", "kexec_file_load"] as const) {
      const noCap = evaluateGates(q({ syscall, state: { capSysBoot: known(false) } }));
      expect(noCap.refusal).toMatchObject({ gate: "permitted", errno: "EPERM", syscall });
      const disabled = evaluateGates(q({ syscall, state: { kexecLoadDisabled: known(true) } }));
      expect(disabled.refusal).toMatchObject({ gate: "permitted", errno: "EPERM" });
      expect(disabled.refusal!.fix).toMatch(/reboot/);
      // The kernel logs nothing for kexec_load_permitted; kexec prints the strerror.
      expect(disabled.refusal!.log).toBeUndefined();
      expect(disabled.refusal!.kexecTools).toBe(`${syscall} failed: Operation not permitted`);
    }
  });

  it("applies kexec_load_limit_reboot / _panic from Linux 6.3 only, each to its own kind of load", () => {
    const state: GateState = { limitReboot: known(0), limitPanic: known(-1) };
    expect(evaluateGates(q({ state, kernelVersion: "6.12" })).refusal?.reason).toMatch(
      /kexec_load_limit_reboot is 0/,
    );
    expect(evaluateGates(q({ state, kernelVersion: "6.1" })).refusal).toBeUndefined();
    expect(evaluateGates(q({ state, crash: true, kernelVersion: "6.12" })).refusal).toBeUndefined();
    const panic0 = evaluateGates(q({ state: { limitPanic: known(0) }, crash: true }));
    expect(panic0.refusal?.reason).toMatch(/kexec_load_limit_panic is 0/);
  });
});

describe("kexec_load's kernel gates", () => {
  it("lockdown integrity or confidentiality refuses kexec_load with EPERM and lockdown's own line", () => {
    for (const level of ["integrity", "confidentiality"] as const) {
      const v = evaluateGates(q({ state: { lockdown: known(level) } }));
      expect(v.refusal).toMatchObject({ gate: "lockdown", errno: "EPERM" });
      expect(v.refusal!.log).toBe(
        "Lockdown: kexec: kexec of unsigned images is restricted; see man kernel_lockdown.7",
      );
      expect(v.refusal!.source).toMatch(/lockdown_is_locked_down/);
    }
    expect(evaluateGates(q({ state: { lockdown: known("none") } })).refusal).toBeUndefined();
  });

  it("infers lockdown from the command line, forced config and Secure Boot when the file is not read", () => {
    const c = cfg({ CONFIG_SECURITY_LOCKDOWN_LSM: "y", CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT: "y" });
    expect(lockdownInForce({ config: c, secureBoot: known(true) })?.value).toBe("integrity");
    expect(lockdownInForce({ config: c, secureBoot: known(false) })?.value).toBe("none");
    expect(
      lockdownInForce({ config: c, secureBoot: known(false) }, "ro lockdown=confidentiality")?.value,
    ).toBe("confidentiality");
    expect(lockdownInForce({ config: c })).toBeUndefined();
  });

  it("IMA refuses kexec_load with EACCES under Secure Boot with KEXEC_SIG and the arch policy, or an appraise rule", () => {
    const sb = evaluateGates(
      q({
        state: {
          secureBoot: known(true),
          config: cfg({ CONFIG_IMA: "y", CONFIG_IMA_ARCH_POLICY: "y", CONFIG_KEXEC_SIG: "y" }),
        },
      }),
    );
    expect(sb.refusal).toMatchObject({ gate: "ima-load-data", errno: "EACCES" });
    expect(sb.refusal!.log).toMatch(/^ima: impossible to appraise a kernel image without a file descriptor/);
    const rule = evaluateGates(
      q({
        state: {
          imaPolicy: known(
            "measure func=KEXEC_KERNEL_CHECK\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n",
          ),
        },
      }),
    );
    expect(rule.refusal).toMatchObject({ gate: "ima-load-data", errno: "EACCES" });
    const measureOnly = evaluateGates(
      q({ state: { imaPolicy: known("measure func=KEXEC_KERNEL_CHECK\n") } }),
    );
    expect(measureOnly.refusal).toBeUndefined();
  });

  it("acts in the kernel's order: permitted before IMA before lockdown", () => {
    const all: GateState = {
      capSysBoot: known(false),
      imaPolicy: known("appraise func=KEXEC_KERNEL_CHECK\n"),
      lockdown: known("integrity"),
    };
    expect(evaluateGates(q({ state: all })).refusal?.gate).toBe("permitted");
    expect(evaluateGates(q({ state: { ...all, capSysBoot: known(true) } })).refusal?.gate).toBe(
      "ima-load-data",
    );
    expect(
      evaluateGates(q({ state: { ...all, capSysBoot: known(true), imaPolicy: known("") } })).refusal?.gate,
    ).toBe("lockdown");
  });

  it("no CONFIG_KEXEC (or no kexec sysfs files at all) is ENOSYS", () => {
    expect(evaluateGates(q({ state: { config: cfg({ CONFIG_KEXEC: "n" }) } })).refusal).toMatchObject({
      gate: "syscall",
      errno: "ENOSYS",
    });
    expect(
      evaluateGates(q({ syscall: "kexec_file_load", state: { kexecCore: known(false) } })).refusal?.errno,
    ).toBe("ENOSYS");
  });
});

describe("kexec_file_load's probe and signature", () => {
  const fileQ = (state: GateState, over: Partial<GateQuery> = {}) =>
    q({ syscall: "kexec_file_load", kernelKind: "bzimage", state, ...over });
  const sig = (v: GateSignatureVerdict) => v;

  it("the probe's errno is the architecture's: x86 ENOEXEC, arm64 EINVAL", () => {
    expect(evaluateGates(fileQ({}, { kernelKind: "elf64" })).refusal?.errno).toBe("ENOEXEC");
    expect(evaluateGates(fileQ({}, { arch: "arm64", kernelKind: "elf64" })).refusal?.errno).toBe("EINVAL");
    expect(evaluateGates(fileQ({}, { arch: "arm64", kernelKind: "zboot" })).refusal).toBeUndefined();
  });

  it("enforced signatures return the verifier's errno with the kernel's line", () => {
    const state: GateState = { config: cfg({ CONFIG_KEXEC_SIG: "y", CONFIG_KEXEC_SIG_FORCE: "y" }) };
    const cases: [GateSignatureVerdict, string, number][] = [
      [sig({ state: "unsigned" }), "ENODATA", 61],
      [sig({ state: "untrusted", signer: "Someone" }), "ENOKEY", 126],
      [sig({ state: "bad" }), "EKEYREJECTED", 129],
      [sig({ state: "bad", errno: "EBADMSG" }), "EBADMSG", 74],
    ];
    for (const [v, errno, n] of cases) {
      const r = evaluateGates(fileQ({ ...state, signature: v })).refusal;
      expect(r).toMatchObject({ gate: "signature", errno });
      expect(r!.log).toBe(`kexec_file: Enforced kernel signature verification failed (-${n}).`);
    }
    expect(
      evaluateGates(fileQ({ ...state, signature: sig({ state: "valid", signer: "Debian" }) })).refusal,
    ).toBeUndefined();
  });

  it("not enforced: lockdown refuses an unverified kernel with EPERM; without lockdown it loads with a warning", () => {
    const base: GateState = {
      config: cfg({ CONFIG_KEXEC_SIG: "y", CONFIG_KEXEC_SIG_FORCE: "n", CONFIG_IMA_ARCH_POLICY: "n" }),
      signature: sig({ state: "unsigned" }),
    };
    const locked = evaluateGates(fileQ({ ...base, lockdown: known("integrity") })).refusal;
    expect(locked).toMatchObject({ gate: "signature", errno: "EPERM" });
    expect(locked!.log).toMatch(/^Lockdown: kexec: kexec of unsigned images/);
    const open = evaluateGates(fileQ({ ...base, lockdown: known("none") }));
    expect(open.refusal).toBeUndefined();
    expect(open.warnings.join("\n")).toMatch(/loads it unverified/);
    // An IMA signature rule exempts the load from lockdown (ima_appraise_signature).
    const ima = evaluateGates(
      fileQ({
        ...base,
        lockdown: known("integrity"),
        imaPolicy: known("appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n"),
      }),
    );
    expect(ima.refusal).toBeUndefined();
  });

  it("the IMA architecture policy under Secure Boot enforces signatures (set_kexec_sig_enforced)", () => {
    const r = evaluateGates(
      fileQ({
        secureBoot: known(true),
        config: cfg({
          CONFIG_IMA: "y",
          CONFIG_IMA_ARCH_POLICY: "y",
          CONFIG_KEXEC_SIG: "y",
          CONFIG_KEXEC_SIG_FORCE: "n",
        }),
        signature: sig({ state: "unsigned" }),
      }),
    ).refusal;
    expect(r).toMatchObject({ gate: "signature", errno: "ENODATA" });
  });

  it("a loader without verify_sig rejects with EKEYREJECTED", () => {
    const r = evaluateGates(
      fileQ({
        config: cfg({
          CONFIG_KEXEC_SIG: "y",
          CONFIG_KEXEC_SIG_FORCE: "y",
          CONFIG_KEXEC_BZIMAGE_VERIFY_SIG: "n",
        }),
      }),
    ).refusal;
    expect(r).toMatchObject({ errno: "EKEYREJECTED" });
  });

  it("without a verdict the gate says what the kernel needs", () => {
    const v = evaluateGates(fileQ({ config: cfg({ CONFIG_KEXEC_SIG: "y", CONFIG_KEXEC_SIG_FORCE: "y" }) }));
    const c = v.checks.find((x) => x.gate === "signature")!;
    expect(c.status).toBe("unknown");
    expect(c.note).toMatch(/must be signed by a key in \.builtin_trusted_keys/);
  });
});

describe("crash loads", () => {
  it("kexec-tools stops before any syscall without a reservation; other callers get EADDRNOTAVAIL", () => {
    const none: GateState = { crashRegion: known(false) };
    for (const syscall of ["kexec_load", "kexec_file_load"] as const) {
      const r = evaluateGates(q({ syscall, crash: true, kernelKind: "bzimage", state: none })).refusal;
      expect(r).toMatchObject({ gate: "crash-reserved", by: "kexec-tools", errno: "" });
      expect(r!.log).toMatch(/^Memory for crashkernel is not reserved/);
    }
    const sd = evaluateGates(
      q({ syscall: "kexec_file_load", crash: true, kernelKind: "bzimage", via: "systemd", state: none }),
    ).refusal;
    expect(sd).toMatchObject({ gate: "crash-region", errno: "EADDRNOTAVAIL" });
  });
  it("from 6.9 without CONFIG_CRASH_DUMP the crash flag is ignored: loaded as the normal image, with a warning", () => {
    const state: GateState = { crashRegion: known(false), config: cfg({ CONFIG_CRASH_DUMP: "n" }) };
    const v = evaluateGates(
      q({
        syscall: "kexec_file_load",
        crash: true,
        kernelKind: "bzimage",
        via: "systemd",
        state,
        kernelVersion: "6.12",
      }),
    );
    expect(v.refusal).toBeUndefined();
    expect(v.warnings.join()).toMatch(/KEXEC_FILE_ON_CRASH is ignored/);
    const old = evaluateGates(
      q({
        syscall: "kexec_file_load",
        crash: true,
        kernelKind: "bzimage",
        via: "systemd",
        state,
        kernelVersion: "6.8",
      }),
    );
    expect(old.refusal?.errno).toBe("EADDRNOTAVAIL");
  });
});

describe("tightening never lifts a refusal (property)", () => {
  const stateArb = fc.record(
    {
      capSysBoot: fc.boolean().map(known),
      kexecLoadDisabled: fc.boolean().map(known),
      limitReboot: fc.integer({ min: -1, max: 3 }).map(known),
      lockdown: fc.constantFrom("none" as const, "integrity" as const, "confidentiality" as const).map(known),
    },
    { requiredKeys: [] },
  );
  it("adding kexec_load_disabled, dropping CAP_SYS_BOOT or raising lockdown keeps a refused load refused", () => {
    fc.assert(
      fc.property(
        stateArb,
        fc.constantFrom("kexec_load" as const, "kexec_file_load" as const),
        (s, syscall) => {
          const before = evaluateGates(q({ syscall, kernelKind: "bzimage", state: s as GateState }));
          if (before.refusal === undefined) return;
          for (const tighter of [
            { ...s, kexecLoadDisabled: known(true) },
            { ...s, capSysBoot: known(false) },
            { ...s, lockdown: known("confidentiality" as const) },
          ])
            expect(
              evaluateGates(q({ syscall, kernelKind: "bzimage", state: tighter as GateState })).refusal,
            ).toBeDefined();
        },
      ),
    );
  });
});

describe("the host files", () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  it("reads lockdown, the sysctls, the config, Secure Boot, CapEff in or outside the initial namespace", () => {
    const s = parseHostGates(
      {
        "lockdown.txt": enc("none [integrity] confidentiality\n"),
        "kexec_load_disabled.txt": enc("0\n"),
        "kexec_load_limit_reboot.txt": enc("-1\n"),
        "kexec_load_limit_panic.txt": enc("2\n"),
        "kernel-config.txt": enc(
          "# source: /boot/config-6.12\nCONFIG_KEXEC=y\n# CONFIG_KEXEC_FILE is not set\n",
        ),
        "secureboot.txt": enc("1\n"),
        "capeff.txt": enc("000001ffffffffff\n"),
        "uid_map.txt": enc("         0     100000      65536\n"),
        "kexec-sysfs.txt": enc("# x\n/sys/kernel/kexec/loaded 0\n"),
      },
      "h",
      { iomem: "00000000-0fffffff : System RAM\n  06000000-07ffffff : Crash kernel\n" },
    );
    expect(s.lockdown?.value).toBe("integrity");
    expect(s.kexecLoadDisabled?.value).toBe(false);
    expect(s.limitReboot?.value).toBe(-1);
    expect(s.limitPanic?.value).toBe(2);
    expect(s.config).toEqual({
      values: { CONFIG_KEXEC: "y", CONFIG_KEXEC_FILE: "n" },
      source: "/boot/config-6.12",
    });
    expect(s.secureBoot?.value).toBe(true);
    expect(s.capSysBoot?.value).toBe(false);
    expect(s.capSysBoot?.source).toMatch(/user namespace/);
    expect(s.kexecCore?.value).toBe(true);
    expect(s.crashRegion?.value).toBe(true);
    const s2 = parseHostGates({ "capeff.txt": enc("00000000a80425fb\n") }, "h");
    expect(s2.capSysBoot?.value).toBe(false);
  });

  it("a full .config leaves no gate item unknown; a bad lockdown file is a catalogued error", () => {
    const full = `${Array.from({ length: 120 }, (_, i) => `CONFIG_OTHER_${i}=y`).join("\n")}\nCONFIG_KEXEC=y\n`;
    const c = parseKernelConfig(full, "f");
    expect(c.values.CONFIG_KEXEC).toBe("y");
    expect(c.values.CONFIG_KEXEC_FILE).toBe("n");
    expect(() => parseLockdown("maybe")).toThrow(/none, integrity or confidentiality/);
  });

  it("arm64: spin-table CPUs are stuck, PSCI ones are not", () => {
    const tree = (method: string, n: number) => {
      const cpus = Array.from({ length: n }, (_, i) => ({
        name: `cpu@${i}`,
        props: [
          { name: "device_type", value: enc("cpu\0") },
          { name: "enable-method", value: enc(`${method}\0`) },
        ],
        children: [],
      }));
      return serializeFdt({
        version: 17,
        lastCompVersion: 16,
        bootCpuidPhys: 0,
        totalSize: 0,
        memreserve: [],
        root: { name: "", props: [], children: [{ name: "cpus", props: [], children: cpus }] },
      });
    };
    expect(cpusStuckFromFdt(tree("spin-table", 4), undefined)).toMatch(/spin-table/);
    expect(cpusStuckFromFdt(tree("spin-table", 1), undefined)).toBe(false);
    expect(cpusStuckFromFdt(tree("psci", 4), undefined)).toBe(false);
    expect(cpusStuckFromFdt(tree("psci", 4), "kvm-arm.mode=protected")).toMatch(/protected KVM/);
  });
});

describe("gatedPlanLoad", () => {
  const kernel = bzImageHeader({ initSize: 32 * MiB }, 4 * MiB);
  const iomem = "00001000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n";
  const input = { arch: "x86_64" as const, kernel, iomem, kernelVersion: "6.12" };

  it("-a falls back to kexec_load when kexec_file_load is refused with ENOSYS, and places it there", () => {
    const { plan, gates } = gatedPlanLoad(
      { ...input, kexecToolsVersion: "2.0.29" },
      { config: cfg({ CONFIG_KEXEC: "y", CONFIG_KEXEC_FILE: "n" }) },
    );
    expect(plan.loader).toBe("kexec-tools");
    expect(plan.selection).toMatch(/fails with ENOSYS at the syscall gate/);
    expect(gates.syscall).toBe("kexec_load");
  });

  it("a kexec_file_load tried first and failed after kexec_load_permitted used one load of the limit (6.3+)", () => {
    // An ELF vmlinux: x86_64's bzImage64_probe refuses it (ENOEXEC), kexec-tools -a falls back.
    const elf = elf64({
      machine: 62,
      entry: 0x1000000,
      loads: [{ paddr: 0x1000000, filesz: 0x1000, memsz: 0x1000 }],
    });
    const one: GateState = { limitReboot: known(1) };
    let err: unknown;
    try {
      gatedPlanLoad({ ...input, kernel: elf, kexecToolsVersion: "2.0.29" }, one);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GateRefusalError);
    expect((err as GateRefusalError).refusal.reason).toMatch(/less the kexec_file_load attempt/);
    // With two loads left the fallback goes through; before 6.3 there is no limit.
    expect(
      gatedPlanLoad({ ...input, kernel: elf, kexecToolsVersion: "2.0.29" }, { limitReboot: known(2) }).plan
        .loader,
    ).toBe("kexec-tools");
    expect(
      gatedPlanLoad({ ...input, kernel: elf, kexecToolsVersion: "2.0.29", kernelVersion: "6.1" }, one).plan
        .loader,
    ).toBe("kexec-tools");
  });

  it("a gate refusal of kexec_file_load that kexec-tools does not fall back from is final (EPERM)", () => {
    expect(() =>
      gatedPlanLoad({ ...input, kexecToolsVersion: "2.0.29" }, { kexecLoadDisabled: known(true) }),
    ).toThrow(GateRefusalError);
  });

  it("kexec_load's gates act after kexec-tools placed the load: its own placement error comes first", () => {
    const tiny = "00100000-001fffff : System RAM\n";
    let err: unknown;
    try {
      gatedPlanLoad({ ...input, iomem: tiny, loader: "kexec-tools" }, { lockdown: known("integrity") });
    } catch (e) {
      err = e;
    }
    expect(err).not.toBeInstanceOf(GateRefusalError);
    expect(() =>
      gatedPlanLoad({ ...input, loader: "kexec-tools" }, { lockdown: known("integrity") }),
    ).toThrow(/EPERM at the lockdown gate/);
  });

  it("an empty state passes every gate and changes nothing", () => {
    const { plan, gates } = gatedPlanLoad({ ...input, loader: "kexec-tools" });
    expect(gates.known).toBe(false);
    expect(gates.warnings).toEqual([]);
    expect(plan.verdict.ok).toBe(true);
  });
});
