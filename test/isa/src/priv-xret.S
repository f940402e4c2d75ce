/*
 * priv-xret: MRET/SRET state transitions (MIE <- MPIE, MPIE <- 1, MPP <- U;
 * SIE <- SPIE, SPIE <- 1, SPP <- U; MPRV cleared when leaving M), the mode
 * reached (checked through the ECALL cause), SRET from M, TSR, mstatus WARL
 * fields, menvcfg/senvcfg.
 */
#include "test.h"

.macro MSTATUS_FIELD reg, shift, mask
    csrr \reg, mstatus
    srli \reg, \reg, \shift
    andi \reg, \reg, \mask
.endm
.macro TRAPPED_FIELD reg, shift, mask
    ld \reg, trap_mstatus
    srli \reg, \reg, \shift
    andi \reg, \reg, \mask
.endm

/* mret to M-mode at the next instruction, with MPIE = mpie */
.macro MRET_TO_M mpie
    li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    csrc mstatus, t0
    li t0, MSTATUS_MPP_M | ((\mpie) << 7)
    csrs mstatus, t0
    la t0, .Lnext\@
    csrw mepc, t0
    mret
.Lnext\@:
.endm

TEST_BEGIN priv-xret
    csrw mie, zero              /* no interrupt may be taken with MIE = 1 */

    /* ---- MRET to M ---- */
    MRET_TO_M 1
    MSTATUS_FIELD t1, 3, 1
    CHECK 1, mret-mie-from-mpie1, t1, 1
    MSTATUS_FIELD t1, 7, 1
    CHECK 2, mret-mpie-set, t1, 1
    MSTATUS_FIELD t1, 11, 3
    CHECK 3, mret-mpp-to-u, t1, 0
    MRET_TO_M 0
    MSTATUS_FIELD t1, 3, 1
    CHECK 4, mret-mie-from-mpie0, t1, 0
    MSTATUS_FIELD t1, 7, 1
    CHECK 5, mret-mpie-set2, t1, 1
    /* MPRV stays set when MRET returns to M */
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    MRET_TO_M 0
    MSTATUS_FIELD t1, 17, 1
    CHECK 6, mret-to-m-keeps-mprv, t1, 1
    li t0, MSTATUS_MPRV
    csrc mstatus, t0

    /* ---- MRET to S and U: the mode shows in the ECALL cause ----
     * Privileged spec 1.12: an xRET to a mode other than M clears MPRV.
     * QEMU 7.2 leaves MPRV set; the MPRV value is recorded. */
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, do_ecall
1:  CHECK_TRAP 7, mret-to-s, CAUSE_ECALL_S, 0, do_ecall
    TRAPPED_FIELD t1, 17, 1
    RECORD 8, mret-to-s-mprv, t1
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, do_ecall
1:  CHECK_TRAP 9, mret-to-u, CAUSE_ECALL_U, 0, do_ecall
    TRAPPED_FIELD t1, 17, 1
    RECORD 10, mret-to-u-mprv, t1
    /* MPIE -> MIE also when going to S (MIE then matters only back in M) */
    li t0, MSTATUS_MPIE
    TRAP_EXPECT 1f
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPP_S | MSTATUS_MPIE
    csrs mstatus, t0
    la t0, do_ecall
    csrw mepc, t0
    mret
1:  TRAPPED_FIELD t1, 7, 1
    CHECK 11, mret-to-s-mie-now-mpie, t1, 1  /* trap entry: MPIE <- MIE (= old MPIE) */

    /* ---- SRET from M ---- */
    li t0, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_SPIE
    csrc mstatus, t0
    li t0, MSTATUS_SPP | MSTATUS_SPIE
    csrs mstatus, t0
    la t0, do_ecall
    csrw sepc, t0
    TRAP_EXPECT 1f
    sret
1:  CHECK_TRAP 12, sret-m-to-s, CAUSE_ECALL_S, 0, do_ecall
    TRAPPED_FIELD t1, 1, 1
    CHECK 13, sret-sie-from-spie, t1, 1
    TRAPPED_FIELD t1, 5, 1
    CHECK 14, sret-spie-set, t1, 1
    TRAPPED_FIELD t1, 8, 1
    CHECK 15, sret-spp-to-u, t1, 0
    li t0, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_SPIE
    csrc mstatus, t0
    li t0, MSTATUS_SIE
    csrs mstatus, t0
    la t0, do_ecall
    csrw sepc, t0
    TRAP_EXPECT 1f
    sret
