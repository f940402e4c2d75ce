/*
 * priv-deleg: exceptions delegated through medeleg are taken by the S
 * handler (scause/stval/sepc/SPP, SPIE <- SIE, SIE <- 0) when raised in S or
 * U; never when raised in M. TW (WFI in S), TVM (satp, SFENCE.VMA in S).
 */
#include "test.h"

TEST_BEGIN priv-deleg
    li t0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_ECALL_U) | (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_MISALIGNED_FETCH)
    csrw medeleg, t0

    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_illegal
1:  CHECK_STRAP 1, u-illegal-to-s, CAUSE_ILLEGAL, 0xffffffff, u_illegal
    ld t1, s_trap_from
    CHECK 2, u-illegal-spp, t1, PRV_U
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, u_illegal
1:  CHECK_STRAP 3, s-illegal-to-s, CAUSE_ILLEGAL, 0xffffffff, u_illegal
    ld t1, s_trap_from
    CHECK 4, s-illegal-spp, t1, PRV_S
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_ecall
1:  CHECK_STRAP 5, u-ecall-to-s, CAUSE_ECALL_U, 0, u_ecall
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, u_ebreak
1:  CHECK_STRAP 6, s-ebreak-to-s, CAUSE_BREAKPOINT, 0, u_ebreak
    li s2, 0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_load
1:  CHECK_STRAP 7, u-load-fault-to-s, CAUSE_LOAD_ACCESS, 0, u_load
    /* SPIE <- SIE, SIE <- 0 on entry */
    li t0, MSTATUS_SIE
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, u_illegal
1:  ld t1, s_trap_sstatus
    srli t2, t1, 5
    andi t2, t2, 1
    CHECK 8, s-entry-spie, t2, 1
    andi t2, t1, MSTATUS_SIE
    CHECK 9, s-entry-sie-cleared, t2, 0
    li t0, MSTATUS_SIE
    csrc mstatus, t0
    /* not delegated: store access fault goes to M */
    li s2, 0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_store
1:  CHECK_TRAP 10, u-store-fault-to-m, CAUSE_STORE_ACCESS, 0, u_store
    /* in M-mode, delegation does not apply */
    TRAP_EXPECT 1f
2:  .word 0xffffffff
1:  CHECK_TRAP 11, m-illegal-stays-m, CAUSE_ILLEGAL, 0xffffffff, 2b
    TRAP_EXPECT 1f
2:  ebreak
1:  CHECK_TRAP 12, m-ebreak-stays-m, CAUSE_BREAKPOINT, 0, 2b
    /* mcause/mepc untouched by a trap handled in S */
    li t0, 0x77
    csrw mcause, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_illegal
1:  csrr t1, scause
    CHECK 13, scause-csr, t1, CAUSE_ILLEGAL
    csrr t1, stval
    CHECK 14, stval-csr, t1, 0xffffffff
    csrw medeleg, zero

    /* ---- TW: WFI in S-mode is illegal when TW = 1 ---- */
    li t0, MSTATUS_TW
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_wfi
1:  CHECK_TRAP 15, tw-wfi-in-s, CAUSE_ILLEGAL, 0x10500073, s_wfi
    /* WFI in M ignores TW (an enabled interrupt is pending, so it returns) */
    li t0, MIP_SSIP
    csrs mip, t0
    csrs mie, t0
    TRAP_EXPECT 9f
    wfi
    CHECK_NOTRAP 16, tw-wfi-in-m
9:  li t0, MSTATUS_TW
    csrc mstatus, t0
    /* TW = 0: WFI in S returns when an interrupt is pending (not taken: not delegated, M has MIE = 0? no: M interrupts are always on in S) */
    csrw mie, zero
    li t0, MIP_SSIP
    csrw mideleg, t0
    csrs mie, t0                /* pending, enabled, delegated, SIE = 0: not taken in S */
    RUN_IN PRV_S, s_wfi
    CHECK_NOTRAP 17, wfi-in-s-tw0
    csrw mie, zero
    csrw mip, zero
    csrw mideleg, zero

    /* ---- TVM ---- */
    li t0, MSTATUS_TVM
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_satp
1:  CHECK_TRAP 18, tvm-satp-read, CAUSE_ILLEGAL, 0x18002373, s_satp
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_sfence
1:  CHECK_TRAP 19, tvm-sfence, CAUSE_ILLEGAL, 0x12000073, s_sfence
    csrr t1, satp               /* M-mode is not affected */
    sfence.vma
    CHECK 20, tvm-m-satp, t1, 0
    li t0, MSTATUS_TVM
    csrc mstatus, t0
    RUN_IN PRV_S, s_satp
    CHECK_NOTRAP 21, tvm0-satp-read
    RUN_IN PRV_S, s_sfence
    CHECK_NOTRAP 22, tvm0-sfence
TEST_END

u_illegal: .word 0xffffffff
u_ecall: ecall
u_ebreak: ebreak
u_load:
    ld t1, 0(s2)
    RETURN_TO_M
u_store:
    sd t1, 0(s2)
    RETURN_TO_M
s_wfi:
    wfi
    RETURN_TO_M
s_satp:
    csrr t1, satp
    RETURN_TO_M
s_sfence:
    sfence.vma
    RETURN_TO_M
