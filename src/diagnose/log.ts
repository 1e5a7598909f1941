/**
 * What a real log says about a load: the output of `kexec -d` (kexec-tools) and/or a dmesg or journal
 * text. Recognised (the exact strings kexec-tools 2.0.25 and Linux 6.1 print):
 *   - the memory ranges kexec-tools read (x86 "MEMORY RANGES", arm64 get_memory_ranges / "System RAM
 *     ranges;");
 *   - "kexec_load: entry = ... flags = ..." and print_segments' table;
 *   - locate_hole's "Could not find a free area of memory of 0x... bytes..." and "... below: 0x...";
 *   - arm64 machine_kexec's pr_debug "kexec kimage info:" block (arch/arm64/kernel/machine_kexec.c
 *     _kexec_image_info: type, start and "segment[N]: <mem> - <mem + memsz>, 0x<memsz> bytes, N pages");
 *   - kexec-tools' refusals before any syscall (kexec/kexec.c my_load): "Cannot determine the file type
 *     of F", "Wrong file type T, file matches type U", "Unsupported kernel type T", "Cannot load F",
 *     "No crash kernel segment found in /proc/iomem", "Could not get memory layout", "Invalid memory
 *     segment A - B", and arm64's "kexec: <function> failed." with setup_2nd_dtb's "kaslr-seed is not
 *     wiped to 0." (kexec/arch/arm64/kexec-arm64.c, kexec-image-arm64.c);
 *   - "kexec_load failed: <strerror>", "kexec_file_load failed: <strerror>" (glibc's and musl's
 *     strerror texts, STRERROR), "syscall kexec_file_load not available.";
 *   - the gates' own lines (GateLine): "Lockdown: <comm>: kexec of unsigned images is restricted",
 *     IMA's "impossible to appraise a kernel image without a file descriptor", "Enforced kernel
 *     signature verification failed (-N).", arm64's "Can't kexec: CPUs are stuck in the kernel.",
 *     kexec-tools' "Memory for crashkernel is not reserved";
 *   - journal prefixes ("Nov 30 09:00:00 host kernel: ", "[   12.345678] ") are stripped first.
 */

import { type KtSegment, parseKexecLoadTable } from "../kexectools/debug.js";

/**
 * strerror() texts of the errnos a kexec load returns, in glibc's wording (string/_strerror.c,
 * sysdeps/gnu/errlist.h) and musl's (src/errno/__strerror.h: 1.2.x, and the older texts it replaced),
 * since a static musl kexec is common in installers. Texts both libcs share appear once.
 */
export const STRERROR: Record<string, string> = {
  "Invalid argument": "EINVAL",
  "Cannot assign requested address": "EADDRNOTAVAIL",
  "Address not available": "EADDRNOTAVAIL", // musl
  "Cannot allocate memory": "ENOMEM",
  "Out of memory": "ENOMEM", // musl
  "Device or resource busy": "EBUSY", // glibc, musl before 1.1.x
  "Resource busy": "EBUSY", // musl
  "Operation not permitted": "EPERM",
  "Permission denied": "EACCES",
  "Exec format error": "ENOEXEC",
  "Function not implemented": "ENOSYS",
  "Function not supported": "ENOSYS", // old musl
  "No such file or directory": "ENOENT",
  "No data available": "ENODATA",
  "Required key not available": "ENOKEY",
  "Key was rejected by service": "EKEYREJECTED",
  "Bad message": "EBADMSG",
  "Not a data message": "EBADMSG", // old musl
  "Operation not supported": "ENOTSUP",
  "Not supported": "ENOTSUP", // musl
  "Message too long": "EMSGSIZE",
  "Message too large": "EMSGSIZE", // musl
};

/**
 * The lines the gates print (src/gates): lockdown's "Lockdown: <comm>: kexec of unsigned images is
 * restricted", IMA's "impossible to appraise a kernel image without a file descriptor" and its audit
 * record of a failed appraisal ("type=1800 ... op=appraise_data cause=IMA-signature-required"),
 * kimage_validate_signature's "Enforced kernel signature verification failed (-N).", arm64's
 * "Can't kexec: CPUs are stuck in the kernel.", and kexec-tools' "Memory for crashkernel is not
 * reserved".
 */
export interface GateLine {
  kind: "lockdown" | "ima" | "ima-appraise" | "signature-enforced" | "cpus-stuck" | "no-crashkernel";
  message: string;
  /** signature-enforced: the verifier's errno number (61 ENODATA, 126 ENOKEY, 129 EKEYREJECTED, 74 EBADMSG). */
  errno?: number;
}

const GATE_LINES: readonly [GateLine["kind"], RegExp][] = [
  ["lockdown", /^Lockdown: \S+: kexec of unsigned images is restricted/],
  ["ima", /^(?:ima: )?impossible to appraise a kernel image without a file descriptor/],
  // IMA's audit record of a failed appraisal (integrity_audit_msg, AUDIT_INTEGRITY_DATA)
  ["ima-appraise", /^(?:audit: )?type=1800 .*\bop=appraise_data cause=([\w-]+)/],
  [
    "signature-enforced",
    /^(?:kexec_file(?:\(\w+\))?: )?Enforced kernel signature verification failed \((-?\d+)\)/,
  ],
  ["cpus-stuck", /^(?:kexec: )?Can't kexec: CPUs are stuck in the kernel/],
  ["no-crashkernel", /^Memory for crashkernel is not reserved/],
];

export interface SyscallFailure {
  syscall: "kexec_load" | "kexec_file_load";
  errno: string;
  message: string;
}

/**
 * One kimage segment as arm64's _kexec_image_info (arch/arm64/kernel/machine_kexec.c) logs it after a
 * load of either syscall: the kernel's index, mem and memsz; the kernel does not print bufsz there.
 */
export interface KimageSegment {
  index: number;
  mem: number;
  memsz: number;
}

/**
 * A line with which kexec-tools refused a load before making any syscall (kexec/kexec.c my_load and
 * the arm64 loader): "file-type" (no loader's probe took the file), "wrong-type" (-t names another
 * type), "unsupported-type" (-t names no loader), "cannot-load" (the loader's load() failed),
 * "no-crash-kernel", "memory-layout", "invalid-segment" (valid_memory_segment), "step" (arm64's
 * "kexec: <function> failed."), "kaslr-seed" (setup_2nd_dtb found a kaslr-seed not wiped to 0).
 */
export interface Refusal {
  kind:
    | "file-type"
    | "wrong-type"
    | "unsupported-type"
    | "cannot-load"
    | "no-crash-kernel"
    | "memory-layout"
    | "invalid-segment"
    | "step"
    | "kaslr-seed";
  message: string;
}

/** The refusal lines kexec-tools prints, as [kind, pattern] (kexec/kexec.c my_load, arm64 loader). */
const REFUSALS: readonly [Refusal["kind"], RegExp][] = [
  ["file-type", /^Cannot determine the file type of \S/],
  ["wrong-type", /^Wrong file type \S+, file matches type \S+/],
  ["unsupported-type", /^Unsupported kernel type \S+/],
  ["cannot-load", /^Cannot load \S/],
  ["no-crash-kernel", /^No crash kernel segment found in \/proc\/iomem/],
  ["memory-layout", /^Could not get memory layout$/],
  ["invalid-segment", /^Invalid memory segment \S+ - \S+/],
  ["step", /^kexec: \w+ failed\.$/],
  ["kaslr-seed", /^\w+: kaslr-seed is not wiped to 0\.$/],
];

export interface KexecLogFacts {
  table?: { entry: number; flags: number; segments: KtSegment[] };
  /** The memory-range lines as printed (x86 MEMORY RANGES block, or arm64's lines). */
  memoryRanges?: string[];
  /** Sizes from "Could not find a free area of memory of 0x... bytes...". */
  noFreeArea: number[];
  /** hole_max from "Could not find a free area of memory below: 0x...". */
  noFreeAreaBelow: number[];
  failures: SyscallFailure[];
  /** kexec-tools' refusals before any syscall, in log order. */
  refusals: Refusal[];
  /** The gates' own lines (lockdown, IMA, enforced signature, arm64 CPUs stuck, no crashkernel). */
  gateLines: GateLine[];
  /** "syscall kexec_file_load not available." */
  fileLoadUnavailable: boolean;
  /**
   * The segments kexec_file_load placed, in load order, from the kernel's pr_debug lines
   * "kexec_file: Loading segment N: buf=... bufsz=0x... mem=0x... memsz=0x..." (kernel/kexec_file.c
   * kexec_file_load, with dynamic debug on for that file).
   */
  fileSegments?: KtSegment[];
  /**
   * From Linux 6.8 on, with KEXEC_FILE_DEBUG: the kernel's closing line "kexec_file: kexec_file_load:
   * type:T, start:0x... head:0x... flags:0x..." (kernel/kexec_file.c kexec_file_load): the image type
   * (0 normal, 1 crash), the entry (start), the kimage head and the flags kexec passed.
   */
  fileLoad?: { type: number; start: number; head: number; flags: number };
  /**
   * The last "kexec kimage info:" block (arm64 machine_kexec_post_load -> _kexec_image_info, a pr_debug
   * of arch/arm64/kernel/machine_kexec.c): kimage type (0 KEXEC_TYPE_DEFAULT, 1 KEXEC_TYPE_CRASH),
   * start (the entry) and every segment's mem and memsz. The 7.x block (a kexec_dprintk, printed only
   * for KEXEC_FILE_DEBUG loads) has the type, head, kern_reloc and el2_vectors only: no start and no
   * segments (start undefined, segments empty); kexec_file's own segment lines give those.
   */
  kimageInfo?: { type: number; start?: number; segments: KimageSegment[] };
  /**
   * The errno of "kexec_file: kernel signature verification failed (-N)": without
   * CONFIG_KEXEC_SIG_FORCE (and outside lockdown) the kernel logs it and loads the unsigned kernel
   * anyway (kernel/kexec_file.c kimage_validate_signature).
   */
  signatureCheck?: number;
  /**
   * The log is `kexec -d` output: kexec-tools' dbgprintf lines are there (arm64's
   * "arch_process_options:N: ...", my_load's "kernel: 0x... kernel_size: 0x...", the memory ranges,
   * the "kexec_load: entry =" table). From
   * 2.0.29 on, -d also passes KEXEC_FILE_DEBUG to kexec_file_load (kexec/kexec.c), which a kernel
   * before 6.8 refuses with EINVAL.
   */
  kexecDebug: boolean;
  /** Lines nothing here recognised that mention kexec (reported, never silently dropped). */
  unrecognisedKexecLines: string[];
  /**
   * The syscall the logged load made, when the log shows it: kexec_load when kexec-tools printed
   * "kexec_load: entry = ..." and the segment table (kexec/kexec.c do_kexec_load -> print_segments)
   * or "kexec_load failed"; kexec_file_load when the kernel logged its kexec_file pr_debug lines
   * ("kexec_file: Loading segment N", kernel/kexec_file.c kexec_file_load) or "kexec_file_load
   * failed" and no kexec_load followed (a fallback logs both, kexec_load last).
   */
  syscall?: "kexec_load" | "kexec_file_load";
}

/**
 * The kinds of kexec output parseKexecLog reads, as diff names them when a log has none of them.
 */
export const LOG_KINDS: readonly string[] = [
  "kexec -d's memory ranges",
  'kexec -d\'s "kexec_load: entry = ..." segment table',
  'kexec-tools\' failure lines (locate_hole, "kexec_load failed", "kexec_file_load failed", "not available")',
  'the kernel\'s "kexec_file: Loading segment N" (6.1) or "kexec_file: segment[N]" (6.8+) dmesg lines',
  'arm64\'s "kexec kimage info" dmesg block',
];

/** Whether parseKexecLog found anything of a kexec load in the text (any of LOG_KINDS, or a kexec error line). */
export function recognisedAny(f: KexecLogFacts): boolean {
  return (
    f.table !== undefined ||
    f.memoryRanges !== undefined ||
    f.noFreeArea.length > 0 ||
    f.noFreeAreaBelow.length > 0 ||
    f.failures.length > 0 ||
    f.refusals.length > 0 ||
    f.gateLines.length > 0 ||
    f.fileLoadUnavailable ||
    f.fileSegments !== undefined ||
    f.signatureCheck !== undefined ||
    f.kimageInfo !== undefined ||
    f.unrecognisedKexecLines.length > 0
  );
}

const PREFIX = /^(?:\w{3} +\d+ [\d:]+ \S+ kernel: |\[ *\d+\.\d+\] )/;
const RANGE_LINE = /^[0-9a-f]{16}-[0-9a-f]{16} \(\d+\)$/;

export function parseKexecLog(text: string): KexecLogFacts {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "").replace(PREFIX, ""));
  const facts: KexecLogFacts = {
    noFreeArea: [],
    noFreeAreaBelow: [],
    failures: [],
    refusals: [],
    gateLines: [],
    fileLoadUnavailable: false,
    kexecDebug: false,
    unrecognisedKexecLines: [],
  };
  const table = parseKexecLoadTable(lines.join("\n"));
  if (table !== undefined) facts.table = table;
  const mr: string[] = [];
  const NO_AREA = /^Could not find a free area of memory of 0x([0-9a-f]+) bytes/;
  const NO_AREA_BELOW = /^Could not find a free area of memory below: 0x([0-9a-f]+)/;
  const FAILED = /^(kexec_load|kexec_file_load) failed: (.+)$/;
  // 6.1's pr_debug "Loading segment N: ..." and 6.8+'s kexec_dprintk "segment[N]: ..." (KEXEC_FILE_DEBUG)
  const FILE_SEGMENT =
    /^kexec_file(?:\(\w+\))?: (?:Loading segment \d+:|segment\[\d+\]:) buf=\S+ bufsz=0x([0-9a-f]+) mem=0x([0-9a-f]+) memsz=0x([0-9a-f]+)/;
  const FILE_LOAD =
    /^kexec_file(?:\(\w+\))?: kexec_file_load: type:(\d+), start:0x([0-9a-f]+) head:0x([0-9a-f]+) flags:0x([0-9a-f]+)/;
  const SIGNATURE = /^kexec_file(?:\(\w+\))?: kernel signature verification failed \((-?\d+)\)/;
  const fileSegments: KtSegment[] = [];
  const KIMAGE_FIELD = /^\s+(type|start):\s+([0-9a-f]+)$/;
  const KIMAGE_SEGMENT =
    /^\s+segment\[(\d+)\]: ([0-9a-f]{16}) - ([0-9a-f]{16}), 0x([0-9a-f]+) bytes, \d+ pages$/;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*kexec kimage info:$/.test(l)) {
      const info: NonNullable<KexecLogFacts["kimageInfo"]> = { type: 0, segments: [] };
      // The block's own lines are indented; it ends at the first line that is not one of them.
      while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]!)) {
        const next = lines[++i]!;
        const field = KIMAGE_FIELD.exec(next);
        const seg = KIMAGE_SEGMENT.exec(next);
        if (field)
          info[field[1] as "type" | "start"] = Number.parseInt(field[2]!, field[1] === "type" ? 10 : 16);
        else if (seg)
          info.segments.push({
            index: Number(seg[1]),
            mem: Number.parseInt(seg[2]!, 16),
            memsz: Number.parseInt(seg[4]!, 16),
          });
      }
      facts.kimageInfo = info;
      continue;
    }
    const noArea = NO_AREA.exec(l);
    const below = NO_AREA_BELOW.exec(l);
    const failed = FAILED.exec(l);
    const fileSegment = FILE_SEGMENT.exec(l);
    const signature = SIGNATURE.exec(l);
    const gate = GATE_LINES.find(([, re]) => re.test(l));
    if (gate !== undefined) {
      const m = gate[1].exec(l)!;
      facts.gateLines.push({
        kind: gate[0],
        message: l,
        ...(gate[0] === "signature-enforced" ? { errno: Math.abs(Number(m[1])) } : {}),
      });
      continue;
    }
    const fileLoad = FILE_LOAD.exec(l);
    if (fileLoad)
      facts.fileLoad = {
        type: Number(fileLoad[1]),
        start: Number.parseInt(fileLoad[2]!, 16),
        head: Number.parseInt(fileLoad[3]!, 16),
        flags: Number.parseInt(fileLoad[4]!, 16),
      };
    else if (fileSegment)
      fileSegments.push({
        bufsz: Number.parseInt(fileSegment[1]!, 16),
        mem: Number.parseInt(fileSegment[2]!, 16),
        memsz: Number.parseInt(fileSegment[3]!, 16),
      });
    else if (signature) facts.signatureCheck = Number(signature[1]);
    else if (l === "MEMORY RANGES" || l === "System RAM ranges;") {
      mr.push(l);
      while (i + 1 < lines.length && RANGE_LINE.test(lines[i + 1]!)) mr.push(lines[++i]!);
    } else if (l.startsWith("get_memory_ranges:")) mr.push(l);
    else if (noArea) facts.noFreeArea.push(Number.parseInt(noArea[1]!, 16));
    else if (below) facts.noFreeAreaBelow.push(Number.parseInt(below[1]!, 16));
    else if (failed)
      facts.failures.push({
        syscall: failed[1] as SyscallFailure["syscall"],
        errno: STRERROR[failed[2]!.trim()] ?? failed[2]!.trim(),
        message: l,
      });
    else if (l.startsWith("syscall kexec_file_load not available")) facts.fileLoadUnavailable = true;
    else if (REFUSALS.some(([, re]) => re.test(l)))
      facts.refusals.push({ kind: REFUSALS.find(([, re]) => re.test(l))![0], message: l });
    else if (/kexec/i.test(l) && /fail|error|could not|cannot/i.test(l)) facts.unrecognisedKexecLines.push(l);
  }
  facts.kexecDebug =
    facts.table !== undefined ||
    mr.length > 0 ||
    lines.some((l) =>
      /^(?:arch_process_options:\d+: |kernel: (?:0x[0-9a-f]+|\(nil\)) kernel_size: 0x)/.test(l),
    );
  if (mr.length > 0) facts.memoryRanges = mr;
  if (fileSegments.length > 0) facts.fileSegments = fileSegments;
  const fileLines = lines.some((l) => /^kexec_file(?:\(\w+\))?: /.test(l));
  if (facts.table !== undefined || facts.failures.some((f) => f.syscall === "kexec_load"))
    facts.syscall = "kexec_load";
  else if (fileLines || facts.failures.some((f) => f.syscall === "kexec_file_load"))
    facts.syscall = "kexec_file_load";
  return facts;
}
