/*
 * zicsr-counters: cycle/instret (and mcycle/minstret) increase (only
 * "increased: yes" is printed, never values), hpmcounter3 reads 0, the time
 * CSR (QEMU -M spike has no rdtime: illegal in every mode, recorded), and
 * mcounteren/scounteren gating of U/S reads.
 */
#include "test.h"

/* t1 = 1 if two reads of csr, 50 instructions apart, increase */
.macro INCREASES csr
    csrr t2, \csr
    .rept 50
    nop
    .endr
    csrr t3, \csr
    sltu t1, t2, t3
.endm

TEST_BEGIN zicsr-counters
    INCREASES cycle
    CHECK 1, cycle-increases, t1, 1
    INCREASES instret
    CHECK 2, instret-increases, t1, 1
    INCREASES mcycle
    CHECK 3, mcycle-increases, t1, 1
    INCREASES minstret
    CHECK 4, minstret-increases, t1, 1
    csrr t1, hpmcounter3
    CHECK 5, hpmcounter3-zero, t1, 0
    csrr t1, mhpmcounter3
    CHECK 6, mhpmcounter3-zero, t1, 0
    /* time: not provided on -M spike (QEMU traps; M-mode software would emulate it) */
    TRAP_EXPECT 1f
    rdtime t1
1:  RECORD_TRAP 7, rdtime-m

    /* gating: U needs mcounteren and scounteren, S needs mcounteren */
    csrw mcounteren, zero
    csrw scounteren, zero
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, rd_cycle
1:  CHECK_TRAP 8, s-cycle-mcounteren0, CAUSE_ILLEGAL, 0xc0002373, rd_cycle
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, rd_instret
1:  CHECK_TRAP 9, u-instret-mcounteren0, CAUSE_ILLEGAL, 0xc0202373, rd_instret
    li t0, 7
    csrw mcounteren, t0
    RUN_IN PRV_S, rd_cycle
    CHECK_NOTRAP 10, s-cycle-mcounteren1
    RUN_IN PRV_S, rd_instret
    CHECK_NOTRAP 11, s-instret-mcounteren1
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, rd_cycle
1:  CHECK_TRAP 12, u-cycle-scounteren0, CAUSE_ILLEGAL, 0xc0002373, rd_cycle
    li t0, 5                    /* CY and IR, not TM */
    csrw scounteren, t0
    RUN_IN PRV_U, rd_cycle
    CHECK_NOTRAP 13, u-cycle-both
    RUN_IN PRV_U, rd_instret
    CHECK_NOTRAP 14, u-instret-both
    li t0, 4
    csrw scounteren, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, rd_cycle
1:  CHECK_TRAP 15, u-cycle-cy-off, CAUSE_ILLEGAL, 0xc0002373, rd_cycle
    RUN_IN PRV_U, rd_instret
    CHECK_NOTRAP 16, u-instret-ir-on
    li t0, 7
    csrw scounteren, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, rd_time
1:  RECORD_TRAP 17, u-time-enabled
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, rd_hpm3
1:  CHECK_TRAP 18, u-hpm3-bit3-off, CAUSE_ILLEGAL, 0xc0302373, rd_hpm3
    li t0, 0xf
    csrw mcounteren, t0
    li t0, 0xf
    csrw scounteren, t0
    RUN_IN PRV_U, rd_hpm3
    CHECK_NOTRAP 19, u-hpm3-enabled
    CHECK 20, u-hpm3-value, t1, 0
    csrw mcounteren, zero
    csrw scounteren, zero
    /* M-mode ignores both */
    csrr t1, cycle
    CHECK 21, m-cycle-ungated, zero, 0
TEST_END

rd_cycle:
    csrr t1, cycle
    RETURN_TO_M
rd_instret:
    csrr t1, instret
    RETURN_TO_M
rd_time:
    csrr t1, time
    RETURN_TO_M
rd_hpm3:
    csrr t1, hpmcounter3
    RETURN_TO_M
