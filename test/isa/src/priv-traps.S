/*
 * priv-traps: synchronous exceptions taken to M-mode: ECALL from U/S/M
 * (causes 8/9/11), EBREAK (cause 3; QEMU 7.2 writes mtval = 0), illegal
 * instructions (mtval = the instruction bits), privileged instructions in the
 * wrong mode, mepc/mtval/mstatus updates on trap entry, misaligned loads and
 * stores (QEMU -M spike performs them: no trap, in any mode), access faults
 * on unmapped physical addresses (causes 1/5/7, mtval = the address).
 */
#include "test.h"

/* insn must be an illegal instruction in M-mode; mtval = its bits */
.macro ILLEGAL num, name, insn
    TRAP_EXPECT .Lr\@
.Li\@:
    \insn
.Lr\@:
    la t5, .Li\@
    lwu t5, 0(t5)
    CHECK_TRAPR \num, "\name", CAUSE_ILLEGAL, t5, .Li\@
.endm

/* reg = field of the mstatus recorded at the last trap */
.macro TRAPPED_MSTATUS reg, shift, mask
    ld \reg, trap_mstatus
    srli \reg, \reg, \shift
    andi \reg, \reg, \mask
.endm

TEST_BEGIN priv-traps

    /* ---- ECALL ---- */
    TRAP_EXPECT 1f
2:  ecall
1:  CHECK_TRAP 1, ecall-m, CAUSE_ECALL_M, 0, 2b
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_ecall
1:  CHECK_TRAP 2, ecall-s, CAUSE_ECALL_S, 0, s_ecall
    TRAPPED_MSTATUS t1, 11, 3
    CHECK 3, ecall-s-mpp, t1, 1
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_ecall
1:  CHECK_TRAP 4, ecall-u, CAUSE_ECALL_U, 0, u_ecall
    TRAPPED_MSTATUS t1, 11, 3
    CHECK 5, ecall-u-mpp, t1, 0

    /* ---- trap entry: MPIE = old MIE, MIE = 0, MPP = old privilege ---- */
    li t0, MSTATUS_MIE
    csrs mstatus, t0            /* mie = 0: no interrupt can be taken */
    TRAP_EXPECT 1f
2:  ecall
1:  TRAPPED_MSTATUS t1, 3, 1
    CHECK 6, entry-mie-cleared, t1, 0
    TRAPPED_MSTATUS t1, 7, 1
    CHECK 7, entry-mpie-was-mie, t1, 1
    TRAPPED_MSTATUS t1, 11, 3
    CHECK 8, entry-mpp-m, t1, 3
    li t0, MSTATUS_MIE
    csrc mstatus, t0
    TRAP_EXPECT 1f
2:  ecall
1:  TRAPPED_MSTATUS t1, 7, 1
    CHECK 9, entry-mpie-was-0, t1, 0
    /* mcause of an exception has the interrupt bit clear */
    TRAP_EXPECT 1f
2:  ecall
1:  csrr t1, mcause
    CHECK 10, mcause-exception, t1, CAUSE_ECALL_M

    /* ---- EBREAK ---- */
    TRAP_EXPECT 1f
