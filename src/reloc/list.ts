/**
 * Walking the kimage entry list outside the relocation loop (load-time walks, the guard's setup):
 * plain physical reads, a callback per source page, no allocation per entry.
 */

import { IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE } from "../kimage/constants.js";
import type { PhysMem } from "../machine/physmem.js";

const TWO_32 = 4294967296;

export interface ListVisitor {
  source(dest: number, src: number): void;
  indirection?(page: number): void;
}

/**
 * for_each_kimage_entry with destination tracking. Returns the entries read (head not counted);
 * stops at IND_DONE, a zero entry, an unreadable slot, or after `maxEntries` reads.
 */
export function walkEntryList(mem: PhysMem, head: number, visit: ListVisitor, maxEntries = Infinity): number {
  const ps = mem.pageSize;
  let entry = head;
  let ptr = -1;
  let dest = 0;
  let reads = 0;
  for (;;) {
    if (entry <= 0) return reads;
    const low = entry % TWO_32;
    if ((low & IND_DONE) !== 0) return reads;
    const addr = entry - (low % ps);
    if ((low & IND_SOURCE) !== 0) {
      visit.source(dest, addr);
      dest += ps;
    } else if ((low & IND_INDIRECTION) !== 0) {
      ptr = addr;
      visit.indirection?.(addr);
    } else if ((low & IND_DESTINATION) !== 0) {
      dest = addr;
    }
    if (ptr < 0 || reads >= maxEntries) return reads;
    entry = mem.read64(ptr);
    ptr += 8;
    reads++;
  }
}
