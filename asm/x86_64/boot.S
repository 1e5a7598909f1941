/*
 * kexec-lab's x86_64 boot stub for QEMU's pc machine: a Multiboot (v1) ELF32 image.
 *
 * Written for this project. QEMU's -kernel loads a Multiboot ELF32 and enters it in 32-bit protected
 * mode with paging off (SeaBIOS and QEMU's multiboot option ROM run first). The stub then enters long
 * mode (EFER.LME, and EFER.NXE as the running kernel has it: the identity map's data pages carry NX)
 * with the identity map that the x86-ident strategy built in control pages (CR3 from the parameter
 * block), and walks the kimage entry list as relocate_kernel_64's swap_pages does:
 *
 *   mode 0  copy   one copy per source page (rep movsq of PAGE_SIZE/8 qwords; Linux >= 6.14)
 *   mode 1  swap   source -> swap page, destination -> source, swap page -> destination
 *                  (Linux < 6.14, and preserve_context since)
 *   mode 2  probe  load 8 bytes from each VA of a list; a #PF or #GP is caught (IDT vectors 13 and
 *                  14) and its vector, error code and CR2 are recorded instead (walk conformance)
 *
 * It ends with an ACPI S5 request on QEMU's PIIX4 PM1a control port (0x604, as SeaBIOS sets PMBASE
 * 0x600), which QEMU turns into a shutdown event; the harness runs QEMU with -no-shutdown so memory can
 * be dumped afterwards, and -no-reboot so a triple fault (a wrong table) ends the run too.
 *
 * The stub runs at its link address (0x100000); it must be inside the identity map. The parameter
 * block layout is mirrored in src/emit/x86-params.ts.
 */

	.set	MULTIBOOT_MAGIC, 0x1badb002
	.set	MULTIBOOT_FLAGS, 0x00000000
	.set	IND_DESTINATION_BIT, 0
	.set	IND_INDIRECTION_BIT, 1
	.set	IND_DONE_BIT, 2
	.set	IND_SOURCE_BIT, 3
	.set	PAGE_SIZE, 4096
	.set	CR0_PE, 1 << 0
	.set	CR0_PG, 1 << 31
	.set	CR4_PAE, 1 << 5
	.set	MSR_EFER, 0xc0000080
	.set	EFER_LME, 1 << 8
	.set	EFER_NXE, 1 << 11
	.set	STATUS_DONE, 0x454e4f44
	.set	PM1A_CNT, 0x604
	.set	SLP_EN_S5, 0x2000

	.set	P_STATUS, 0x00
	.set	P_MODE, 0x08
	.set	P_HEAD, 0x10
	.set	P_CR3, 0x18
	.set	P_SWAP_PAGE, 0x20
	.set	P_PAGES_COPIED, 0x28
	.set	P_ENTRIES_READ, 0x30
	.set	P_PROBE_COUNT, 0x38
	.set	P_PROBE_LIST, 0x40
	.set	P_PROBE_RESULTS, 0x48
	.set	MODE_PROBE, 2
	.set	STATUS_FAULT, 0x544c4146

	.text
	.code32
	.globl	_start
_start:
	jmp	boot32

	.balign	4