1:  CHECK_TRAP 16, sret-m-to-u, CAUSE_ECALL_U, 0, do_ecall
    TRAPPED_FIELD t1, 1, 1
    CHECK 17, sret-sie-from-spie0, t1, 0
    TRAPPED_FIELD t1, 5, 1
    CHECK 18, sret-spie-set2, t1, 1
    /* SRET from S to U (MPRV afterwards: recorded, see above) */
    li t0, MSTATUS_MPRV
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_sret_to_u
1:  CHECK_TRAP 19, sret-s-to-u, CAUSE_ECALL_U, 0, do_ecall
    TRAPPED_FIELD t1, 17, 1
    RECORD 20, sret-mprv, t1
    /* SRET from S to S */
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_sret_to_s
1:  CHECK_TRAP 21, sret-s-to-s, CAUSE_ECALL_S, 0, do_ecall

    /* ---- TSR ---- */
    li t0, MSTATUS_TSR
    csrs mstatus, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_sret_to_s
1:  CHECK_TRAP 22, tsr-sret-in-s, CAUSE_ILLEGAL, 0x10200073, s_sret_insn
    /* M-mode ignores TSR */
    li t0, MSTATUS_SPP
    csrs mstatus, t0
    la t0, do_ecall
    csrw sepc, t0
    TRAP_EXPECT 1f
    sret
1:  CHECK_TRAP 23, tsr-sret-in-m-ok, CAUSE_ECALL_S, 0, do_ecall
    li t0, MSTATUS_TSR
    csrc mstatus, t0

    /* ---- mstatus WARL ---- */
    csrr s0, mstatus
    MSTATUS_FIELD t1, 32, 3
    CHECK 24, uxl, t1, 2
    MSTATUS_FIELD t1, 34, 3
    CHECK 25, sxl, t1, 2
    /* every field of RV64GC+S+U set at once, except MIE/MPRV which change
     * how this code runs; UBE/SBE/MBE are read-only 0 (little-endian), XS is
     * read-only 0 (no custom extension state) */
    li t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | (3 << 36)
    csrs mstatus, t0
    csrr t1, mstatus
    li t2, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | (3 << 36) | MSTATUS_SD
    and t1, t1, t2
    CHECK 26, mstatus-fields, t1, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_SD
    csrw mstatus, s0
    /* MPP = 2 (reserved). QEMU 7.2 keeps the value 2 (no legalisation).
     * Recorded; no MRET is executed with it. */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, 0x1000
    csrs mstatus, t0
    MSTATUS_FIELD t1, 11, 3
    RECORD 27, mpp-write-2, t1
    csrw mstatus, s0
    /* sstatus is a view of mstatus */
    li t0, MSTATUS_SUM | MSTATUS_MXR | MSTATUS_SPP | MSTATUS_SPIE
    csrs sstatus, t0
    csrr t1, mstatus
    and t1, t1, t0
    CHECKR 28, sstatus-writes-mstatus, t1, t0
    li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_TVM | MSTATUS_TSR
    csrs sstatus, t0            /* M-only fields are not visible in sstatus */
    csrr t1, sstatus
    and t1, t1, t0
    CHECK 29, sstatus-hides-m-fields, t1, 0
    csrw mstatus, s0

    /* ---- menvcfg / senvcfg ---- */
    csrr t1, menvcfg
    CHECK 30, menvcfg-reset, t1, 0
    csrr t1, senvcfg
    CHECK 31, senvcfg-reset, t1, 0
    li t0, -1
    csrw menvcfg, t0
    csrr t1, menvcfg
    RECORD 32, menvcfg-all-ones, t1
    csrw menvcfg, zero
    csrr t1, menvcfg
    CHECK 33, menvcfg-zero, t1, 0
    li t0, -1
    csrw senvcfg, t0
    csrr t1, senvcfg
    RECORD 34, senvcfg-all-ones, t1
    csrw senvcfg, zero
    li t0, 1                    /* FIOM */
    csrw menvcfg, t0
    csrr t1, menvcfg
    CHECK 35, menvcfg-fiom, t1, 1
    csrw menvcfg, zero
    RUN_IN PRV_S, s_senvcfg
    CHECK_NOTRAP 36, senvcfg-from-s
    CHECK 37, senvcfg-from-s-value, t1, 1
    csrw senvcfg, zero
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_menvcfg
1:  CHECK_TRAP 38, menvcfg-from-s, CAUSE_ILLEGAL, 0x30a02373, s_menvcfg
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_senvcfg
1:  CHECK_TRAP 39, senvcfg-from-u, CAUSE_ILLEGAL, 0x10a02373, u_senvcfg

TEST_END

do_ecall:
    ecall
s_sret_to_u:
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    la t0, do_ecall
    csrw sepc, t0
    sret
s_sret_to_s:
    li t0, MSTATUS_SPP
    csrs sstatus, t0
    la t0, do_ecall
    csrw sepc, t0
s_sret_insn:
    sret
s_senvcfg:
    csrwi senvcfg, 1
    csrr t1, senvcfg
    RETURN_TO_M
s_menvcfg:
    csrr t1, menvcfg
u_senvcfg:
    csrr t1, senvcfg
