/*
 * rv64i-branch: BEQ/BNE/BLT/BGE/BLTU/BGEU taken and not taken (signed and
 * unsigned corner values), forward and backward, JAL/JALR link values,
 * JALR clears bit 0 of the target, rd = rs1 for JALR, x0 as link register,
 * targets that are only 2-byte aligned (legal with C).
 */
#include "test.h"

/* t3 = 2 when taken, 1 when not. */
.macro TEST_BR num, op, v1, v2, exp
    li t1, \v1
    li t2, \v2
    li t3, 0
    \op t1, t2, .Ltaken\@
    li t3, 1
    j .Ldone\@
.Ltaken\@:
    li t3, 2
.Ldone\@:
    CHECK \num, "\op", t3, \exp
.endm

/* Backward branch: count iterations of a loop that ends when the branch falls through. */
.macro TEST_BR_BACK num, op, start, limit, exp
    li t1, \start
    li t2, \limit
    li t3, 0
.Lloop\@:
    addi t3, t3, 1
    addi t1, t1, 1
    \op t1, t2, .Lloop\@
    CHECK \num, "\op-back", t3, \exp
.endm

/* Same with the operands swapped: loop while op(limit, counter). */
.macro TEST_BR_BACK_REV num, op, start, limit, exp
    li t1, \start
    li t2, \limit
    li t3, 0
.Lloop\@:
    addi t3, t3, 1
    addi t1, t1, 1
    \op t2, t1, .Lloop\@
    CHECK \num, "\op-back-rev", t3, \exp
.endm

TEST_BEGIN rv64i-branch

    TEST_BR 1, beq, 0, 0, 2
    TEST_BR 2, beq, 1, 0, 1
    TEST_BR 3, beq, -1, -1, 2
    TEST_BR 4, beq, 0x8000000000000000, 0, 1
    TEST_BR 5, beq, 0x100000000, 0, 1
    TEST_BR 6, bne, 0, 0, 1
    TEST_BR 7, bne, 1, 0, 2
    TEST_BR 8, bne, 0x8000000000000000, 0, 2
    TEST_BR 9, bne, -1, -1, 1
    TEST_BR 10, blt, 0, 1, 2
    TEST_BR 11, blt, 1, 0, 1
    TEST_BR 12, blt, -1, 0, 2
    TEST_BR 13, blt, 0, -1, 1
    TEST_BR 14, blt, 0x8000000000000000, 0x7fffffffffffffff, 2
    TEST_BR 15, blt, 0x7fffffffffffffff, 0x8000000000000000, 1
    TEST_BR 16, blt, 5, 5, 1
    TEST_BR 17, blt, 0xffffffff, 0x100000000, 2
    TEST_BR 18, bge, 0, 1, 1
    TEST_BR 19, bge, 1, 0, 2
    TEST_BR 20, bge, 5, 5, 2
    TEST_BR 21, bge, -1, 0, 1
    TEST_BR 22, bge, 0x7fffffffffffffff, 0x8000000000000000, 2
    TEST_BR 23, bge, 0x8000000000000000, 0x8000000000000000, 2
    TEST_BR 24, bltu, 0, 1, 2
    TEST_BR 25, bltu, 1, 0, 1
    TEST_BR 26, bltu, 0, -1, 2
    TEST_BR 27, bltu, -1, 0, 1
    TEST_BR 28, bltu, 0x7fffffffffffffff, 0x8000000000000000, 2
    TEST_BR 29, bltu, 5, 5, 1
    TEST_BR 30, bgeu, 0, 1, 1
    TEST_BR 31, bgeu, -1, 0, 2
    TEST_BR 32, bgeu, 0, -1, 1
    TEST_BR 33, bgeu, 5, 5, 2
    TEST_BR 34, bgeu, 0x8000000000000000, 0x7fffffffffffffff, 2
    TEST_BR_BACK 35, bne, 0, 10, 10
    TEST_BR_BACK 36, blt, -5, 5, 10
    TEST_BR_BACK 37, bltu, 0, 3, 3
    TEST_BR_BACK_REV 38, bge, -3, 2, 6
    TEST_BR_BACK_REV 39, bgeu, 0, 1, 2
    TEST_BR_BACK 40, beq, 0, 1, 2

    /* Branch with x0 operands (beqz/bnez/bltz/bgez forms) */
    li t3, 0
    li t1, -3
    bltz t1, 1f
    li t3, 1
