/*
 * paravm ISA conformance suite — shared header.
 *
 * Every program is bare-metal RV64 code that starts in M-mode on hart 0 at
 * 0x8000_0000 (common/runtime.S: `_start`), runs `test_main`, prints one
 * signature line per case over the HTIF console and exits through HTIF with
 * code 0 (pass) or the number of the first failing case (1..254); 255 means an
 * unexpected trap.
 *
 * Signature lines (compared byte for byte between QEMU and paravm):
 *   <num> <name> <64-bit hex>                       CHECK / RECORD
 *   <num> <name> <64-bit hex> fl=<hex>              CHECKF (FP result + fflags)
 *   <num> <name> trap cause=<hex> tval=<hex> epc=+<hex> from=<M|S|U>
 *   <num> <name> strap cause=<hex> tval=<hex> epc=+<hex> from=<S|U>
 *   <num> <name> no-trap
 * (RECORD and RECORD_TRAP print without asserting: implementation-defined
 * behaviour for which QEMU is the reference.)
 * epc is printed as an offset from the image start (0x8000_0000).
 * A failing check appends " FAIL exp=<hex>" (and the run exits non-zero).
 *
 * Register use: the CHECK-family macros clobber a0-a5 and ra only; every
 * runtime routine preserves all other registers. Test macros that compute a
 * value use t0-t6 (and ft0-ft11 for FP) as scratch.
 *
 * Traps: arm with TRAP_EXPECT <label> before an instruction that should trap.
 * The M-mode handler records mcause/mtval/mepc/previous privilege and resumes
 * in M-mode at <label> with every integer register restored. Traps delegated
 * to S land in the S handler (stvec = s_trap_entry, set at start), which
 * records scause/stval/sepc/SPP and then returns to M-mode at <label> as well
 * (it uses an ecall from S with a7 = RET_MAGIC, so never delegate cause 9, and
 * a7 is clobbered across a trap handled in S). A return request leaves
 * a7 = 0.
 * From U/S code that does not trap, RETURN_TO_M comes back to <label>.
 * Resuming at <label> always leaves mstatus.MIE = 0 (and ENTER_MODE enters
 * with MPIE = 0), so M-mode code never runs with interrupts on by accident.
 * Interrupts are logged (irq_log, see IRQ_PACK), their source and their enable
 * bit in mie/sie are cleared, and the handler returns to the interrupted code.
 */
#ifndef PARAVM_ISA_TEST_H
#define PARAVM_ISA_TEST_H

/* ---------------------------------------------------------------- constants */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define MSTATUS_SIE   0x2
#define MSTATUS_MIE   0x8
#define MSTATUS_SPIE  0x20
#define MSTATUS_UBE   0x40
#define MSTATUS_MPIE  0x80
#define MSTATUS_SPP   0x100
#define MSTATUS_VS    0x600
#define MSTATUS_MPP   0x1800
#define MSTATUS_MPP_S 0x0800
#define MSTATUS_MPP_M 0x1800
#define MSTATUS_FS    0x6000
#define MSTATUS_FS_INITIAL 0x2000
#define MSTATUS_FS_CLEAN   0x4000
#define MSTATUS_FS_DIRTY   0x6000
#define MSTATUS_XS    0x18000
#define MSTATUS_MPRV  0x20000
#define MSTATUS_SUM   0x40000
#define MSTATUS_MXR   0x80000
#define MSTATUS_TVM   0x100000
#define MSTATUS_TW    0x200000
#define MSTATUS_TSR   0x400000
#define MSTATUS_SD    0x8000000000000000

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)
#define MIP_SEIP (1 << IRQ_SEI)
#define MIP_MEIP (1 << IRQ_MEI)
#define CAUSE_INTR 0x8000000000000000

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15

#define PTE_V 0x1
#define PTE_R 0x2
#define PTE_W 0x4
#define PTE_X 0x8
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80
#define SATP_SV39 0x8000000000000000

