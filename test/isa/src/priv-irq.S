/*
 * priv-irq: interrupts. CLINT msip -> machine software interrupt
 * (mcause 0x8000000000000003), mtimecmp -> machine timer interrupt (cause 7),
 * software-written mip.SSIP/STIP/SEIP, the order in which several pending
 * interrupts are taken (the spec says MSI > MTI > SEI > SSI > STI; QEMU 7.2
 * takes the lowest cause number first within a privilege level, recorded;
 * MEI cannot be raised on -M spike), global
 * enables (M interrupts are taken in S/U whatever mstatus.MIE; interrupts
 * delegated to S are never taken in M), delegation through mideleg to the S
 * handler, WFI wake-up with interrupts globally off, vectored mtvec/stvec.
 * Only facts are printed (which interrupts, in which order, by which
 * handler), never times.
 */
#include "test.h"

.macro IRQ_LOG num, name, exp
    IRQ_PACK t1
    CHECK \num, "\name", t1, \exp
.endm

TEST_BEGIN priv-irq
    li s0, CLINT_MSIP
    li s1, CLINT_MTIMECMP
    li s2, CLINT_MTIME
    li t0, -1
    sd t0, 0(s1)                /* no timer interrupt pending */
    csrw mie, zero
    csrw mip, zero

    /* ---- machine software interrupt ---- */
    IRQ_CLEAR
    li t0, MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    csrr t1, mip
    andi t1, t1, MIP_MSIP
    CHECK 1, msip-sets-mip, t1, MIP_MSIP
    IRQ_LOG 2, msi-masked-by-mie, 0
    csrsi mstatus, MSTATUS_MIE
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    IRQ_LOG 3, msi-taken, 0x33
    ld t1, irq_last_cause
    CHECK 4, msi-mcause, t1, 0x8000000000000003
    lw t1, 0(s0)
    CHECK 5, msip-cleared-by-handler, t1, 0
    csrr t1, mip
    andi t1, t1, MIP_MSIP
    CHECK 6, mip-msip-clear, t1, 0
    /* mip.MSIP is read-only to software */
    li t0, MIP_MSIP
    csrs mip, t0
    csrr t1, mip
    andi t1, t1, MIP_MSIP
    CHECK 7, mip-msip-read-only, t1, 0

    /* ---- machine timer interrupt, taken out of WFI ---- */
    IRQ_CLEAR
    ld t0, 0(s2)
    li t1, 20000                /* 2 ms at 10 MHz */
    add t0, t0, t1
    sd t0, 0(s1)
    csrr t1, mip
    andi t1, t1, MIP_MTIP
    CHECK 8, mtip-not-yet, t1, 0
    li t0, MIP_MTIP
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE
1:  wfi
    ld t1, irq_count
    beqz t1, 1b
    csrci mstatus, MSTATUS_MIE
    IRQ_LOG 9, mti-taken, 0x37
    ld t1, irq_last_cause
    CHECK 10, mti-mcause, t1, 0x8000000000000007
    /* mtime advances */
    ld t0, 0(s2)
    li t2, 100000
1:  ld t1, 0(s2)
    addi t2, t2, -1
    beqz t2, 2f
    beq t1, t0, 1b
2:  sltu t1, t0, t1
    CHECK 11, mtime-increases, t1, 1

    /* ---- WFI wakes up with MIE = 0, and no trap is taken ---- */
    IRQ_CLEAR
    ld t0, 0(s2)
    li t1, 20000
    add t0, t0, t1
    sd t0, 0(s1)
    li t0, MIP_MTIP
    csrs mie, t0
