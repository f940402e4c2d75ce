/*
 * rv64m: MUL/MULH/MULHSU/MULHU/MULW and DIV/DIVU/REM/REMU and their W forms,
 * with signs, INT_MIN/INT_MAX, divide by zero (quotient all ones, remainder
 * = dividend) and signed overflow (INT_MIN / -1 = INT_MIN, remainder 0).
 */
#include "test.h"

TEST_BEGIN rv64m

    TEST_RR 1, mul, 0, 0, 0x0000000000000000
    TEST_RR 2, mul, 1, -1, 0xffffffffffffffff
    TEST_RR 3, mul, -1, -1, 0x0000000000000001
    TEST_RR 4, mul, 7, 6, 0x000000000000002a
    TEST_RR 5, mul, 0x8000000000000000, -1, 0x8000000000000000
    TEST_RR 6, mul, 0x7fffffffffffffff, 2, 0xfffffffffffffffe
    TEST_RR 7, mul, 0x100000000, 0x100000000, 0x0000000000000000
    TEST_RR 8, mul, 0x123456789abcdef0, 0x0fedcba987654321, 0x2236d88fe5618cf0
    TEST_RR 9, mulh, 0, 0, 0x0000000000000000
    TEST_RR 10, mulh, -1, -1, 0x0000000000000000
    TEST_RR 11, mulh, -1, 1, 0xffffffffffffffff
    TEST_RR 12, mulh, 0x8000000000000000, 0x8000000000000000, 0x4000000000000000
    TEST_RR 13, mulh, 0x8000000000000000, 0x7fffffffffffffff, 0xc000000000000000
    TEST_RR 14, mulh, 0x7fffffffffffffff, 0x7fffffffffffffff, 0x3fffffffffffffff
    TEST_RR 15, mulh, 0x8000000000000000, -1, 0x0000000000000000
    TEST_RR 16, mulh, 0x123456789abcdef0, 0xfedcba9876543210, 0xffeb49923cc09532
    TEST_RR 17, mulhsu, -1, -1, 0xffffffffffffffff
    TEST_RR 18, mulhsu, 1, -1, 0x0000000000000000
    TEST_RR 19, mulhsu, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
    TEST_RR 20, mulhsu, 0x7fffffffffffffff, 0xffffffffffffffff, 0x7ffffffffffffffe
    TEST_RR 21, mulhsu, -2, 0x8000000000000000, 0xffffffffffffffff
    TEST_RR 22, mulhsu, 0x123456789abcdef0, 0xfedcba9876543210, 0x121fa00ad77d7422
    TEST_RR 23, mulhu, -1, -1, 0xfffffffffffffffe
    TEST_RR 24, mulhu, 1, -1, 0x0000000000000000
    TEST_RR 25, mulhu, 0x8000000000000000, 0x8000000000000000, 0x4000000000000000
    TEST_RR 26, mulhu, 0x8000000000000000, 2, 0x0000000000000001
    TEST_RR 27, mulhu, 0x123456789abcdef0, 0xfedcba9876543210, 0x121fa00ad77d7422
    TEST_RR 28, mulw, 0x7fffffff, 2, 0xfffffffffffffffe
    TEST_RR 29, mulw, 0x10000, 0x10000, 0x0000000000000000
    TEST_RR 30, mulw, 0x8000, 0x10000, 0xffffffff80000000
    TEST_RR 31, mulw, -1, -1, 0x0000000000000001
    TEST_RR 32, mulw, 0x80000000, -1, 0xffffffff80000000
    TEST_RR 33, mulw, 0xabcdef0000000003, 0x1234567800000005, 0x000000000000000f
    TEST_RR 34, mulw, 0x12345678, 0x9abcdef0, 0x00000000242d2080

    TEST_RR 35, div, 20, 6, 0x0000000000000003
    TEST_RR 36, div, -20, 6, 0xfffffffffffffffd
    TEST_RR 37, div, 20, -6, 0xfffffffffffffffd
    TEST_RR 38, div, -20, -6, 0x0000000000000003
    TEST_RR 39, div, -7, 2, 0xfffffffffffffffd
    TEST_RR 40, div, 0, 5, 0x0000000000000000
    TEST_RR 41, div, 1, 0, 0xffffffffffffffff
    TEST_RR 42, div, 0, 0, 0xffffffffffffffff
    TEST_RR 43, div, 0x8000000000000000, 0, 0xffffffffffffffff
    TEST_RR 44, div, 0x8000000000000000, -1, 0x8000000000000000
    TEST_RR 45, div, 0x8000000000000000, 1, 0x8000000000000000
    TEST_RR 46, div, 0x8000000000000000, 2, 0xc000000000000000
    TEST_RR 47, div, 0x7fffffffffffffff, -1, 0x8000000000000001
    TEST_RR 48, divu, 20, 6, 0x0000000000000003
    TEST_RR 49, divu, -20, 6, 0x2aaaaaaaaaaaaaa7
    TEST_RR 50, divu, 1, 0, 0xffffffffffffffff
    TEST_RR 51, divu, -1, 0, 0xffffffffffffffff
    TEST_RR 52, divu, 0x8000000000000000, -1, 0x0000000000000000
    TEST_RR 53, divu, -1, -1, 0x0000000000000001
    TEST_RR 54, divu, -1, 1, 0xffffffffffffffff
    TEST_RR 55, rem, 20, 6, 0x0000000000000002
    TEST_RR 56, rem, -20, 6, 0xfffffffffffffffe
    TEST_RR 57, rem, 20, -6, 0x0000000000000002
    TEST_RR 58, rem, -20, -6, 0xfffffffffffffffe
    TEST_RR 59, rem, -7, 2, 0xffffffffffffffff
    TEST_RR 60, rem, 7, 0, 0x0000000000000007
    TEST_RR 61, rem, -7, 0, 0xfffffffffffffff9
    TEST_RR 62, rem, 0x8000000000000000, -1, 0x0000000000000000
    TEST_RR 63, rem, 0x8000000000000000, 0, 0x8000000000000000
    TEST_RR 64, rem, 0x8000000000000000, 3, 0xfffffffffffffffe
    TEST_RR 65, remu, 20, 6, 0x0000000000000002
    TEST_RR 66, remu, -20, 6, 0x0000000000000002
    TEST_RR 67, remu, 7, 0, 0x0000000000000007
    TEST_RR 68, remu, -1, 0, 0xffffffffffffffff
    TEST_RR 69, remu, 0x8000000000000000, -1, 0x8000000000000000
    TEST_RR 70, remu, -1, 0x10, 0x000000000000000f

    TEST_RR 71, divw, 20, 6, 0x0000000000000003
    TEST_RR 72, divw, -20, 6, 0xfffffffffffffffd
    TEST_RR 73, divw, 20, -6, 0xfffffffffffffffd
    TEST_RR 74, divw, 1, 0, 0xffffffffffffffff
    TEST_RR 75, divw, 0x80000000, -1, 0xffffffff80000000
    TEST_RR 76, divw, 0x80000000, 0, 0xffffffffffffffff
    TEST_RR 77, divw, 0xffffffff80000000, 1, 0xffffffff80000000
    TEST_RR 78, divw, 0x1234567800000014, 0xfffffffa00000006, 0x0000000000000003
    TEST_RR 79, divw, 0x0000000100000000, 2, 0x0000000000000000
    TEST_RR 80, divuw, 20, 6, 0x0000000000000003
    TEST_RR 81, divuw, 0xffffffff, 1, 0xffffffffffffffff
    TEST_RR 82, divuw, 0xffffffff, 2, 0x000000007fffffff
    TEST_RR 83, divuw, 0x80000000, 0, 0xffffffffffffffff
    TEST_RR 84, divuw, 0, 0, 0xffffffffffffffff
    TEST_RR 85, divuw, 0xabcdef0080000000, 0x1111111100000001, 0xffffffff80000000
    TEST_RR 86, divuw, 7, 0x100000000, 0xffffffffffffffff
    TEST_RR 87, remw, 20, 6, 0x0000000000000002
    TEST_RR 88, remw, -20, 6, 0xfffffffffffffffe
    TEST_RR 89, remw, 20, -6, 0x0000000000000002
    TEST_RR 90, remw, 0x80000000, -1, 0x0000000000000000
    TEST_RR 91, remw, 0x80000000, 0, 0xffffffff80000000
    TEST_RR 92, remw, 0x7fffffff, 0, 0x000000007fffffff
    TEST_RR 93, remw, 0x12345678fffffff9, 0x0000000100000002, 0xffffffffffffffff
    TEST_RR 94, remw, 5, 0x100000000, 0x0000000000000005
    TEST_RR 95, remuw, 20, 6, 0x0000000000000002
    TEST_RR 96, remuw, 0xffffffff, 0x10, 0x000000000000000f
    TEST_RR 97, remuw, 0x80000000, 0, 0xffffffff80000000
    TEST_RR 98, remuw, 0x7fffffff, 0, 0x000000007fffffff
    TEST_RR 99, remuw, 0xfffffffffffffffe, 0xffffffff, 0xfffffffffffffffe
    TEST_RR 100, remuw, 0x100000005, 0x100000000, 0x0000000000000005

    /* rd = rs1 = rs2 and x0 destination */
    li t1, 0x80000000
    mul t1, t1, t1
    CHECK 101, mul-same, t1, 0x4000000000000000
    li t1, -9
    div t1, t1, t1
    CHECK 102, div-same, t1, 1
    li t1, 0
    divu t1, t1, t1
    CHECK 103, divu0-same, t1, -1
    li t1, 5
    li t2, 0
    div x0, t1, t2
    rem x0, t1, t2
    CHECK 104, div-x0, x0, 0
    /* mul followed by mulh on the same operands (fused sequence) */
    li t1, 0x123456789abcdef1
    li t2, 0x0fedcba987654321
    mulh t4, t1, t2
    mul t5, t1, t2
    CHECK 105, mulh-pair, t4, 0x0121fa00ad77d742
    CHECK 106, mul-pair, t5, 0x3224a4396cc6d011

TEST_END