1:  CHECK 41, bltz, t3, 0
    li t3, 0
    bgez x0, 1f
    li t3, 1
1:  CHECK 42, bgez0, t3, 0
    li t3, 0
    bnez x0, 1f
    li t3, 1
1:  CHECK 43, bnez0, t3, 1

    /* Far branch targets (offset near +-4 KiB) */
    li t3, 0
    beq x0, x0, far_fwd
    li t3, 1
far_back_ret:
    CHECK 44, far, t3, 5

    /* JAL: link = pc + 4 */
1:  jal t0, 2f
    li t3, 99
2:  la t4, 1b
    addi t4, t4, 4
    CHECKR 45, jal-link, t0, t4
1:  jal ra, 2f
2:  la t4, 1b
    addi t4, t4, 4
    CHECKR 46, jal-ra, ra, t4
    /* JAL x0 (j) writes nothing */
    li t3, 0
    j 2f
    li t3, 1
2:  CHECK 47, jal-x0, t3, 0
    CHECK 48, jal-x0-zero, x0, 0
    /* JAL backward */
    li t3, 0
    j 3f
2:  addi t3, t3, 10
    j 4f
3:  addi t3, t3, 1
    jal t5, 2b
4:  CHECK 49, jal-back, t3, 11

    /* JALR: target = (rs1 + imm) & ~1, link = pc + 4 */
    la t1, 2f
1:  jalr t0, 0(t1)
    li t3, 99
2:  la t4, 1b
    addi t4, t4, 4
    CHECKR 50, jalr-link, t0, t4
    la t1, 2f - 8
    li t3, 0
    jalr t0, 8(t1)
    li t3, 1
2:  CHECK 51, jalr-imm, t3, 0
    la t1, 2f + 16
    li t3, 0
    jalr t0, -16(t1)
    li t3, 1
2:  CHECK 52, jalr-negimm, t3, 0
    /* odd target: bit 0 is cleared */
    la t1, 2f
    addi t1, t1, 1
    li t3, 0
    jalr t0, 0(t1)
    li t3, 1
2:  CHECK 53, jalr-odd, t3, 0
    la t1, 2f
    li t3, 0
    jalr t0, 1(t1)
    li t3, 1
2:  CHECK 54, jalr-odd-imm, t3, 0
    la t1, 2f
    addi t1, t1, 2
    li t3, 0
    jalr t0, -1(t1)         /* (2f + 1) & ~1 = 2f */
    li t3, 1
2:  CHECK 55, jalr-odd-neg, t3, 0
    /* rd = rs1: the target uses the old value */
    la t1, 2f
1:  jalr t1, 0(t1)
    li t3, 99
2:  la t4, 1b
    addi t4, t4, 4
    CHECKR 56, jalr-rd-eq-rs1, t1, t4
    /* jalr x0 (jr) */
    la t1, 2f
    li t3, 0
    jalr x0, 0(t1)
    li t3, 1
2:  CHECK 57, jalr-x0, t3, 0
    /* call / ret through ra */
    li t3, 0
    call sub_inc
    call sub_inc
    CHECK 58, call-ret, t3, 2

    /* 2-byte aligned targets are legal (C is implemented): no trap */
    TRAP_EXPECT 9f
    la t1, half_target
    li t3, 0
    jalr t0, 0(t1)
    CHECK 59, jalr-half-aligned, t3, 0x33
    CHECK_NOTRAP 60, jalr-half-notrap
    TRAP_EXPECT 9f
    li t3, 0
    jal t0, half_target
    CHECK 61, jal-half-aligned, t3, 0x33
    CHECK_NOTRAP 62, jal-half-notrap
    TRAP_EXPECT 9f
    li t3, 0
    beq x0, x0, half_branch
    li t3, 1
half_branch_ret:
    CHECK 63, br-half-aligned, t3, 0x44
    CHECK_NOTRAP 64, br-half-notrap
9:
TEST_END

sub_inc:
    addi t3, t3, 1
    ret

    .balign 4
    .hword 0x0001           /* c.nop: the next instruction is at 2 mod 4 */
half_target:
    li t3, 0x33
    jalr x0, 0(t0)
    .hword 0x0001
half_branch:
    li t3, 0x44
    j half_branch_ret

    .fill 1000, 4, 0x00000013   /* nops: put far_fwd about 4 KiB away */
far_fwd:
    addi t3, t3, 5
    beq x0, x0, far_back_ret
