/**
 * A recording directory as --host gives the plan the same recorded facts test/loader-recordings.test.ts
 * replays exactly (test/helpers/recordings.ts recordedPlanInput): the memory files, CPUs, the
 * kexec-tools and running-kernel versions, dmesg's random-pool and ACPI RSDP facts, and the Debian
 * purgatory preset of the recorded kexec-tools build.
 */

import { describe, expect, it } from "vitest";
import { readHostDir } from "../src/host/node/read.js";
import { hostKernelVersion, hostPlanFields } from "../src/host/plan.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { presetFor, recordedCases, recordedPlanInput } from "./helpers/recordings.js";

const FIELDS = [
  "iomem",
  "memmap",
  "memblockMemory",
  "memblockReserved",
  "cpus",
  "kexecToolsVersion",
  "kernelVersion",
  "crngReady",
  "acpiRsdp",
  "purgatory",
] as const;

describe("a recording as --host", () => {
  const cases = recordedCases();
  it("there are recordings", () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`${c.id}: the host gives the facts the replay uses`, () => {
      const want = recordedPlanInput(c);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) want.purgatory = purgatoryPreset(preset, c.json.arch);
      const got = hostPlanFields(readHostDir(c.dir), c.json.arch, want.loader ?? "auto");
      for (const f of FIELDS) {
        // memblock is read by arm64 kexec_file_load only; x86_64 recordings hold an "absent" placeholder.
        if (c.json.arch === "x86_64" && f.startsWith("memblock")) continue;
        expect(got[f], `${c.id}: ${f}`).toEqual(want[f]);
      }
    });
  }
});

describe("hostKernelVersion", () => {
  it("takes MAJOR.MINOR of what the loader's parseKernelVersion accepts, nothing else", () => {
    expect(hostKernelVersion("6.1.0-50-cloud-arm64")).toBe("6.1");
    expect(hostKernelVersion("6.18.44-fc-v782")).toBe("6.18");
    expect(hostKernelVersion("6.1.192")).toBe("6.1");
    expect(hostKernelVersion("not-a-version")).toBeUndefined();
    expect(hostKernelVersion(undefined)).toBeUndefined();
  });
});
