/*
 * zicsr: CSRRW/CSRRS/CSRRC and their immediate forms (old value returned,
 * set/clear semantics, rs1 = x0 / uimm = 0 does not write, rd = rs1), writes
 * to read-only CSRs and accesses to unknown CSRs are illegal (mtval = the
 * instruction), privilege checks on M/S CSRs, misa (read-only under QEMU),
 * mhartid, WARL registers read back as QEMU shows.
 */
#include "test.h"

/* insn must be an illegal instruction; mtval = its bits */
.macro CSR_ILLEGAL num, name, insn
    TRAP_EXPECT .Lr\@
.Li\@:
    \insn
.Lr\@:
    la t5, .Li\@
    lwu t5, 0(t5)
    CHECK_TRAPR \num, "\name", CAUSE_ILLEGAL, t5, .Li\@
.endm

TEST_BEGIN zicsr

    /* sscratch is used by the S handler only while a trap is in flight */
    csrr s0, sscratch

    li t0, 0x1111
    csrw sscratch, t0
    li t1, 0x2222
    csrrw t2, sscratch, t1
    CHECK 1, csrrw-old, t2, 0x1111
    csrr t2, sscratch
    CHECK 2, csrrw-new, t2, 0x2222
    li t1, 0x0f0f
    csrrs t2, sscratch, t1
    CHECK 3, csrrs-old, t2, 0x2222
    csrr t2, sscratch
    CHECK 4, csrrs-new, t2, 0x2f2f
    li t1, 0x0303
    csrrc t2, sscratch, t1
    CHECK 5, csrrc-old, t2, 0x2f2f
    csrr t2, sscratch
    CHECK 6, csrrc-new, t2, 0x2c2c
    csrrs t2, sscratch, x0
    CHECK 7, csrrs-x0-read, t2, 0x2c2c
    csrrc t2, sscratch, x0
    csrr t2, sscratch
    CHECK 8, csrrc-x0-nowrite, t2, 0x2c2c
    csrrwi t2, sscratch, 31
    CHECK 9, csrrwi-old, t2, 0x2c2c
    csrr t2, sscratch
    CHECK 10, csrrwi-new, t2, 31
    csrrci t2, sscratch, 0x11
    csrr t2, sscratch
    CHECK 11, csrrci, t2, 0x0e
    csrrsi t2, sscratch, 0x10
    CHECK 12, csrrsi-old, t2, 0x0e
    csrr t2, sscratch
    CHECK 13, csrrsi-new, t2, 0x1e
    csrrsi t2, sscratch, 0
    csrrci t2, sscratch, 0
    csrr t2, sscratch
    CHECK 14, csrr-i0-nowrite, t2, 0x1e
    csrrwi t2, sscratch, 0
    csrr t2, sscratch
    CHECK 15, csrrwi-zero, t2, 0
    li t0, -1
    csrw sscratch, t0
    csrr t2, sscratch
    CHECK 16, sscratch-64bit, t2, -1
    /* rd = rs1: the old value goes to rd, the old rs1 is written */
    li t1, 0x5a5a
    csrw sscratch, t1
    li t1, 0xa5a5
    csrrw t1, sscratch, t1
    CHECK 17, csrrw-rd-eq-rs1, t1, 0x5a5a
    csrr t2, sscratch
    CHECK 18, csrrw-rd-eq-rs1-new, t2, 0xa5a5
    li t1, 0x0f00
    csrrs t1, sscratch, t1
    csrr t2, sscratch
    CHECK 19, csrrs-rd-eq-rs1-new, t2, 0xafa5
    /* rd = x0 */
    li t1, 0x77
    csrrw x0, sscratch, t1
    csrr t2, sscratch
    CHECK 20, csrw-rd-x0, t2, 0x77
    csrw sscratch, s0

    /* read-only CSRs: reads are fine, writes are illegal; set/clear with
     * rs1 = x0 or uimm = 0 are reads, so they are fine too */
    csrr t1, mhartid
    CHECK 21, mhartid, t1, 0
    csrrs t1, mhartid, x0
    CHECK 22, csrrs-ro-x0, t1, 0
    csrrci t1, mhartid, 0
    CHECK 23, csrrci-ro-0, t1, 0
    CSR_ILLEGAL 24, csrw-mhartid, "csrw mhartid, zero"
    CSR_ILLEGAL 25, csrrw-x0-mhartid, "csrrw x0, mhartid, t1"
    li t6, 1
    CSR_ILLEGAL 26, csrrs-mvendorid, "csrrs t1, mvendorid, t6"
    CSR_ILLEGAL 27, csrrsi-marchid, "csrrsi t1, marchid, 1"
    CSR_ILLEGAL 28, csrrci-mimpid, "csrrci t1, mimpid, 1"
    CSR_ILLEGAL 29, csrw-cycle, "csrw cycle, zero"
    CSR_ILLEGAL 30, csrs-instret, "csrs instret, t6"
    CSR_ILLEGAL 31, csrw-mconfigptr, "csrw mconfigptr, zero"
    /* rs1 != x0 holding zero: the spec says the write is still attempted
     * (illegal on a read-only CSR); QEMU 7.2 decides on the value and does
     * not trap. Recorded. */
    li t6, 0
    TRAP_EXPECT 1f
    csrrs t1, mhartid, t6
