/*
 * rv64i-alu: register-register and register-immediate arithmetic/logic,
 * W forms, LUI/AUIPC sign extension, x0 as destination, rd = rs1 = rs2.
 */
#include "test.h"

TEST_BEGIN rv64i-alu

    /* ADD */
    TEST_RR 1, add, 0, 0, 0x0000000000000000
    TEST_RR 2, add, 1, 1, 0x0000000000000002
    TEST_RR 3, add, 3, 7, 0x000000000000000a
    TEST_RR 4, add, -1, 1, 0x0000000000000000
    TEST_RR 5, add, -1, -1, 0xfffffffffffffffe
    TEST_RR 6, add, 0x7fffffffffffffff, 1, 0x8000000000000000
    TEST_RR 7, add, 0x8000000000000000, -1, 0x7fffffffffffffff
    TEST_RR 8, add, 0x8000000000000000, 0x8000000000000000, 0x0000000000000000
    TEST_RR 9, add, 0x7fffffff, 1, 0x0000000080000000
    TEST_RR 10, add, 0xffffffff, 1, 0x0000000100000000
    TEST_RR 11, add, 0x123456789abcdef0, 0x0fedcba987654321, 0x2222222222222211
    /* SUB */
    TEST_RR 12, sub, 0, 0, 0x0000000000000000
    TEST_RR 13, sub, 0, 1, 0xffffffffffffffff
    TEST_RR 14, sub, 1, -1, 0x0000000000000002
    TEST_RR 15, sub, 0x8000000000000000, 1, 0x7fffffffffffffff
    TEST_RR 16, sub, 0x7fffffffffffffff, -1, 0x8000000000000000
    TEST_RR 17, sub, 0, 0x8000000000000000, 0x8000000000000000
    TEST_RR 18, sub, 0x100000000, 1, 0x00000000ffffffff
    /* ADDI: immediate is sign-extended from 12 bits */
    TEST_RI 19, addi, 0, 0, 0x0000000000000000
    TEST_RI 20, addi, 1, -1, 0x0000000000000000
    TEST_RI 21, addi, 0, 2047, 0x00000000000007ff
    TEST_RI 22, addi, 0, -2048, 0xfffffffffffff800
    TEST_RI 23, addi, 0x7fffffffffffffff, 1, 0x8000000000000000
    TEST_RI 24, addi, 0x8000000000000000, -1, 0x7fffffffffffffff
    TEST_RI 25, addi, 0xfffffffffffff800, 2047, 0xffffffffffffffff
    /* ADDW / SUBW / ADDIW: 32-bit result, sign-extended; upper input bits ignored */
    TEST_RR 26, addw, 0, 0, 0x0000000000000000
    TEST_RR 27, addw, 0x7fffffff, 1, 0xffffffff80000000
    TEST_RR 28, addw, 0xffffffff, 1, 0x0000000000000000
    TEST_RR 29, addw, 0x80000000, 0x80000000, 0x0000000000000000
    TEST_RR 30, addw, 0x123456787fffffff, 0xabcdef0000000000, 0x000000007fffffff
    TEST_RR 31, addw, -1, -1, 0xfffffffffffffffe
    TEST_RR 32, subw, 0, 1, 0xffffffffffffffff
    TEST_RR 33, subw, 0x80000000, 1, 0x000000007fffffff
    TEST_RR 34, subw, 0x7fffffff, -1, 0xffffffff80000000
    TEST_RR 35, subw, 0xffffffff00000000, 0, 0x0000000000000000
    TEST_RI 36, addiw, 0x7fffffff, 1, 0xffffffff80000000
    TEST_RI 37, addiw, 0xffffffff80000000, -1, 0x000000007fffffff
    TEST_RI 38, addiw, 0x00000000ffffffff, 0, 0xffffffffffffffff
    TEST_RI 39, addiw, 0x1234567880000000, 0, 0xffffffff80000000
    TEST_RI 40, addiw, 0, -2048, 0xfffffffffffff800
    TEST_RI 41, addiw, 0, 2047, 0x00000000000007ff
    /* SLT / SLTU / SLTI / SLTIU */
    TEST_RR 42, slt, 0, 0, 0x0000000000000000
    TEST_RR 43, slt, -1, 0, 0x0000000000000001
    TEST_RR 44, slt, 0, -1, 0x0000000000000000
    TEST_RR 45, slt, 0x8000000000000000, 0x7fffffffffffffff, 0x0000000000000001
    TEST_RR 46, slt, 0x7fffffffffffffff, 0x8000000000000000, 0x0000000000000000
    TEST_RR 47, sltu, 0, 0, 0x0000000000000000
    TEST_RR 48, sltu, 0, -1, 0x0000000000000001
    TEST_RR 49, sltu, -1, 0, 0x0000000000000000
    TEST_RR 50, sltu, 0x7fffffffffffffff, 0x8000000000000000, 0x0000000000000001
    TEST_RR 51, sltu, 1, 2, 0x0000000000000001
    TEST_RI 52, slti, -1, 0, 0x0000000000000001
    TEST_RI 53, slti, 0, -1, 0x0000000000000000
    TEST_RI 54, slti, -2049, -2048, 0x0000000000000001
    TEST_RI 55, slti, 2047, 2047, 0x0000000000000000
    TEST_RI 56, sltiu, 0, 1, 0x0000000000000001
    TEST_RI 57, sltiu, 1, 1, 0x0000000000000000
    TEST_RI 58, sltiu, 0x7fffffffffffffff, -1, 0x0000000000000001
    TEST_RI 59, sltiu, -1, -1, 0x0000000000000000
    TEST_RI 60, sltiu, 0xfffffffffffff7ff, -2048, 0x0000000000000001
    /* AND / OR / XOR and immediates (sign-extended) */
    TEST_RR 61, and, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f000f000f000f00
    TEST_RR 62, and, -1, 0x8000000000000001, 0x8000000000000001
    TEST_RR 63, or, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xfff0fff0fff0fff0
    TEST_RR 64, or, 0, 0, 0x0000000000000000
    TEST_RR 65, xor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0
    TEST_RR 66, xor, -1, -1, 0x0000000000000000
    TEST_RI 67, andi, 0xff00ff00ff00ff00, -16, 0xff00ff00ff00ff00
    TEST_RI 68, andi, 0xff00ff00ff00ff00, 0x7f0, 0x0000000000000700
    TEST_RI 69, ori, 0x1234567800000000, -2048, 0xfffffffffffff800
    TEST_RI 70, ori, 0, 0x555, 0x0000000000000555
    TEST_RI 71, xori, 0x00ff00ff00ff00ff, -1, 0xff00ff00ff00ff00
    TEST_RI 72, xori, 0x00ff00ff00ff00ff, 0x0f0, 0x00ff00ff00ff000f

    /* LUI: 20-bit immediate << 12, sign-extended from bit 31 */
    lui t3, 0
    CHECK 73, lui, t3, 0
    lui t3, 0x7ffff
    CHECK 74, lui, t3, 0x7ffff000
    lui t3, 0x80000
    CHECK 75, lui, t3, 0xffffffff80000000
    lui t3, 0xfffff
    CHECK 76, lui, t3, 0xfffffffffffff000
    lui t3, 0x12345
    CHECK 77, lui, t3, 0x12345000
    lui t3, 0x80000
    addiw t3, t3, -1
    CHECK 78, lui+addiw, t3, 0x7fffffff

    /* AUIPC: pc + sign-extended (imm << 12) */