#define PMP_R 0x1
#define PMP_W 0x2
#define PMP_X 0x4
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

#define CLINT_MSIP     0x02000000
#define CLINT_MTIMECMP 0x02004000
#define CLINT_MTIME    0x0200bff8

#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

/* ecall with a7 = RET_MAGIC from U/S returns to M-mode at the armed label. */
#define RET_MAGIC 0x5245544d

#define IMAGE_BASE 0x80000000

#ifdef __ASSEMBLER__

/* Uncompressed encodings unless a program says `.option rvc` itself, and no
 * linker relaxation: instruction sizes and offsets stay what the source says. */
.option norvc
.option norelax

/* --------------------------------------------------------------- structure */
.macro TEST_BEGIN title
    .text
    .globl test_main
test_main:
    la a0, .Ltitle\@
    call print_title
    .pushsection .rodata
.Ltitle\@: .asciz "\title"
    .popsection
.endm

.macro TEST_END
    j test_finish
.endm

/* Define a string in .rodata and load its address into reg. */
.macro LA_STR reg, text
    la \reg, .Lstr\@
    .pushsection .rodata
.Lstr\@: .asciz "\text"
    .popsection
.endm

/* ------------------------------------------------------------------ checks */
/* Compare the value in reg with the constant exp, print "<num> <name> <hex>". */
.macro CHECK num, name, reg, exp
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a1, \reg
    li a2, \exp
    li a0, \num
    LA_STR a3, "\name"
    call check
.endm

/* Same, expected value taken from a register. */
.macro CHECKR num, name, reg, expreg
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a1, \reg
    mv a2, \expreg
    li a0, \num
    LA_STR a3, "\name"
    call check
.endm

/* Print a value that is implementation-defined (QEMU is the reference);
 * only the signature comparison checks it. */
.macro RECORD num, name, reg
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a1, \reg
    li a0, \num
    LA_STR a3, "\name"
    call record
.endm

/* Value and fflags: "<num> <name> <hex> fl=<hex>". */
.macro CHECKF num, name, reg, exp, flreg, expfl
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a4, \flreg
    mv a1, \reg
    li a2, \exp
    li a5, \expfl
    li a0, \num
    LA_STR a3, "\name"
    call checkf
.endm

/* ------------------------------------------------------- integer op cases */
/* rd = op(v1, v2) with rd, rs1, rs2 distinct. */
.macro TEST_RR num, op, v1, v2, exp
    li t1, \v1
    li t2, \v2
    \op t3, t1, t2
    CHECK \num, "\op", t3, \exp
.endm

/* rd = op(v1, imm). */
.macro TEST_RI num, op, v1, imm, exp
    li t1, \v1
    \op t3, t1, \imm
    CHECK \num, "\op", t3, \exp
.endm

/* rd = op(v1) (unary). */
.macro TEST_R1 num, op, v1, exp
    li t1, \v1
    \op t3, t1
    CHECK \num, "\op", t3, \exp
.endm

/* ----------------------------------------------------------------- FP cases */
/* Load bit patterns into fa1..fa3 (as doubles: fmv.d.x, so single-precision
 * operands must be given NaN-boxed, e.g. 0xffffffff3f800000), clear fflags,
 * run insn (text, e.g. "fadd.s fa0, fa1, fa2, rtz"), and check the 64-bit
 * pattern of fa0 (fmv.x.d: boxing is visible) and fflags. */
.macro FP_CASE num, insn, a, b, c, exp, expfl
    li t0, \a
    fmv.d.x fa1, t0
    li t0, \b
    fmv.d.x fa2, t0
    li t0, \c
    fmv.d.x fa3, t0
    fmv.d.x fa0, zero
    csrwi fflags, 0
    \insn
    csrr t1, fflags
    fmv.x.d t0, fa0
    CHECKF \num, "\insn", t0, \exp, t1, \expfl
