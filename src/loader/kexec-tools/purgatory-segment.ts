/**
 * kexec-tools' elf_rel_build_load -> elf_rel_load -> add_buffer for the purgatory: one buffer of
 * bufsz bytes in a memsz hole (bss included) at the purgatory's largest section alignment.
 */

import { hex } from "../../formats/bytes.js";
import type { Arch } from "../../kimage/constants.js";
import { addBuffer, type Ctx, type HoleRequest } from "../context.js";
import { DEFAULT_PURGATORY } from "./purgatory.js";

export function addPurgatory(ctx: Ctx, arch: Arch, hole: Omit<HoleRequest, "size" | "align">): number {
  const purg = ctx.input.purgatory ?? DEFAULT_PURGATORY[arch];
  const base = addBuffer(ctx, "purgatory", new Uint8Array(purg.bufsz), purg.memsz, {
    ...hole,
    align: Math.max(purg.align ?? 1, ctx.pageSize),
  });
  const src = purg.source ?? "given size";
  if (purg.entryOffset === undefined)
    ctx.notes.push(
      "purgatory_start's offset in the purgatory is unknown: the kexec entry is shown as the purgatory's base",
    );
  ctx.notes.push(
    `purgatory: bufsz ${hex(purg.bufsz)}, memsz ${hex(purg.memsz)} from ${src}${src.startsWith("model") ? "; its size depends on the kexec-tools build: pass --kexec-binary or --purgatory PRESET" : ""}`,
  );
  // elf_rel_get_addr(&info->rhdr, "purgatory_start"): the entry, when the offset is known.
  return base + (purg.entryOffset ?? 0);
}