1:  RECORD_TRAP 32, csrrs-ro-zero-reg
    li t6, 1
    /* unknown CSR numbers */
    CSR_ILLEGAL 33, csr-0x101, "csrr t1, 0x101"
    CSR_ILLEGAL 34, csr-0x307, "csrr t1, 0x307"
    CSR_ILLEGAL 35, csr-0x3ff, "csrw 0x3ff, t1"
    CSR_ILLEGAL 36, csr-0x7ff, "csrr t1, 0x7ff"
    CSR_ILLEGAL 37, csr-0x8ff, "csrr t1, 0x8ff"
    CSR_ILLEGAL 38, csr-0xfff, "csrr t1, 0xfff"
    CSR_ILLEGAL 39, csr-0x5a8, "csrrs t1, 0x5a8, x0"

    /* misa: RV64 (MXL = 2), I, M, A, F, D, C, S, U; writes are ignored
     * (QEMU's misa is read-only). The full value is recorded. */
    csrr s1, misa
    RECORD 40, misa, s1
    srli t1, s1, 62
    CHECK 41, misa-mxl, t1, 2
    li t2, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
    and t1, s1, t2
    CHECKR 42, misa-imafdcsu, t1, t2
    li t0, (1 << 2)
    csrc misa, t0                   /* try to turn C off */
    csrr t1, misa
    CHECKR 43, misa-write-ignored, t1, s1
    csrw misa, zero
    csrr t1, misa
    CHECKR 44, misa-write0-ignored, t1, s1

    /* M CSRs from S-mode, S CSRs from U-mode: illegal */
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_read_mstatus
1:  CHECK_TRAP 45, s-reads-mstatus, CAUSE_ILLEGAL, 0x30002373, s_read_mstatus
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_read_mscratch
1:  CHECK_TRAP 46, s-reads-mscratch, CAUSE_ILLEGAL, 0x34002373, s_read_mscratch
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_read_sstatus
1:  CHECK_TRAP 47, u-reads-sstatus, CAUSE_ILLEGAL, 0x10002373, u_read_sstatus
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_write_sscratch
1:  CHECK_TRAP 48, u-writes-sscratch, CAUSE_ILLEGAL, 0x14029073, u_write_sscratch
    /* S-mode may use its own CSRs */
    RUN_IN PRV_S, s_use_sscratch
    CHECK_NOTRAP 49, s-uses-sscratch
    CHECK 50, s-sscratch-value, t1, 0x5
    csrw sscratch, s0

    /* WARL read-backs */
    csrr s1, mtvec
    li t0, 0x80001001               /* vectored, base 0x80001000 */
    csrw mtvec, t0
    csrr t1, mtvec
    CHECK 51, mtvec-vectored, t1, 0x80001001
    li t0, 0x80001003               /* mode 3 is reserved: QEMU ignores the write */
    csrw mtvec, t0
    csrr t1, mtvec
    RECORD 52, mtvec-mode3, t1
    li t0, 0x80001002               /* mode 2 is reserved */
    csrw mtvec, t0
    csrr t1, mtvec
    RECORD 53, mtvec-mode2, t1
    csrw mtvec, s1
    csrr s1, stvec
    li t0, 0x80002001
    csrw stvec, t0
    csrr t1, stvec
    CHECK 54, stvec-vectored, t1, 0x80002001
    li t0, 0x80002003
    csrw stvec, t0
    csrr t1, stvec
    RECORD 55, stvec-mode3, t1
    csrw stvec, s1
    /* mepc/sepc: bit 0 is cleared on write with C (IALIGN = 16) */
    li t0, 0x80000102
    csrw mepc, t0
    csrr t1, mepc
    CHECK 56, mepc-2aligned, t1, 0x80000102
    li t0, 0x80000104
    csrw sepc, t0
    csrr t1, sepc
    CHECK 57, sepc, t1, 0x80000104
    /* mcause/scause hold interrupt bit + code */
    li t0, 0x8000000000000005
    csrw mcause, t0
    csrr t1, mcause
    CHECK 58, mcause-intr, t1, 0x8000000000000005
    li t0, 13
    csrw scause, t0
    csrr t1, scause
    CHECK 59, scause, t1, 13
    li t0, 0xdeadbeefcafe
    csrw mtval, t0
    csrr t1, mtval
    CHECK 60, mtval-rw, t1, 0xdeadbeefcafe
    csrw stval, t0
    csrr t1, stval
    CHECK 61, stval-rw, t1, 0xdeadbeefcafe
    /* satp: an unsupported mode leaves satp unchanged */
    csrw satp, zero
    li t0, 0x1000000000000000       /* mode 1: reserved */
    csrw satp, t0
    csrr t1, satp
    CHECK 62, satp-mode1-ignored, t1, 0
    li t0, 0x8000000000080000 | (0x1234 << 44)
    csrw satp, t0
    csrr t1, satp
    RECORD 63, satp-sv39-asid, t1
    csrw satp, zero
    /* medeleg/mideleg: writable bits as QEMU shows them (with H present) */
    li t0, -1
    csrw medeleg, t0
    csrr t1, medeleg
    RECORD 64, medeleg-ones, t1
    csrw medeleg, zero
    csrr t1, medeleg
    CHECK 65, medeleg-zero, t1, 0
    li t0, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
    csrw medeleg, t0
    csrr t1, medeleg
    CHECKR 66, medeleg-std, t1, t0
    csrw medeleg, zero
    li t0, -1
    csrw mideleg, t0
    csrr t1, mideleg
    RECORD 67, mideleg-ones, t1
    csrw mideleg, zero
    csrr t1, mideleg
    RECORD 68, mideleg-zero, t1
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw mideleg, t0
    csrr t1, mideleg
    and t1, t1, t0
    CHECK 69, mideleg-s-bits, t1, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw mideleg, zero
    /* mie: writable bits */
    li t0, -1
    csrw mie, t0
    csrr t1, mie
    RECORD 70, mie-ones, t1
    li t0, MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP
    and t1, t1, t0
    CHECKR 71, mie-std, t1, t0
    csrw mie, zero
    /* sie is mie masked by mideleg */
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw mideleg, t0
    li t0, -1
    csrw sie, t0
    csrr t1, mie
    RECORD 72, mie-via-sie, t1
    csrr t1, sie
    RECORD 73, sie, t1
    csrw mie, zero
    csrw mideleg, zero
    csrr t1, sie
    CHECK 74, sie-undelegated, t1, 0

TEST_END

s_read_mstatus:
    csrr t1, mstatus
    RETURN_TO_M
s_read_mscratch:
    csrr t1, mscratch
    RETURN_TO_M
u_read_sstatus:
    csrr t1, sstatus
    RETURN_TO_M
u_write_sscratch:
    csrw sscratch, t0
    RETURN_TO_M
s_use_sscratch:
    csrwi sscratch, 5
    csrr t1, sscratch
    RETURN_TO_M
