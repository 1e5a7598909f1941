/*
 * kexec-lab's arm64 relocation routine for QEMU's virt machine (EL1, no firmware).
 *
 * Written for this project; it performs what the kernel's relocation code performs, so that a CPU
 * implementation nobody on this project wrote (QEMU's) can check the simulator:
 *
 *   mode 0  mmu-off          walk the kimage entry list with the MMU and D-cache off, invalidating
 *                            each destination page to PoC before copying into it (Linux <= 5.15)
 *   mode 1  linear-map-copy  install MAIR/TCR/TTBR0/TTBR1, MMU on, walk the entry list converting
 *                            every PA to a VA with va = pa + linear_offset, copy, clean+invalidate
 *                            each destination page to PoC, MMU off (Linux >= 5.16)
 *   mode 2  va-copy          MMU on, one linear copy of `length` bytes from src_va to dst_va, clean
 *                            the destination to PoU, MMU off (Pasha Tatashin's series)
 *   mode 3  walk probe       MMU on, load 8 bytes from each VA of a list and store what was read;
 *                            a synchronous exception records ESR_EL1 and FAR_EL1 instead
 *
 * It is position independent: it finds its parameter block with ADR, so it runs from whatever page
 * the emitter puts it in (the kimage's control code page). The vector table is the first 2 KiB, so
 * the page's alignment gives VBAR_EL1 its required 2 KiB alignment. It ends with PSCI SYSTEM_OFF
 * through HVC (QEMU's PSCI conduit for virt without EL2/EL3).
 *
 * The parameter block layout is mirrored in src/emit/arm64-params.ts (PARAM_* offsets).
 */

	.set	MODE_MMU_OFF, 0
	.set	MODE_LINEAR, 1
	.set	MODE_VA_COPY, 2
	.set	MODE_PROBE, 3

	.set	IND_DESTINATION_BIT, 0
	.set	IND_INDIRECTION_BIT, 1
	.set	IND_DONE_BIT, 2
	.set	IND_SOURCE_BIT, 3

	.set	SCTLR_M, 1 << 0
	.set	SCTLR_C, 1 << 2
	.set	SCTLR_I, 1 << 12

	.set	STATUS_DONE, 0x454e4f44		/* "DONE" */
	.set	STATUS_FAULT, 0x544c4146	/* "FALT" */

	.set	PSCI_SYSTEM_OFF, 0x84000008

	/* parameter block offsets */
	.set	P_STATUS, 0x00
	.set	P_MODE, 0x08
	.set	P_PAGE_SIZE, 0x10
	.set	P_HEAD, 0x18
	.set	P_MAIR, 0x20
	.set	P_TCR, 0x28
	.set	P_TTBR0, 0x30
	.set	P_TTBR1, 0x38
	.set	P_LINEAR_OFFSET, 0x40
	.set	P_SRC_VA, 0x48
	.set	P_DST_VA, 0x50
	.set	P_LENGTH, 0x58
	.set	P_PROBE_COUNT, 0x60
	.set	P_PROBE_LIST, 0x68
	.set	P_PROBE_RESULTS, 0x70
	.set	P_PAGES_COPIED, 0x78
	.set	P_ENTRIES_READ, 0x80
	.set	P_FAULT_ESR, 0x88
	.set	P_FAULT_FAR, 0x90
	.set	P_FAULT_ELR, 0x98

	.text
	.globl	reloc_start
reloc_start:
/* ---- vector table: 16 entries of 0x80 bytes; only "current EL with SP_ELx, synchronous" is used ---- */
vectors:
	.rept	4				/* current EL with SP_EL0: sync, IRQ, FIQ, SError */
	b	unexpected_exception
	.balign	0x80
	.endr
	b	sync_current_el			/* 0x200: current EL with SP_ELx, synchronous */
	.balign	0x80
	.rept	11				/* the rest: IRQ, FIQ, SError, lower ELs */
	b	unexpected_exception
	.balign	0x80
	.endr

/* ---- entry point (the loader sets PC here) ---- */
	.globl	reloc_entry
reloc_entry:
	adr	x20, params
	adr	x1, vectors
	msr	vbar_el1, x1
	isb
	ldr	x10, [x20, #P_PAGE_SIZE]
	neg	x11, x10			/* x11 = PAGE_MASK */
	mrs	x1, ctr_el0			/* DminLine: log2(words) of the smallest D-cache line */
	ubfx	x1, x1, #16, #4
	mov	x9, #4
	lsl	x9, x9, x1			/* x9 = D-cache line size in bytes */
	ldr	x0, [x20, #P_MODE]
	cbz	x0, relocate_mmu_off

	/* MMU on with the strategy's tables */
	ldr	x1, [x20, #P_MAIR]
	msr	mair_el1, x1
	ldr	x1, [x20, #P_TCR]
	msr	tcr_el1, x1
	ldr	x1, [x20, #P_TTBR0]
	msr	ttbr0_el1, x1
	ldr	x1, [x20, #P_TTBR1]
	msr	ttbr1_el1, x1
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x1, sctlr_el1
	mov	x2, #(SCTLR_M | SCTLR_C)
	orr	x2, x2, #SCTLR_I
	orr	x1, x1, x2
	msr	sctlr_el1, x1
	isb
	cmp	x0, #MODE_LINEAR
	b.eq	relocate_linear
	cmp	x0, #MODE_VA_COPY
	b.eq	relocate_va_copy
	cmp	x0, #MODE_PROBE
	b.eq	walk_probe
	b	unexpected_exception

/*
 * copy_page: x1 = destination, x2 = source, x10 = page size. Clobbers x3..x8, x1, x2.
 */
copy_page:
	mov	x3, x10
1:	ldp	x4, x5, [x2], #16
	ldp	x6, x7, [x2], #16
	stp	x4, x5, [x1], #16
	stp	x6, x7, [x1], #16
	subs	x3, x3, #32
	b.ne	1b
	ret

/* ---- mode 0: MMU off, walk the entry list by physical address ---- */
relocate_mmu_off:
	ldr	x16, [x20, #P_HEAD]		/* x16 = entry */
	mov	x14, #0				/* x14 = ptr (next slot) */
	mov	x13, #0				/* x13 = dest */
	mov	x15, #0				/* pages copied */
	mov	x17, #0				/* entries read */
1:	tbnz	x16, #IND_DONE_BIT, 9f
	and	x12, x16, x11			/* addr = entry & PAGE_MASK */
	tbz	x16, #IND_DESTINATION_BIT, 2f
	mov	x13, x12
	b	8f
2:	tbz	x16, #IND_INDIRECTION_BIT, 3f
	mov	x14, x12
	b	8f
3:	tbz	x16, #IND_SOURCE_BIT, 8f
	/* invalidate the destination page to PoC: no stale line may be written back over the copy */
	mov	x1, x13
	add	x2, x13, x10
4:	dc	ivac, x1
	add	x1, x1, x9
	cmp	x1, x2
	b.lo	4b
	dsb	sy
	mov	x1, x13
	mov	x2, x12
	bl	copy_page
	add	x13, x13, x10
	add	x15, x15, #1
8:	ldr	x16, [x14], #8
	add	x17, x17, #1
	b	1b
9:	b	finish

/* ---- mode 1: MMU on, walk the entry list through the linear map (va = pa + linear_offset) ---- */
relocate_linear:
	ldr	x18, [x20, #P_LINEAR_OFFSET]
	ldr	x16, [x20, #P_HEAD]
	mov	x14, #0
	mov	x13, #0
	mov	x15, #0
	mov	x17, #0
1:	tbnz	x16, #IND_DONE_BIT, 9f
	and	x12, x16, x11
	add	x12, x12, x18			/* phys_to_virt */
	tbz	x16, #IND_DESTINATION_BIT, 2f
	mov	x13, x12
	b	8f
2:	tbz	x16, #IND_INDIRECTION_BIT, 3f
	mov	x14, x12
	b	8f
3:	tbz	x16, #IND_SOURCE_BIT, 8f
	mov	x1, x13
	mov	x2, x12
	bl	copy_page
	/* clean and invalidate the destination page to PoC, line by line */
	mov	x1, x13
	add	x2, x13, x10
4:	dc	civac, x1
	add	x1, x1, x9
	cmp	x1, x2
	b.lo	4b
	add	x13, x13, x10
	add	x15, x15, #1
8:	ldr	x16, [x14], #8
	add	x17, x17, #1
	b	1b
9:	dsb	sy
	b	mmu_off_finish

/* ---- mode 2: MMU on, one linear copy from src_va to dst_va ---- */
relocate_va_copy:
	ldr	x2, [x20, #P_SRC_VA]
	ldr	x1, [x20, #P_DST_VA]
	ldr	x12, [x20, #P_LENGTH]
	mov	x13, x1
	mov	x15, #0
	mov	x17, #0
	cbz	x12, 5f
1:	bl	copy_page
	add	x15, x15, #1
	subs	x12, x12, x10
	b.ne	1b
	/* clean the destination to PoU */
	ldr	x12, [x20, #P_LENGTH]
	add	x2, x13, x12
4:	dc	cvau, x13
	add	x13, x13, x9
	cmp	x13, x2
	b.lo	4b
5:	dsb	sy
	b	mmu_off_finish

/* ---- mode 3: load from each VA of a list, record the value or the fault ---- */
walk_probe:
	ldr	x21, [x20, #P_PROBE_COUNT]
	ldr	x22, [x20, #P_PROBE_LIST]
	ldr	x23, [x20, #P_PROBE_RESULTS]
	mov	x15, #0
	mov	x17, #0
	cbz	x21, 9f
1:	ldr	x1, [x22], #8
	movz	x2, #0xdead, lsl #16		/* what a faulting load leaves behind */
	mov	x3, #0				/* ESR_EL1, set by the handler */
	mov	x4, #0				/* FAR_EL1, set by the handler */
	.globl	probe_load
probe_load:
	ldr	x2, [x1]
	stp	x2, x3, [x23], #16
	str	x4, [x23], #8
	add	x17, x17, #1
	subs	x21, x21, #1
	b.ne	1b
9:	dsb	sy
	b	mmu_off_finish

/* synchronous exception at EL1: a probe load that faulted, or something unexpected */
sync_current_el:
	mrs	x5, elr_el1
	adr	x6, probe_load
	cmp	x5, x6
	b.ne	unexpected_exception
	mrs	x3, esr_el1
	mrs	x4, far_el1
	add	x5, x5, #4
	msr	elr_el1, x5
	eret

unexpected_exception:
	adr	x20, params
	mrs	x1, esr_el1
	str	x1, [x20, #P_FAULT_ESR]
	mrs	x1, far_el1
	str	x1, [x20, #P_FAULT_FAR]
	mrs	x1, elr_el1
	str	x1, [x20, #P_FAULT_ELR]
	mrs	x1, sctlr_el1
	bic	x1, x1, #SCTLR_M
	bic	x1, x1, #SCTLR_C
	msr	sctlr_el1, x1
	isb
	movz	x1, #(STATUS_FAULT & 0xffff)
	movk	x1, #(STATUS_FAULT >> 16), lsl #16
	b	report

mmu_off_finish:
	mrs	x1, sctlr_el1
	bic	x1, x1, #SCTLR_M
	bic	x1, x1, #SCTLR_C
	msr	sctlr_el1, x1
	isb
	ic	iallu
	dsb	nsh
	isb
finish:
	str	x15, [x20, #P_PAGES_COPIED]
	str	x17, [x20, #P_ENTRIES_READ]
	movz	x1, #(STATUS_DONE & 0xffff)
	movk	x1, #(STATUS_DONE >> 16), lsl #16
report:
	str	x1, [x20, #P_STATUS]
	dsb	sy
	movz	x0, #(PSCI_SYSTEM_OFF & 0xffff)
	movk	x0, #(PSCI_SYSTEM_OFF >> 16), lsl #16
	hvc	#0
1:	wfi
	b	1b

	.balign	64
	.globl	params
params:
	.fill	0xa0, 1, 0
	.globl	reloc_end
reloc_end:
