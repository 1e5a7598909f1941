/**
 * The shipped machine profiles as data, so the library works without a file system (browser).
 * Generated from profiles/*.json (the documented sources); test/model-profiles.test.ts checks they are
 * identical. Regenerate after editing a profile: see docs/model.md.
 */

export const BUILTIN_PROFILE_DATA: Record<string, unknown> = {
  "ampere-altra": {
    name: "ampere-altra",
    description:
      "One Arm Neoverse N1 core of an Ampere Altra Q80-30 (80 cores at 3.0 GHz, CMN-600 mesh, 32 MiB system-level cache, 8 channels of DDR4-3200): the arm64 cloud machines (Hetzner CAX, Oracle A1) of the published purgatory reports.",
    arch: "arm64",
    sources: [
      "cpu.ghz 3.0: Ampere Altra Q80-30 product brief; caches[0] 64 KiB, caches[1] 1 MiB private, caches[2] 32 MiB SLC, 8x DDR4-3200: AnandTech, 'The Ampere Altra Review' (2020), page 2",
      "caches[0] 4-way, caches[1] 8-way, lineBytes 64, writeStreaming: Arm Neoverse N1 Core TRM; caches[0..1].latencyCycles: Arm Neoverse N1 platform white paper",
      "uncached.fetchBytes 16: Neoverse N1 TRM (16-byte, 4-instruction fetch per cycle); that each Non-cacheable fetch block is a separate round trip is an estimate",
      "dram.latencyNs 110, dram.bandwidthGBps 25 (single core), dram.outstandingMisses 20: estimates from published single-core latency and bandwidth measurements of Altra (Chips and Cheese, 'Deep Diving Neoverse N1', 2021)",
      "uncached.loadNs = dram.latencyNs: Device-nGnRnE round trip taken as the idle DRAM latency; not fitted to the published purgatory report, which this profile predicts",
      "caches[2].ways and latency, prefetcher, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles, cpu.ipc: estimates (as neoverse-n1-server)",
      "coherence (CLIDR_EL1 LoUU 0, LoC 2): Arm Neoverse N1 Core TRM, CLIDR_EL1 (as the Cortex-A76 Core TRM, B2.19: no cache level needs cleaning to reach the PoU, L1 and L2 to reach the PoC; CTR_EL0.IDC is 1); the 32 MiB SLC sits in the CMN-600 home nodes, the PoC; the PoU is not the PoC",
    ],
    cpu: {
      ghz: 3,
      copyBytesPerCycle: 16,
      entryCycles: 4,
      ipc: 2.5,
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
      loadNs: 110,
      fetchBytes: 16,
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
    coherence: {
      louu: 0,
      loc: 2,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 94,
        high: 127,
        why: "one published class of measurement for Neoverse N1 systems (Chips and Cheese 2021, the source of the estimate); stated uncertainty -15%/+15%",
      },
      "uncached.loadNs": {
        low: 94,
        high: 127,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 16.6667,
        high: 37.5,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 13,
        high: 30,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 30,
        high: 120,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 4,
        high: 16,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cpu.ipc": {
        low: 2,
        high: 3.125,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
  },
  "broadcom-stingray": {
    name: "broadcom-stingray",
    description:
      "One Arm Cortex-A72 core of a Broadcom Stingray (BCM5880X) SmartNIC SoC: 8x A72 at up to 3.0 GHz in 2-core clusters, dual-channel DDR4-2400. The machine later posts of Pasha Tatashin's arm64 relocation series name for the published 25 MB kexec measurements.",
    arch: "arm64",
    sources: [
      "cpu.ghz 3.0, 8x Cortex-A72, DDR4-2400 memory: Broadcom Stingray (BCM58800/BCM5880X) product brief",
      "lineBytes 64, caches[0] (32 KiB, 2-way), caches[1] (1 MiB per 2-core cluster, 16-way): Arm Cortex-A72 MPCore TRM; the cluster L2 size is the A72's usual 1 MiB configuration (an estimate for this SoC); a system-level cache, if any, is not modeled",
      "dram.latencyNs 130, uncached.loadNs = dram.latencyNs (Device-nGnRnE round trip taken as the idle DRAM latency, see neoverse-n1-server): estimate from published A72 board latency measurements; NOT fitted to any kexec time",
      "dram.bandwidthGBps: the one published point fitted on this machine: `kexec-lab calibrate --profile broadcom-stingray --fit dram.bandwidthGBps` to the 25 MB MMU-on relocation (0.022158152 s, linear-map-copy shape, 25 MiB of 4K pages); every other published point of this machine is a prediction (docs/model.md, validation)",
      "caches[*].latencyCycles, dram.outstandingMisses, prefetcher, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles, cpu.ipc, uncached.fetchBytes: as cortex-a72-board (estimates)",
      "coherence (CLIDR_EL1 LoUU 1, LoC 2): Arm Cortex-A72 MPCore TRM, CLIDR_EL1 (LoUU 0b001, LoC 0b010); the PoU is not the PoC",
    ],
    cpu: {
      ghz: 3,
      copyBytesPerCycle: 8,
      entryCycles: 4,
      ipc: 1.7,
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
      bandwidthGBps: 2.8522,
      outstandingMisses: 6,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 130,
      fetchBytes: 16,
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
    coherence: {
      louu: 1,
      loc: 2,
    },
    free: ["dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 110,
        high: 150,
        why: "published idle DRAM latencies of Cortex-A72 boards (the source of the 130 ns estimate) are one class of measurement; the board's DRAM timings are not published: stated uncertainty -15%/+15%",
      },
      "uncached.loadNs": {
        low: 110,
        high: 150,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 1.9015,
        high: 4.2783,
        why: "fitted to the 25 MB MMU-on point; its own uncertainty is the fit's input (one measurement): stated x1.5 each way like every other single-source figure",
      },
      "dram.outstandingMisses": {
        low: 4,
        high: 9,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 40,
        high: 160,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 2,
        high: 8,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "publishedShutdown.seconds": {
        low: 0.022131328,
        high: 0.032066576,
        why: "the two published runs on this machine (RFC v2 cover letter, 2019): min and max",
      },
      "cpu.ipc": {
        low: 1.36,
        high: 2.125,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
    publishedShutdown: {
      seconds: 0.027098952,
      source:
        "Pasha Tatashin, '[RFC v2 0/8] arm64: MMU enabled kexec relocation' (kexec list, 2019-07-31): kernel shutdown 0.022131328 s and 0.032066576 s in its two runs on this machine; the mean",
    },
  },
  "cortex-a72-board": {
    name: "cortex-a72-board",
    description:
      "One Arm Cortex-A72 core of an RK3399 / Raspberry Pi 4 class board: 32 KiB L1D, 1 MiB shared L2, no L3, 32-bit LPDDR4 or DDR4.",
    arch: "arm64",
    sources: [
      "lineBytes 64, caches[0] (32 KiB, 2-way), caches[1] (up to 2 MiB, 16-way): Arm Cortex-A72 MPCore Technical Reference Manual, L1 and L2 memory system chapters",
      "caches[0] 2 ways and caches[1] 16 ways, 64-byte lines: cross-checked against arm/juno.dtb of Debian's linux-image-6.1.0-50-cloud-arm64 6.1.176-1 (Cortex-A72 cpu nodes: d-cache-size 0x8000 with 256 sets; the A72 cluster's l2-cache0: 2 MiB, 2048 sets)",
      "caches[1].bytes 1 MiB, cpu.ghz 1.8: Rockchip RK3399 datasheet (A72 cluster); the Raspberry Pi 4 BCM2711 also has 1 MiB of L2",
      "caches[*].latencyCycles: estimates from published latency measurements of A72 boards",
      "dram.latencyNs 130, dram.bandwidthGBps 4.5 (single core), dram.outstandingMisses 6: estimates from published single-core STREAM and latency measurements",
      "prefetcher, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
      "uncached.loadNs = dram.latencyNs: Device-nGnRnE round trip taken as the idle DRAM latency (see neoverse-n1-server)",
      "uncached.fetchBytes 16 (Cortex-A72 TRM: 16-byte instruction fetch), cpu.ipc 1.7: estimates",
      "coherence (CLIDR_EL1 LoUU 1, LoC 2): Arm Cortex-A72 MPCore TRM, CLIDR_EL1 (LoUU 0b001: L1 is the last level cleaned to reach the PoU; LoC 0b010: L1 and L2 are cleaned to reach the PoC); the PoU is not the PoC",
    ],
    cpu: {
      ghz: 1.8,
      copyBytesPerCycle: 8,
      entryCycles: 4,
      ipc: 1.7,
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
      loadNs: 130,
      fetchBytes: 16,
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
    coherence: {
      louu: 1,
      loc: 2,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 110,
        high: 150,
        why: "published idle DRAM latencies of Cortex-A72 boards (the source of the 130 ns estimate) are one class of measurement; the board's DRAM timings are not published: stated uncertainty -15%/+15%",
      },
      "uncached.loadNs": {
        low: 110,
        high: 150,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 3,
        high: 6.75,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 4,
        high: 9,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 40,
        high: 160,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 2,
        high: 8,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cpu.ipc": {
        low: 1.36,
        high: 2.125,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
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
      "uncached.loadNs = dram.latencyNs: with the MMU off every data access is Device-nGnRnE (Arm ARM B2.7.2: no gathering, no reordering, no early write acknowledgement), one transaction to the memory controller and back, so its round trip is taken as the idle DRAM latency; not fitted to any published kexec time",
      "uncached.fetchBytes 16: Neoverse N1 TRM (the fetch unit delivers 16 bytes, 4 instructions, per cycle); that each Non-cacheable fetch block is a separate round trip is an estimate",
      "cpu.ipc 2.5 (scalar integer code, SHA-256 rounds): estimate",
      "cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
      "coherence (CLIDR_EL1 LoUU 0, LoC 2): Arm Neoverse N1 Core TRM, CLIDR_EL1 (as the Cortex-A76 Core TRM, B2.19: no cache level needs cleaning to reach the PoU, L1 and L2 to reach the PoC; CTR_EL0.IDC is 1); the system-level cache sits in the CMN-600 home nodes, the PoC, so a clean to PoC leaves L1 and L2; the PoU is not the PoC",
    ],
    cpu: {
      ghz: 3,
      copyBytesPerCycle: 16,
      entryCycles: 4,
      ipc: 2.5,
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
      loadNs: 110,
      fetchBytes: 16,
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
    coherence: {
      louu: 0,
      loc: 2,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 94,
        high: 127,
        why: "one published class of measurement for Neoverse N1 systems (Chips and Cheese 2021, the source of the estimate); stated uncertainty -15%/+15%",
      },
      "uncached.loadNs": {
        low: 94,
        high: 127,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 16.6667,
        high: 37.5,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 13,
        high: 30,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 30,
        high: 120,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 4,
        high: 16,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cpu.ipc": {
        low: 2,
        high: 3.125,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
  },
  "published-25mb": {
    name: "published-25mb",
    description:
      "The unnamed arm64 machine of the published 25 MB kexec measurements (Pasha Tatashin's arm64 relocation series, RFC v2 2019 .. v12 cover letters), 4K pages: the cortex-a72-board profile with uncached.loadNs and dram.bandwidthGBps fitted by `kexec-lab calibrate` to 0.440510736 s (MMU off) and 0.022158152 s (MMU on, linear-map copy).",
    arch: "arm64",
    sources: [
      "calibrated: uncached.loadNs and dram.bandwidthGBps fitted by `kexec-lab calibrate --profile cortex-a72-board --name published-25mb` to the two published 25 MB points (kexec-facts.md section 9), with 25 MB taken as 25 MiB relocated in 4 KiB pages laid out contiguously. With the Device-nGnRnE model (a store costs a load's round trip) the fitted round trip, 129.3 ns, is the A72 boards' idle DRAM latency the base profile starts from (130 ns)",
      "every other field: copied from profiles/cortex-a72-board.json (see its sources); the real machine is not named, so these are a guess, and two points cannot tell memory bandwidth from maintenance cost (docs/model.md)",
      "coherence (CLIDR_EL1 LoUU 1, LoC 2): Arm Cortex-A72 MPCore TRM, CLIDR_EL1 (LoUU 0b001, LoC 0b010); the PoU is not the PoC",
    ],
    cpu: {
      ghz: 1.8,
      copyBytesPerCycle: 8,
      entryCycles: 4,
      ipc: 1.7,
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
      bandwidthGBps: 2.8569,
      outstandingMisses: 6,
    },
    uncached: {
      accessBytes: 16,
      loadNs: 129.322,
      fetchBytes: 16,
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
    coherence: {
      louu: 1,
      loc: 2,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 110,
        high: 150,
        why: "published idle DRAM latencies of Cortex-A72 boards (the source of the 130 ns estimate) are one class of measurement; the board's DRAM timings are not published: stated uncertainty -15%/+15%",
      },
      "uncached.loadNs": {
        low: 110,
        high: 150,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 1.9046,
        high: 4.2854,
        why: "fitted (two points, two parameters): stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 4,
        high: 9,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 40,
        high: 160,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 2,
        high: 8,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "publishedShutdown.seconds": {
        low: 0.022131328,
        high: 0.032066576,
        why: "the two published runs on this machine (RFC v2 cover letter, 2019): min and max",
      },
      "cpu.ipc": {
        low: 1.36,
        high: 2.125,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
    publishedShutdown: {
      seconds: 0.027098952,
      source:
        "Pasha Tatashin, '[RFC v2 0/8] arm64: MMU enabled kexec relocation' (kexec list, 2019-07-31): kernel shutdown 0.022131328 s and 0.032066576 s in its two runs on this machine; the mean",
    },
  },
  "thunderx2-server": {
    name: "thunderx2-server",
    description:
      "One Marvell (Cavium) ThunderX2 CN99xx core: 32 KiB L1D, 256 KiB L2, 32 MiB shared L3, 8 channels of DDR4-2666.",
    arch: "arm64",
    sources: [
      "caches[2] (32 MiB shared last-level cache), cpu.ghz 2.5 (2.4-2.8 GHz nominal range): Electronic Design, 'Cavium ThunderX2 54-core SoC' (2017); core description: AnandTech, 'Assessing Cavium's ThunderX2' (2018)",
      "caches[0] (32 KiB, 8-way), caches[1] (256 KiB, 8-way), caches[2] (1 MiB per core, shared): WikiChip, 'Vulcan - Microarchitectures - Cavium' (memory hierarchy; cavium/thunder2-99xx.dtb of Debian's linux-image-6.1.0-50-cloud-arm64 6.1.176-1 has no cache nodes)",
      "caches[*].latencyCycles, caches[2].ways: estimates",
      "dram.latencyNs 115, dram.bandwidthGBps 12 (single core), dram.outstandingMisses 10: estimates; no published single-core ThunderX2 latency or copy bandwidth was found (AnandTech 2018 gives whole-system STREAM only, about 120 GB/s per socket; WikiChip gives 8 channels of DDR4-2666 per socket)",
      "prefetcher, cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
      "uncached.loadNs = dram.latencyNs: Device-nGnRnE round trip taken as the idle DRAM latency (see neoverse-n1-server); not fitted to the published ThunderX2 kexec times, which this profile predicts (docs/model.md, validation)",
      "uncached.fetchBytes 16, cpu.ipc 2.0: estimates",
      "coherence (CLIDR_EL1 LoUU 1, LoC 3): estimate (no published CLIDR_EL1 value for the Vulcan core found): L1 D cleaned to reach the PoU, L1-L3 to reach the PoC; the PoU is not the PoC",
    ],
    cpu: {
      ghz: 2.5,
      copyBytesPerCycle: 16,
      entryCycles: 4,
      ipc: 2,
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
      loadNs: 115,
      fetchBytes: 16,
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
    coherence: {
      louu: 1,
      loc: 3,
    },
    free: ["uncached.loadNs", "dram.bandwidthGBps"],
    ranges: {
      "dram.latencyNs": {
        low: 103,
        high: 134,
        why: "no ThunderX2 idle latency is published; comparable server parts' published idle DRAM latencies: Cavium ThunderX (the previous Cavium core) 103 ns (AnandTech 2016, tinymembench single random read, DDR4-2133), AMD EPYC Rome 122-134 ns (AnandTech 2019, full random, 128-512 MiB): min and max",
      },
      "uncached.loadNs": {
        low: 103,
        high: 134,
        why: "the Device-nGnRnE round trip is taken as the idle DRAM latency: the same range as dram.latencyNs",
      },
      "uncached.accessBytes": {
        low: 8,
        high: 16,
        why: "Arm ARM (single-copy atomicity): before FEAT_LSE2 an ldp/stp of two X registers is two 8-byte accesses, so a Device-nGnRnE ldp/stp may be one 16-byte transaction or two 8-byte ones; which one this core issues is not published",
      },
      "uncached.loopFetches": {
        low: 0,
        high: 12,
        why: "SCTLR_ELx.I is cleared with M (SCTLR_ELx_FLAGS, arch/arm64/include/asm/sysreg.h), so the relocation loop is fetched Non-cacheable: from 0 round trips per 64 bytes (replayed from the core's fetch buffers, the likely value) to 12 (one per instruction of copy_page's 12-instruction loop, arch/arm64/lib/copy_page.S)",
      },
      "uncached.fetchBytes": {
        low: 16,
        high: 64,
        why: "with SCTLR_ELx.I clear instructions are fetched Normal Non-cacheable, which the Arm ARM lets the core fetch speculatively: from one 16-byte fetch block per round trip to a whole 64-byte line per round trip; which one this core does is not published",
      },
      "dram.bandwidthGBps": {
        low: 8,
        high: 18,
        why: "no single-core ThunderX2 copy bandwidth is published (AnandTech 2018 gives whole-socket STREAM only, about 120 GB/s for up to 32 cores): stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 6,
        high: 15,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 35,
        high: 140,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 4,
        high: 16,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cpu.ipc": {
        low: 1.6,
        high: 2.5,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
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
      "uncached.*: unused on x86_64 (relocation and purgatory run with paging and caches on); loadNs = dram.latencyNs for completeness",
      "cpu.ipc 3.0 (scalar integer code): estimate",
      "cmo.*, barrierCycles.*, tlb.missCycles, cpu.copyBytesPerCycle, cpu.entryCycles: estimates",
      "coherence.coherent: Intel SDM vol. 3A, 12.4 and 12.6 (caches coherent with memory, DMA and instruction fetch; self-modifying code detected in hardware): no cache maintenance is needed or checked",
    ],
    cpu: {
      ghz: 2.8,
      copyBytesPerCycle: 32,
      entryCycles: 4,
      ipc: 3,
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
      loadNs: 90,
      fetchBytes: 64,
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
    coherence: {
      coherent: true,
      louu: 0,
      loc: 0,
    },
    free: ["dram.bandwidthGBps", "dram.latencyNs"],
    ranges: {
      "dram.latencyNs": {
        low: 77,
        high: 104,
        why: "an estimate: stated uncertainty -15%/+15%",
      },
      "dram.bandwidthGBps": {
        low: 9.3333,
        high: 21,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "dram.outstandingMisses": {
        low: 10,
        high: 24,
        why: "an estimate with no published figure for this part: stated uncertainty x1.5 each way",
      },
      "cmo.pocNs": {
        low: 30,
        high: 120,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cmo.outstanding": {
        low: 4,
        high: 16,
        why: "no published figure for any Arm part (cache maintenance by VA to PoC is undocumented in timing): stated uncertainty x2 each way",
      },
      "cpu.ipc": {
        low: 2.4,
        high: 3.75,
        why: "an estimate for scalar integer code (purgatory's SHA-256 rounds): stated uncertainty x1.25 each way",
      },
    },
  },
};