1:  wfi
    csrr t1, mip
    andi t1, t1, MIP_MTIP
    beqz t1, 1b
    CHECK 12, wfi-woke-mtip, t1, MIP_MTIP
    IRQ_LOG 13, wfi-no-trap, 0
    li t0, -1
    sd t0, 0(s1)
    csrr t1, mip
    andi t1, t1, MIP_MTIP
    CHECK 14, mtimecmp-max-clears-mtip, t1, 0
    csrw mie, zero
    /* WFI returns at once when an enabled interrupt is already pending */
    li t0, MIP_SSIP
    csrs mip, t0
    csrs mie, t0
    wfi
    CHECK 15, wfi-pending-returns, zero, 0
    csrw mie, zero
    csrw mip, zero

    /* ---- software-set S-level bits, taken in M (not delegated) ---- */
    IRQ_CLEAR
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrs mip, t0
    csrr t1, mip
    and t1, t1, t0
    CHECK 16, mip-s-bits-writable, t1, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    /* The spec's order is SEI, SSI, STI (log 0x353139). QEMU 7.2 without
     * AIA takes the lowest-numbered pending interrupt first (ctz), so it
     * logs 0x393531. Recorded as QEMU does, here and below. */
    IRQ_PACK t1
    RECORD 17, s-bits-in-m-order, t1

    /* ---- priority: everything pending at once ---- */
    IRQ_CLEAR
    sd zero, 0(s1)              /* mtimecmp = 0: MTIP */
    li t0, 1
    sw t0, 0(s0)                /* MSIP */
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrs mip, t0
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_MSIP | MIP_MTIP
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    /* spec: MSI MTI SEI SSI STI = 0x3531393733; QEMU 7.2: lowest code first */
    IRQ_PACK t1
    RECORD 18, priority-all-order, t1
    /* MTI before SEI */
    IRQ_CLEAR
    sd zero, 0(s1)
    li t0, MIP_SEIP
    csrs mip, t0
    li t0, MIP_SEIP | MIP_MTIP
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    IRQ_LOG 19, priority-mti-sei, 0x3937
    li t0, -1
    sd t0, 0(s1)

    /* ---- M interrupts are taken in U/S even with mstatus.MIE = 0 ---- */
    IRQ_CLEAR
    li t0, MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    RUN_IN PRV_U, u_spin
    IRQ_LOG 20, msi-taken-in-u, 0x33
    CHECK_NOTRAP 21, msi-in-u-no-exception
    IRQ_CLEAR
    li t0, MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    RUN_IN PRV_S, u_spin
    IRQ_LOG 22, msi-taken-in-s, 0x33
    /* ... but not in M with MIE = 0 */
    IRQ_CLEAR
    li t0, MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    nop
    nop
    IRQ_LOG 23, msi-not-in-m-mie0, 0
    sw zero, 0(s0)
    csrw mie, zero

    /* ---- delegation of SSI to S ---- */
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw mideleg, t0
    /* pending and enabled in sie, but M-mode never takes it */
    IRQ_CLEAR
    li t0, MIP_SSIP
    csrs mip, t0
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE | MSTATUS_SIE
    nop
    nop
    csrci mstatus, MSTATUS_MIE | MSTATUS_SIE
    IRQ_LOG 24, deleg-ssi-not-in-m, 0
    /* taken in S when sstatus.SIE = 1 */
    csrsi mstatus, MSTATUS_SIE
    RUN_IN PRV_S, u_spin
    csrci mstatus, MSTATUS_SIE
    IRQ_LOG 25, deleg-ssi-in-s, 0x11
    ld t1, irq_last_cause
    CHECK 26, deleg-ssi-scause, t1, 0x8000000000000001
    /* not taken in S when SIE = 0 */
    IRQ_CLEAR
    li t0, MIP_SSIP
    csrs mip, t0
    csrs mie, t0
    RUN_IN PRV_S, u_spin
    IRQ_LOG 27, deleg-ssi-s-sie0, 0
    /* always taken in U (whatever SIE) */
    RUN_IN PRV_U, u_spin
    IRQ_LOG 28, deleg-ssi-in-u, 0x11
    /* S-level priority in S: SEI > SSI > STI */
    IRQ_CLEAR
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrs mip, t0
    csrs mie, t0
    RUN_IN PRV_U, u_spin
    /* spec: SEI SSI STI = 0x151119; QEMU 7.2: lowest code first */
    IRQ_PACK t1
    RECORD 29, deleg-order, t1
    csrw mip, zero
    /* an M interrupt outranks a pending delegated one while in S */
    IRQ_CLEAR
    li t0, MIP_SSIP
    csrs mip, t0
    li t0, MIP_SSIP | MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    csrsi mstatus, MSTATUS_SIE
    RUN_IN PRV_S, u_spin
    csrci mstatus, MSTATUS_SIE
    IRQ_LOG 30, m-before-s, 0x1133
    csrw mideleg, zero
    csrw mie, zero
    csrw mip, zero

    /* ---- vectored mtvec: interrupts go to base + 4 * cause ---- */
    csrr s3, mtvec
    la t0, vec_table
    ori t0, t0, 1
    csrw mtvec, t0
    sd zero, vec_hit, t1
    IRQ_CLEAR
    li t0, MIP_MSIP
    csrs mie, t0
    li t0, 1
    sw t0, 0(s0)
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    ld t1, vec_hit
    CHECK 31, mtvec-vectored-msi, t1, 3
    IRQ_LOG 32, mtvec-vectored-log, 0x33
    /* exceptions use the base */
    sd zero, vec_hit, t1
    TRAP_EXPECT 1f
2:  ecall
1:  CHECK_TRAP 33, mtvec-vectored-exception, CAUSE_ECALL_M, 0, 2b
    ld t1, vec_hit
    CHECK 34, mtvec-vectored-exc-entry, t1, 0x100
    csrw mtvec, s3
    csrw mie, zero

    /* ---- vectored stvec: SSI goes to base + 4 ---- */
    csrr s3, stvec
    la t0, svec_table
    ori t0, t0, 1
    csrw stvec, t0
    li t0, MIP_SSIP
    csrw mideleg, t0
    sd zero, vec_hit, t1
    IRQ_CLEAR
    li t0, MIP_SSIP
    csrs mip, t0
    csrs mie, t0
    RUN_IN PRV_U, u_spin
    ld t1, vec_hit
    CHECK 35, stvec-vectored-ssi, t1, 0x201
    IRQ_LOG 36, stvec-vectored-log, 0x11
    csrw stvec, s3
    csrw mideleg, zero
    csrw mie, zero
    csrw mip, zero

TEST_END

/* U/S code: a short loop (interrupts are taken in it), then back to M. */
u_spin:
    li t2, 50
1:  addi t2, t2, -1
    bnez t2, 1b
    RETURN_TO_M

/* A vector entry: note the entry number in vec_hit, then the common handler. */
.macro VEC_ENTRY n, target, scratch
    csrrw sp, \scratch, sp
    addi sp, sp, -16
    sd t0, 0(sp)
    sd t1, 8(sp)
    li t0, \n
    la t1, vec_hit
    sd t0, 0(t1)
    ld t0, 0(sp)
    ld t1, 8(sp)
    addi sp, sp, 16
    csrrw sp, \scratch, sp
    j \target
.endm

    .align 8
vec_table:
    j vec_dispatch_0
    j vec_dispatch_1
    j vec_dispatch_2
    j vec_dispatch_3
    j vec_dispatch_4
    j vec_dispatch_5
    j vec_dispatch_6
    j vec_dispatch_7
    j vec_dispatch_8
    j vec_dispatch_9
    j vec_dispatch_10
    j vec_dispatch_11
    j vec_dispatch_12
    j vec_dispatch_13
    j vec_dispatch_14
    j vec_dispatch_15
.macro DISPATCH n
vec_dispatch_\n:
    .if \n == 0
    VEC_ENTRY 0x100, m_trap_entry, mscratch
    .else
    VEC_ENTRY \n, m_trap_entry, mscratch
    .endif
.endm
    DISPATCH 0
    DISPATCH 1
    DISPATCH 2
    DISPATCH 3
    DISPATCH 4
    DISPATCH 5
    DISPATCH 6
    DISPATCH 7
    DISPATCH 8
    DISPATCH 9
    DISPATCH 10
    DISPATCH 11
    DISPATCH 12
    DISPATCH 13
    DISPATCH 14
    DISPATCH 15

    .align 8
svec_table:
    j svec0
    j svec1
    .rept 14
    j svec0
    .endr
svec0:
    VEC_ENTRY 0x200, s_trap_entry, sscratch
svec1:
    VEC_ENTRY 0x201, s_trap_entry, sscratch

    .data
    .align 3
vec_hit: .dword 0