2:  ebreak
1:  CHECK_TRAP 11, ebreak-m, CAUSE_BREAKPOINT, 0, 2b
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_ebreak
1:  CHECK_TRAP 12, ebreak-s, CAUSE_BREAKPOINT, 0, s_ebreak
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_ebreak
1:  CHECK_TRAP 13, ebreak-u, CAUSE_BREAKPOINT, 0, u_ebreak

    /* ---- illegal instructions ---- */
    ILLEGAL 14, all-ones, ".word 0xffffffff"
    ILLEGAL 15, opcode-0x7f-48bit-space, ".word 0x0000007f"
    ILLEGAL 16, custom-0, ".word 0x0000000b"
    ILLEGAL 17, op-bad-funct7, ".word 0x40001033"        /* funct7 0100000 with funct3 001 (sll) */
    ILLEGAL 18, opimm-bad-shamt, ".word 0x80001013"      /* slli with imm[11:6] = 100000 */
    ILLEGAL 19, slliw-shamt5, ".word 0x0200101b"         /* slliw with shamt[5] = 1 */
    ILLEGAL 20, load-funct3-7, ".word 0x00007003"
    ILLEGAL 21, store-funct3-4, ".word 0x00004023"
    ILLEGAL 22, branch-funct3-2, ".word 0x00002063"
    ILLEGAL 23, jalr-funct3-1, ".word 0x00001067"
    ILLEGAL 24, amo-bad-funct5, ".word 0x2800202f"       /* funct5 00101 on .w */
    ILLEGAL 25, amo-funct3-1, ".word 0x0000102f"
    ILLEGAL 26, mret-bad-rs1, ".word 0x30208073"         /* mret with rs1 = x1 */
    ILLEGAL 27, system-funct3-4, ".word 0x00004073"
    ILLEGAL 28, fp-bad-fmt, ".word 0x06000053"           /* fadd with fmt = 11 (Q) */
    /* privileged instructions from lower modes */
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_mret
1:  CHECK_TRAP 29, mret-in-s, CAUSE_ILLEGAL, 0x30200073, s_mret
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_mret
1:  CHECK_TRAP 30, mret-in-u, CAUSE_ILLEGAL, 0x30200073, u_mret
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_sret
1:  CHECK_TRAP 31, sret-in-u, CAUSE_ILLEGAL, 0x10200073, u_sret
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_sfence
1:  CHECK_TRAP 32, sfence.vma-in-u, CAUSE_ILLEGAL, 0x12000073, u_sfence
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_wfi
    /* WFI in U-mode: the spec allows a bounded wait, QEMU traps at once */
1:  CHECK_TRAP 33, wfi-in-u, CAUSE_ILLEGAL, 0x10500073, u_wfi
    /* an illegal instruction in U-mode */
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_illegal
1:  CHECK_TRAP 34, illegal-in-u, CAUSE_ILLEGAL, 0xffffffff, u_illegal
    TRAPPED_MSTATUS t1, 11, 3
    CHECK 35, illegal-in-u-mpp, t1, 0
    /* the registers of the trapping context are kept, rd is not written */
    li t3, 0x1234
    TRAP_EXPECT 1f
    .word 0x00007e03            /* load funct3 7 with rd = t3 */
1:  CHECK 36, illegal-rd-kept, t3, 0x1234

    /* ---- misaligned loads and stores: QEMU -M spike performs them ---- */
    la s0, buf
    li t0, 0x1122334455667788
    sd t0, 0(s0)
    li t0, 0x99aabbccddeeff00
    sd t0, 8(s0)
    TRAP_EXPECT 9f
    ld t1, 1(s0)
    CHECK 37, ld+1, t1, 0x0011223344556677
    ld t1, 7(s0)
    CHECK 38, ld+7, t1, 0xaabbccddeeff0011
    lw t1, 2(s0)
    CHECK 39, lw+2, t1, 0x33445566
    lw t1, 6(s0)
    CHECK 40, lw+6, t1, 0xffffffffff001122
    lwu t1, 5(s0)
    CHECK 41, lwu+5, t1, 0x00112233
    lh t1, 7(s0)
    CHECK 42, lh+7, t1, 0x0011
    lhu t1, 15(s0)
    CHECK 43, lhu+15, t1, 0x0099
    lh t1, 9(s0)
    CHECK 44, lh+9, t1, 0xffffffffffffeeff
    li t0, 0x0102030405060708
    sd t0, 3(s0)
    ld t1, 0(s0)
    CHECK 45, sd+3-lo, t1, 0x0405060708667788
    ld t1, 8(s0)
    CHECK 46, sd+3-hi, t1, 0x99aabbccdd010203
    sw t0, 13(s0)
    ld t1, 8(s0)
    CHECK 47, sw+13, t1, 0x060708ccdd010203
    sh t0, 1(s0)
    ld t1, 0(s0)
    CHECK 48, sh+1, t1, 0x0405060708070888
    CHECK_NOTRAP 49, misaligned-m-no-trap
    /* FP loads/stores */
    TRAP_EXPECT 9f
    fld fa0, 4(s0)
    fmv.x.d t1, fa0
    CHECK 50, fld+4, t1, 0xdd01020304050607
    fsw fa0, 2(s0)
    lwu t1, 2(s0)
    CHECK 51, fsw+2, t1, 0x04050607
    CHECK_NOTRAP 52, misaligned-fp-no-trap
    /* in U-mode too */
    RUN_IN PRV_U, u_misaligned
    CHECK_NOTRAP 53, misaligned-u-no-trap
    CHECK 54, misaligned-u-value, t1, 0xccdd010203040504
