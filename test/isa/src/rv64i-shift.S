/*
 * rv64i-shift: SLL/SRL/SRA (+I, +W, +IW) with shift amounts 0, 1, 31, 32, 63,
 * register amounts with high bits set (only the low 6 bits, or 5 for W forms,
 * are used), sign handling and sign extension of W results.
 */
#include "test.h"

TEST_BEGIN rv64i-shift

    /* SLL */
    TEST_RR 1, sll, 1, 0, 0x0000000000000001
    TEST_RR 2, sll, 1, 1, 0x0000000000000002
    TEST_RR 3, sll, 1, 31, 0x0000000080000000
    TEST_RR 4, sll, 1, 32, 0x0000000100000000
    TEST_RR 5, sll, 1, 63, 0x8000000000000000
    TEST_RR 6, sll, -1, 63, 0x8000000000000000
    TEST_RR 7, sll, 0x0123456789abcdef, 4, 0x123456789abcdef0
    TEST_RR 8, sll, 1, 64, 0x0000000000000001
    TEST_RR 9, sll, 1, 65, 0x0000000000000002
    TEST_RR 10, sll, 1, -1, 0x8000000000000000
    TEST_RR 11, sll, 0x21, 0xffffffffffffffc1, 0x0000000000000042
    /* SRL */
    TEST_RR 12, srl, 0x8000000000000000, 0, 0x8000000000000000
    TEST_RR 13, srl, 0x8000000000000000, 1, 0x4000000000000000
    TEST_RR 14, srl, 0x8000000000000000, 31, 0x0000000100000000
    TEST_RR 15, srl, 0x8000000000000000, 32, 0x0000000080000000
    TEST_RR 16, srl, 0x8000000000000000, 63, 0x0000000000000001
    TEST_RR 17, srl, -1, 63, 0x0000000000000001
    TEST_RR 18, srl, -1, 64, 0xffffffffffffffff
    TEST_RR 19, srl, 0x0123456789abcdef, 0x44, 0x00123456789abcde
    /* SRA */
    TEST_RR 20, sra, 0x8000000000000000, 0, 0x8000000000000000
    TEST_RR 21, sra, 0x8000000000000000, 1, 0xc000000000000000
    TEST_RR 22, sra, 0x8000000000000000, 31, 0xffffffff00000000
    TEST_RR 23, sra, 0x8000000000000000, 32, 0xffffffff80000000
    TEST_RR 24, sra, 0x8000000000000000, 63, 0xffffffffffffffff
    TEST_RR 25, sra, 0x7fffffffffffffff, 63, 0x0000000000000000
    TEST_RR 26, sra, 0x7fffffffffffffff, 62, 0x0000000000000001
    TEST_RR 27, sra, -1, 17, 0xffffffffffffffff
    TEST_RR 28, sra, 0x80000000, 31, 0x0000000000000001
    TEST_RR 29, sra, 0x8000000000000000, 0x7f, 0xffffffffffffffff
    /* immediate forms */
    TEST_RI 30, slli, 1, 0, 0x0000000000000001
    TEST_RI 31, slli, 1, 31, 0x0000000080000000
    TEST_RI 32, slli, 1, 32, 0x0000000100000000
    TEST_RI 33, slli, 1, 63, 0x8000000000000000
    TEST_RI 34, slli, 0xffffffff, 32, 0xffffffff00000000
    TEST_RI 35, srli, -1, 0, 0xffffffffffffffff
    TEST_RI 36, srli, -1, 1, 0x7fffffffffffffff
    TEST_RI 37, srli, -1, 31, 0x00000001ffffffff
    TEST_RI 38, srli, -1, 32, 0x00000000ffffffff
    TEST_RI 39, srli, -1, 63, 0x0000000000000001
    TEST_RI 40, srai, 0x8000000000000000, 0, 0x8000000000000000
    TEST_RI 41, srai, 0x8000000000000000, 1, 0xc000000000000000
    TEST_RI 42, srai, 0x8000000000000000, 31, 0xffffffff00000000
    TEST_RI 43, srai, 0x8000000000000000, 32, 0xffffffff80000000
    TEST_RI 44, srai, 0x8000000000000000, 63, 0xffffffffffffffff
    TEST_RI 45, srai, 0x4000000000000000, 62, 0x0000000000000001
    TEST_RI 46, srai, 0x00000000ffffffff, 31, 0x0000000000000001
    /* SLLW / SRLW / SRAW: low 5 bits of rs2, 32-bit result sign-extended */
    TEST_RR 47, sllw, 1, 0, 0x0000000000000001
    TEST_RR 48, sllw, 1, 31, 0xffffffff80000000
    TEST_RR 49, sllw, 1, 32, 0x0000000000000001
    TEST_RR 50, sllw, 1, 63, 0xffffffff80000000
    TEST_RR 51, sllw, 0xffffffff00000001, 1, 0x0000000000000002
    TEST_RR 52, sllw, 0x12345678, 4, 0x0000000023456780
    TEST_RR 53, sllw, 0x7fffffff, 1, 0xfffffffffffffffe
    TEST_RR 54, srlw, 0xffffffff80000000, 0, 0xffffffff80000000
    TEST_RR 55, srlw, 0xffffffff80000000, 1, 0x0000000040000000
    TEST_RR 56, srlw, 0xffffffff80000000, 31, 0x0000000000000001
    TEST_RR 57, srlw, 0xffffffff80000000, 32, 0xffffffff80000000
    TEST_RR 58, srlw, 0x00000000ffffffff, 0, 0xffffffffffffffff
    TEST_RR 59, srlw, 0x12345678ffffffff, 4, 0x000000000fffffff
    TEST_RR 60, sraw, 0x80000000, 0, 0xffffffff80000000
    TEST_RR 61, sraw, 0x80000000, 1, 0xffffffffc0000000
    TEST_RR 62, sraw, 0x80000000, 31, 0xffffffffffffffff
    TEST_RR 63, sraw, 0x80000000, 32, 0xffffffff80000000
    TEST_RR 64, sraw, 0x7fffffff, 31, 0x0000000000000000
    TEST_RR 65, sraw, 0xffffffff7fffffff, 30, 0x0000000000000001
    TEST_RR 66, sraw, 0x00000000ffff0000, 8, 0xffffffffffffff00
    TEST_RI 67, slliw, 1, 0, 0x0000000000000001
    TEST_RI 68, slliw, 1, 31, 0xffffffff80000000
    TEST_RI 69, slliw, 0x00000000ffffffff, 0, 0xffffffffffffffff
    TEST_RI 70, slliw, 0x0000000180000000, 1, 0x0000000000000000
    TEST_RI 71, srliw, 0xffffffff80000000, 0, 0xffffffff80000000
    TEST_RI 72, srliw, 0xffffffff80000000, 1, 0x0000000040000000
    TEST_RI 73, srliw, 0xffffffff80000000, 31, 0x0000000000000001
    TEST_RI 74, srliw, 0x00000000fffffffe, 0, 0xfffffffffffffffe
    TEST_RI 75, sraiw, 0x80000000, 0, 0xffffffff80000000
    TEST_RI 76, sraiw, 0x80000000, 1, 0xffffffffc0000000
    TEST_RI 77, sraiw, 0x80000000, 31, 0xffffffffffffffff
    TEST_RI 78, sraiw, 0x123456787fffffff, 31, 0x0000000000000000
    TEST_RI 79, sraiw, 0xabcdef0012345678, 8, 0x0000000000123456

    /* rd = rs1 = rs2: the amount is the (old) value itself */
    li t1, 3
    sll t1, t1, t1
    CHECK 80, sll-same, t1, 24
    li t1, 0x8000000000000021
    sra t1, t1, t1
    CHECK 81, sra-same, t1, 0xffffffffc0000000
    li t1, 0x21
    srlw t1, t1, t1
    CHECK 82, srlw-same, t1, 0x10
    /* shift into x0 */
    li t1, 1
    slli x0, t1, 5
    sll x0, t1, t1
    CHECK 83, sll-x0, x0, 0

TEST_END
