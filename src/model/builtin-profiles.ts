/**
 * The shipped machine profiles as data, so the library works without a file system (browser).
 * Generated from profiles/*.json (the documented sources); test/model-profiles.test.ts checks they are
 * identical. Regenerate after editing a profile: see docs/model.md.
 */

export const BUILTIN_PROFILE_DATA: Record<string, unknown> = {
  "cortex-a72-board": {
    name: "cortex-a72-board",
    description:
      "One Arm Cortex-A72 core of an RK3399 / Raspberry Pi 4 class board: 32 KiB L1D, 1 MiB shared L2, no L3, 32-bit LPDDR4 or DDR4.",
    arch: "arm64",
    sources: [
      "lineBytes 64, caches[0] (32 KiB, 2-way), caches[1] (up to 2 MiB, 16-way): Arm Cortex-A72 MPCore Technical Reference Manual, L1 and L2 memory system chapters",
      "caches[0] 2 ways and caches[1] 16 ways, 64-byte lines: cross-checked against ../shared/data/dtb/juno.dtb (Cortex-A72 cpu nodes: d-cache-size 0x8000 with 256 sets; the A72 cluster's l2-cache0: 2 MiB, 2048 sets)",
      "caches[1].bytes 1 MiB, cpu.ghz 1.8: Rockchip RK3399 datasheet (A72 cluster); the Raspberry Pi 4 BCM2711 also has 1 MiB of L2",
      "caches[*].latencyCycles: estimates from published latency measurements of A72 boards",
      "dram.latencyNs 130, dram.bandwidthGBps 4.5 (single core), dram.outstandingMisses 6: estimates from published single-core STREAM and latency measurements",
      "prefetcher, uncached.*, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
    ],
    cpu: {
      ghz: 1.8,
      copyBytesPerCycle: 8,
      entryCycles: 4,
    },
    lineBytes: 64,
    caches: [
      {
        name: "L1D",
        bytes: 32768,
        ways: 2,
        latencyCycles: 4,
      },
      {
        name: "L2",
        bytes: 1048576,
        ways: 16,
        latencyCycles: 21,
      },
    ],
    writeStreaming: true,
    prefetcher: {
      enabled: true,
      trainLines: 3,
      rampLines: 8,
      distanceLines: 16,
      streams: 4,
      crossesPages: false,
      boundaryBytes: 4096,
    },
    tlb: {
      missCycles: 10,
    },
    dram: {
      latencyNs: 130,
      bandwidthGBps: 4.5,
      outstandingMisses: 6,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 200,
      storeNs: 15,
    },
    cmo: {
      lineCycles: 1,
      pocNs: 80,
      pouNs: 15,
      outstanding: 4,
      icacheInvalidateNs: 800,
    },
    barrierCycles: {
      dsb: 40,
      isb: 20,
      tlbi: 300,
      mmuSwitch: 400,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
  },
  "neoverse-n1-server": {
    name: "neoverse-n1-server",
    description:
      "One Arm Neoverse N1 core of an Ampere Altra-class server: 64 KiB L1D, 1 MiB private L2, 32 MiB system-level cache, 8 channels of DDR4-3200.",
    arch: "arm64",
    sources: [
      "lineBytes, caches[0] (64 KiB, 4-way), caches[1] (up to 1 MiB, 8-way): Arm Neoverse N1 Core Technical Reference Manual, L1 and L2 memory system chapters",
      "caches[0].latencyCycles 4, caches[1].latencyCycles 11: Arm Neoverse N1 platform white paper (load-to-use latencies)",
      "caches[2] (32 MiB system-level cache): Ampere Altra product brief; its 16 ways and latency are estimates",
      "cpu.ghz 3.0: Ampere Altra Q80-30 product brief",
      "writeStreaming: Neoverse N1 TRM (write streaming mode for full-line store misses)",
      "dram.latencyNs 110, dram.bandwidthGBps 25 (single core), dram.outstandingMisses 20: estimates from published single-core STREAM and latency measurements of Altra-class systems",
      "prefetcher: estimates; crossesPages false is the conservative default (see docs/model.md)",
      "uncached.*, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
    ],
    cpu: {
      ghz: 3,
      copyBytesPerCycle: 16,
      entryCycles: 4,
    },
    lineBytes: 64,
    caches: [
      {
        name: "L1D",
        bytes: 65536,
        ways: 4,
        latencyCycles: 4,
      },
      {
        name: "L2",
        bytes: 1048576,
        ways: 8,
        latencyCycles: 11,
      },
      {
        name: "SLC",
        bytes: 33554432,
        ways: 16,
        latencyCycles: 90,
      },
    ],
    writeStreaming: true,
    prefetcher: {
      enabled: true,
      trainLines: 2,
      rampLines: 16,
      distanceLines: 48,
      streams: 16,
      crossesPages: false,
      boundaryBytes: 4096,
    },
    tlb: {
      missCycles: 10,
    },
    dram: {
      latencyNs: 110,
      bandwidthGBps: 25,
      outstandingMisses: 20,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 150,
      storeNs: 10,
    },
    cmo: {
      lineCycles: 1,
      pocNs: 60,
      pouNs: 10,
      outstanding: 8,
      icacheInvalidateNs: 1000,
    },
    barrierCycles: {
      dsb: 40,
      isb: 20,
      tlbi: 300,
      mmuSwitch: 500,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
  },
  "published-25mb": {
    name: "published-25mb",
    description:
      "The unnamed arm64 machine of the published 25 MB kexec measurements (Pasha Tatashin's arm64 relocation series, RFC v2 2019 .. v12 cover letters), 4K pages: the cortex-a72-board profile with uncached.loadNs and dram.bandwidthGBps fitted by `kexec-lab calibrate` to 0.440510736 s (MMU off) and 0.022158152 s (MMU on, linear-map copy).",
    arch: "arm64",
    sources: [
      "calibrated: uncached.loadNs and dram.bandwidthGBps fitted by `kexec-lab calibrate --profile cortex-a72-board --name published-25mb` to the two published 25 MB points (kexec-facts.md section 9), with 25 MB taken as 25 MiB relocated in 4 KiB pages laid out contiguously",
      "every other field: copied from profiles/cortex-a72-board.json (see its sources); the real machine is not named, so these are a guess, and two points cannot tell memory bandwidth from maintenance cost (docs/model.md)",
    ],
    cpu: {
      ghz: 1.8,
      copyBytesPerCycle: 8,
      entryCycles: 4,
    },
    lineBytes: 64,
    caches: [
      {
        name: "L1D",
        bytes: 32768,
        ways: 2,
        latencyCycles: 4,
      },
      {
        name: "L2",
        bytes: 1048576,
        ways: 16,
        latencyCycles: 21,
      },
    ],
    writeStreaming: true,
    prefetcher: {
      enabled: true,
      trainLines: 3,
      rampLines: 8,
      distanceLines: 16,
      streams: 4,
      crossesPages: false,
      boundaryBytes: 4096,
    },
    tlb: {
      missCycles: 10,
    },
    dram: {
      latencyNs: 130,
      bandwidthGBps: 2.3714,
      outstandingMisses: 6,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 243.199,
      storeNs: 15,
    },
    cmo: {
      lineCycles: 1,
      pocNs: 80,
      pouNs: 15,
      outstanding: 4,
      icacheInvalidateNs: 800,
    },
    barrierCycles: {
      dsb: 40,
      isb: 20,
      tlbi: 300,
      mmuSwitch: 400,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
  },
  "thunderx2-server": {
    name: "thunderx2-server",
    description:
      "One Marvell (Cavium) ThunderX2 CN99xx core: 32 KiB L1D, 256 KiB L2, 32 MiB shared L3, 8 channels of DDR4-2666.",
    arch: "arm64",
    sources: [
      "caches[2] (32 MiB shared last-level cache), cpu.ghz 2.5 (2.4-2.8 GHz nominal range): Electronic Design, 'Cavium ThunderX2 54-core SoC' (2017); core description: AnandTech, 'Assessing Cavium's ThunderX2' (2018)",
      "caches[0] (32 KiB, 8-way), caches[1] (256 KiB, 8-way): published microarchitecture descriptions; unverified (../shared/data/dtb/thunder2-99xx.dtb has no cache nodes)",
      "caches[*].latencyCycles, caches[2].ways: estimates",
      "dram.latencyNs 115, dram.bandwidthGBps 12 (single core), dram.outstandingMisses 10: estimates from published single-core STREAM and latency measurements",
      "prefetcher, uncached.*, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
    ],
    cpu: {
      ghz: 2.5,
      copyBytesPerCycle: 16,
      entryCycles: 4,
    },
    lineBytes: 64,
    caches: [
      {
        name: "L1D",
        bytes: 32768,
        ways: 8,
        latencyCycles: 4,
      },
      {
        name: "L2",
        bytes: 262144,
        ways: 8,
        latencyCycles: 9,
      },
      {
        name: "L3",
        bytes: 33554432,
        ways: 16,
        latencyCycles: 60,
      },
    ],
    writeStreaming: true,
    prefetcher: {
      enabled: true,
      trainLines: 2,
      rampLines: 16,
      distanceLines: 32,
      streams: 8,
      crossesPages: false,
      boundaryBytes: 4096,
    },
    tlb: {
      missCycles: 12,
    },
    dram: {
      latencyNs: 115,
      bandwidthGBps: 12,
      outstandingMisses: 10,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 180,
      storeNs: 12,
    },
    cmo: {
      lineCycles: 1,
      pocNs: 70,
      pouNs: 12,
      outstanding: 8,
      icacheInvalidateNs: 1200,
    },
    barrierCycles: {
      dsb: 50,
      isb: 25,
      tlbi: 400,
      mmuSwitch: 600,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
  },
  "x86_64-server": {
    name: "x86_64-server",
    description:
      "One core of an Intel Ice Lake-SP class server: 48 KiB L1D, 1.25 MiB L2, 48 MiB shared non-inclusive L3, 8 channels of DDR4-3200.",
    arch: "x86_64",
    sources: [
      "caches[0] (48 KiB, 12-way), caches[1] (1.25 MiB, 20-way), lineBytes 64: Intel 64 and IA-32 Architectures Optimization Reference Manual, Ice Lake client/server microarchitecture sections",
      "caches[2] (1.5 MiB per core, 12-way; 48 MiB for 32 cores): Intel Xeon Scalable (3rd gen) product documentation",
      "prefetcher.crossesPages false, boundaryBytes 4096: Intel optimization manual (the L2 streamer does not prefetch across 4 KiB page boundaries)",
      "writeStreaming: fast-string rep movs avoids read-for-ownership for full lines (Intel optimization manual, enhanced rep movsb/stosb)",
      "cpu.ghz 2.8, caches[*].latencyCycles, dram.latencyNs 90, dram.bandwidthGBps 14 (single core), dram.outstandingMisses 16 (L1D fill buffers): estimates",
      "uncached.* is never used on x86_64 (relocation always runs with paging on); cmo.*, barrierCycles.*, tlb.missCycles, cpu.*: estimates",
    ],
    cpu: {
      ghz: 2.8,
      copyBytesPerCycle: 32,
      entryCycles: 4,
    },
    lineBytes: 64,
    caches: [
      {
        name: "L1D",
        bytes: 49152,
        ways: 12,
        latencyCycles: 5,
      },
      {
        name: "L2",
        bytes: 1310720,
        ways: 20,
        latencyCycles: 14,
      },
      {
        name: "L3",
        bytes: 50331648,
        ways: 12,
        latencyCycles: 70,
      },
    ],
    writeStreaming: true,
    prefetcher: {
      enabled: true,
      trainLines: 2,
      rampLines: 16,
      distanceLines: 40,
      streams: 32,
      crossesPages: false,
      boundaryBytes: 4096,
    },
    tlb: {
      missCycles: 20,
    },
    dram: {
      latencyNs: 90,
      bandwidthGBps: 14,
      outstandingMisses: 16,
    },
    uncached: {
      accessBytes: 8,
      loadNs: 100,
      storeNs: 10,
    },
    cmo: {
      lineCycles: 2,
      pocNs: 60,
      pouNs: 10,
      outstanding: 8,
      icacheInvalidateNs: 0,
    },
    barrierCycles: {
      dsb: 30,
      isb: 20,
      tlbi: 200,
      mmuSwitch: 500,
    },
    free: ["dram.bandwidthGBps", "dram.latencyNs"],
  },
};