9:

    /* ---- access faults on unmapped physical addresses ---- */
    li s1, 0
    TRAP_EXPECT 1f
2:  ld t1, 0(s1)
1:  CHECK_TRAP 55, load-unmapped-0, CAUSE_LOAD_ACCESS, 0, 2b
    li s1, 0x88000000           /* above QEMU spike's 128 MiB of RAM */
    TRAP_EXPECT 1f
2:  lw t1, 4(s1)
1:  CHECK_TRAP 56, load-above-ram, CAUSE_LOAD_ACCESS, 0x88000004, 2b
    li s1, 0x200000000
    TRAP_EXPECT 1f
2:  sd t1, 8(s1)
1:  CHECK_TRAP 57, store-unmapped-high, CAUSE_STORE_ACCESS, 0x200000008, 2b
    li s1, 0x88000000
    TRAP_EXPECT 1f
2:  sb t1, 0(s1)
1:  CHECK_TRAP 58, store-above-ram, CAUSE_STORE_ACCESS, 0x88000000, 2b
    TRAP_EXPECT 1f
2:  flw fa0, 0(s1)
1:  CHECK_TRAP 59, flw-above-ram, CAUSE_LOAD_ACCESS, 0x88000000, 2b
    /* the last bytes of RAM are fine */
    li s1, 0x88000000 - 8
    sd zero, 0(s1)
    ld t1, 0(s1)
    CHECK 60, last-dword-of-ram, t1, 0
    /* instruction fetch: mepc = mtval = the target, cause 1 */
    TRAP_EXPECT 1f
    li t0, 0x88000000
    jalr ra, 0(t0)
1:  ld t1, trap_cause
    CHECK 61, fetch-above-ram-cause, t1, CAUSE_FETCH_ACCESS
    ld t1, trap_tval
    CHECK 62, fetch-above-ram-tval, t1, 0x88000000
    ld t1, trap_epc
    CHECK 63, fetch-above-ram-epc, t1, 0x88000000
    TRAP_EXPECT 1f
    li t0, 0
    jalr ra, 0(t0)
1:  ld t1, trap_cause
    CHECK 64, fetch-0-cause, t1, CAUSE_FETCH_ACCESS
    ld t1, trap_tval
    CHECK 65, fetch-0-tval, t1, 0
    /* fetch fault from U-mode */
    TRAP_EXPECT 1f
    li a0, PRV_U
    li a1, 0x88000000
    j enter_mode
1:  ld t1, trap_cause
    CHECK 66, fetch-u-cause, t1, CAUSE_FETCH_ACCESS
    ld t1, trap_tval
    CHECK 67, fetch-u-tval, t1, 0x88000000
    TRAPPED_MSTATUS t1, 11, 3
    CHECK 68, fetch-u-mpp, t1, 0
    /* Not tested: a 4-byte instruction straddling the end of RAM; QEMU 7.2
     * aborts (translator_access assertion) instead of raising a fetch fault. */

TEST_END

s_ecall:    ecall
u_ecall:    ecall
s_ebreak:   ebreak
u_ebreak:   ebreak
s_mret:     mret
u_mret:     mret
u_sret:     sret
u_sfence:   sfence.vma
u_wfi:      wfi
u_illegal:  .word 0xffffffff
u_misaligned:
    fld fa0, 4(s0)
    ld t1, 5(s0)
    RETURN_TO_M

    .data
    .align 4
buf: .fill 8, 8, 0