1:  auipc t3, 0
    la t4, 1b
    CHECKR 79, auipc0, t3, t4
1:  auipc t3, 1
    la t4, 1b
    li t5, 0x1000
    add t4, t4, t5
    CHECKR 80, auipc1, t3, t4
1:  auipc t3, 0xfffff
    la t4, 1b
    li t5, -0x1000
    add t4, t4, t5
    CHECKR 81, auipc-1, t3, t4
    /* the image is at 0x8000_0000: pc + 0xffffffff80000000 = pc - 0x80000000 */
1:  auipc t3, 0x80000
    la t4, 1b
    li t5, 0xffffffff80000000
    add t4, t4, t5
    CHECKR 82, auipc0x80000, t3, t4
1:  auipc t3, 0x7ffff
    la t4, 1b
    li t5, 0x7ffff000
    add t4, t4, t5
    CHECKR 83, auipc0x7ffff, t3, t4

    /* x0 as destination: writes are ignored */
    li t1, 5
    li t2, 7
    add x0, t1, t2
    CHECK 84, add-x0, x0, 0
    addi x0, x0, 1
    CHECK 85, addi-x0, x0, 0
    lui x0, 0x12345
    CHECK 86, lui-x0, x0, 0
    auipc x0, 1
    CHECK 87, auipc-x0, x0, 0
    addiw x0, t1, 1
    CHECK 88, addiw-x0, x0, 0
    xori x0, x0, -1
    CHECK 89, xori-x0, x0, 0
    /* x0 as source reads zero */
    li t1, 0x55
    add t3, x0, t1
    CHECK 90, add-x0src, t3, 0x55
    sub t3, x0, t1
    CHECK 91, sub-x0src, t3, -0x55
    sltu t3, x0, t1
    CHECK 92, snez, t3, 1
    sltu t3, x0, x0
    CHECK 93, snez0, t3, 0

    /* rd = rs1 = rs2 */
    li t1, 0x4000000000000001
    add t1, t1, t1
    CHECK 94, add-same, t1, 0x8000000000000002
    li t1, 0x1234
    sub t1, t1, t1
    CHECK 95, sub-same, t1, 0
    li t1, 0x1234
    xor t1, t1, t1
    CHECK 96, xor-same, t1, 0
    li t1, 0x7fffffff
    addw t1, t1, t1
    CHECK 97, addw-same, t1, 0xfffffffffffffffe
    li t1, 0x9
    addi t1, t1, -10
    CHECK 98, addi-same, t1, -1
    li t1, -5
    slt t1, t1, t1
    CHECK 99, slt-same, t1, 0

    /* Back-to-back dependencies (result forwarded to the next instruction) */
    li t1, 1
    add t2, t1, t1
    add t3, t2, t1
    sub t4, t3, t2
    sll t5, t3, t4
    CHECK 100, chain, t5, 6

    /* NOP and HINT encodings do nothing */
    li t1, 0x77
    nop
    addi x0, t1, 1
    add x0, t1, t1
    slli x0, t1, 3
    CHECK 101, hint, t1, 0x77

TEST_END