.endm

/* Same, the instruction writes an integer register a0 (compare, class,
 * fcvt to int, fmv to int). */
.macro FP_ICASE num, insn, a, b, exp, expfl
    li t0, \a
    fmv.d.x fa1, t0
    li t0, \b
    fmv.d.x fa2, t0
    li a0, 0x5a5a5a5a5a5a5a5a
    csrwi fflags, 0
    \insn
    csrr t1, fflags
    mv t0, a0
    CHECKF \num, "\insn", t0, \exp, t1, \expfl
.endm

/* Integer source a1 (fcvt from int, fmv from int), FP result fa0. */
.macro FP_XCASE num, insn, a, exp, expfl
    li a1, \a
    fmv.d.x fa0, zero
    csrwi fflags, 0
    \insn
    csrr t1, fflags
    fmv.x.d t0, fa0
    CHECKF \num, "\insn", t0, \exp, t1, \expfl
.endm

/* ------------------------------------------------------------------- traps */
/* Arm the trap handlers: the next trap resumes in M-mode at label. */
.macro TRAP_EXPECT label
    la a0, \label
    call trap_arm
.endm

/* Check the trap recorded by the M-mode handler since TRAP_EXPECT:
 * cause, tval (use tval_any=1 to only print it), mepc = address epc. */
.macro CHECK_TRAP num, name, cause, tval, epc
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    li a1, \cause
    li a2, \tval
    la a3, \epc
    li a4, 1
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

/* The same with the expected tval taken from a register. */
.macro CHECK_TRAPR num, name, cause, tvalreg, epc
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a2, \tvalreg
    li a1, \cause
    la a3, \epc
    li a4, 1
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

/* Check a trap handled by the S-mode handler (delegated through medeleg). */
.macro CHECK_STRAP num, name, cause, tval, epc
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    li a1, \cause
    li a2, \tval
    la a3, \epc
    li a4, 2
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

.macro CHECK_STRAPR num, name, cause, tvalreg, epc
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    mv a2, \tvalreg
    li a1, \cause
    la a3, \epc
    li a4, 2
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

/* Print whatever the M-mode handler recorded (trap or no-trap) without
 * asserting: for behaviour where QEMU is the reference (see the comment at
 * each use). Disarms. */
.macro RECORD_TRAP num, name
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    li a4, 3
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

/* Check that no trap was taken since TRAP_EXPECT (and disarm). */
.macro CHECK_NOTRAP num, name
    .if (\num) < 1 || (\num) > 254
    .error "case numbers must be 1..254 (they become the exit code)"
    .endif
    li a4, 0
    li a0, \num
    LA_STR a5, "\name"
    call check_trap
.endm

/* Enter privilege mode `mode` at label (through mret; MPIE becomes MIE). */
.macro ENTER_MODE mode, label
    li a0, \mode
    la a1, \label
    j enter_mode
.endm

/* From U/S code: back to M-mode at the armed label. */
.macro RETURN_TO_M
    li a7, RET_MAGIC
    ecall
.endm

/* Run the code at label (which must end in RETURN_TO_M or trap) in mode,
 * then continue here in M-mode. */
.macro RUN_IN mode, label
    TRAP_EXPECT .Lback\@
    ENTER_MODE \mode, \label
.Lback\@:
.endm

/* ------------------------------------------------------------- interrupts */
/* Clear the interrupt log. */
.macro IRQ_CLEAR
    call irq_clear
.endm

/* reg = the interrupt log packed one byte per interrupt, first taken in the
 * low byte: (handler mode << 4) | cause code, e.g. 0x37 = MTI handled in M,
 * 0x11 = SSI handled in S. At most 8 entries. */
.macro IRQ_PACK reg
    call irq_pack
    mv \reg, a0
.endm

#endif /* __ASSEMBLER__ */
#endif /* PARAVM_ISA_TEST_H */