multiboot_header:
	.long	MULTIBOOT_MAGIC
	.long	MULTIBOOT_FLAGS
	.long	-(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

boot32:
	cli
	lgdt	gdt_pointer
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	params + P_CR3, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$(EFER_LME | EFER_NXE), %eax	/* NXE: the identity map's data pages carry NX */
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$0x08, $long_mode

	.code64
long_mode:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	leaq	params(%rip), %rbp
	cmpq	$MODE_PROBE, P_MODE(%rbp)
	je	walk_probe
	movq	P_HEAD(%rbp), %rcx		/* rcx = entry */
	movq	P_MODE(%rbp), %r12
	movq	P_SWAP_PAGE(%rbp), %r10
	xorl	%ebx, %ebx			/* rbx = ptr */
	xorl	%edi, %edi			/* rdi = dest */
	xorl	%r13d, %r13d			/* pages copied */
	xorl	%r14d, %r14d			/* entries read */
	cld
next_entry:
	testb	$(1 << IND_DONE_BIT), %cl
	jnz	done
	movq	%rcx, %rax
	andq	$~(PAGE_SIZE - 1), %rax		/* addr = entry & PAGE_MASK */
	testb	$(1 << IND_DESTINATION_BIT), %cl
	jz	1f
	movq	%rax, %rdi
	jmp	read_next
1:	testb	$(1 << IND_INDIRECTION_BIT), %cl
	jz	2f
	movq	%rax, %rbx
	jmp	read_next
2:	testb	$(1 << IND_SOURCE_BIT), %cl
	jz	read_next
	movq	%rax, %rsi			/* rsi = source */
	testq	%r12, %r12
	jnz	swap
	/* copy: dest <- source, then dest += PAGE_SIZE (rep movsq advances rdi) */
	movl	$(PAGE_SIZE / 8), %ecx
	rep	movsq
	jmp	copied
swap:
	movq	%rdi, %rdx			/* rdx = dest */
	movq	%r10, %rdi			/* source -> swap */
	movl	$(PAGE_SIZE / 8), %ecx
	rep	movsq
	movq	%rax, %rdi			/* dest -> source */
	movq	%rdx, %rsi
	movl	$(PAGE_SIZE / 8), %ecx
	rep	movsq
	movq	%rdx, %rdi			/* swap -> dest */
	movq	%r10, %rsi
	movl	$(PAGE_SIZE / 8), %ecx
	rep	movsq
copied:
	incq	%r13
read_next:
	movq	(%rbx), %rcx
	addq	$8, %rbx
	incq	%r14
	jmp	next_entry

/* ---- mode 2: loads from a list of VAs, faults recorded ---- */
walk_probe:
	leaq	stack_top(%rip), %rsp
	leaq	idt(%rip), %rdi
	leaq	gp_handler(%rip), %rax
	movl	$13, %ecx
	call	set_gate
	leaq	pf_handler(%rip), %rax
	movl	$14, %ecx
	call	set_gate
	lidt	idt_pointer(%rip)
	movq	P_PROBE_COUNT(%rbp), %r12
	movq	P_PROBE_LIST(%rbp), %r13
	movq	P_PROBE_RESULTS(%rbp), %r14
	xorl	%r15d, %r15d
	testq	%r12, %r12
	jz	probe_done
1:	movq	(%r13), %rsi
	addq	$8, %r13
	movl	$0xdead0000, %eax		/* what a faulting load leaves behind */
	xorl	%r9d, %r9d			/* vector + 1, set by a handler */
	xorl	%r10d, %r10d			/* error code */
	xorl	%r11d, %r11d			/* CR2 */
probe_load:
	movq	(%rsi), %rax
probe_next:
	movq	%rax, (%r14)
	movq	%r9, 8(%r14)
	movq	%r10, 16(%r14)
	movq	%r11, 24(%r14)
	addq	$32, %r14
	incq	%r15
	decq	%r12
	jnz	1b
probe_done:
	xorl	%r13d, %r13d
	movq	%r15, %r14
	jmp	done

/* rax = handler, ecx = vector: a 64-bit interrupt gate, selector 0x08, DPL 0 */
set_gate:
	movq	%rcx, %rdx
	shlq	$4, %rdx
	addq	%rdi, %rdx
	movw	%ax, (%rdx)
	movw	$0x08, 2(%rdx)
	movw	$0x8e00, 4(%rdx)
	movq	%rax, %rbx
	shrq	$16, %rbx
	movw	%bx, 6(%rdx)
	shrq	$32, %rax
	movl	%eax, 8(%rdx)
	movl	$0, 12(%rdx)
	ret

pf_handler:
	movl	$15, %r9d
	popq	%r10
	movq	%cr2, %r11
	jmp	fault_common
gp_handler:
	movl	$14, %r9d
	popq	%r10
	xorl	%r11d, %r11d
fault_common:
	leaq	probe_load(%rip), %rbx
	cmpq	%rbx, (%rsp)
	jne	fatal
	leaq	probe_next(%rip), %rbx
	movq	%rbx, (%rsp)			/* resume after the load */
	iretq
fatal:
	movq	$STATUS_FAULT, %rax
	movq	%rax, P_STATUS(%rbp)
	jmp	power_off

done:
	movq	%r13, P_PAGES_COPIED(%rbp)
	movq	%r14, P_ENTRIES_READ(%rbp)
	movq	$STATUS_DONE, %rax
	movq	%rax, P_STATUS(%rbp)
power_off:
	mfence
	movw	$PM1A_CNT, %dx
	movw	$SLP_EN_S5, %ax
	outw	%ax, %dx
3:	hlt
	jmp	3b

	.balign	8
gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x10: data */
gdt_end:
gdt_pointer:
	.word	gdt_end - gdt - 1
	.long	gdt

	.balign	16
idt:
	.fill	16 * 16, 1, 0
idt_pointer:
	.word	16 * 16 - 1
	.long	idt				/* 64-bit base: the stub lives below 4 GiB (ELF32 relocations) */
	.long	0

	.balign	16
stack:
	.fill	512, 1, 0
stack_top:

	.balign	64
	.globl	params
params:
	.fill	0x60, 1, 0
	.globl	boot_end
boot_end:
