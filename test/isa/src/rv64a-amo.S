/*
 * rv64a-amo: every AMO in .W and .D form: the old value returned in rd
 * (sign-extended for .W), the value left in memory (the upper word is
 * untouched by .W), signed/unsigned min/max, aq/rl variants, rd = x0,
 * rd = rs2.
 */
#include "test.h"

/* mem = init; rd = amo(mem, src); check rd and the whole dword in memory. */
.macro TEST_AMO num, op, init, src, exprd, expmem
    la t1, amo_word
    li t2, \init
    sd t2, 0(t1)
    li t2, \src
    \op t3, t2, (t1)
    ld t4, 0(t1)
    CHECK \num, "\op", t3, \exprd
    CHECK \num, "\op-mem", t4, \expmem
.endm

TEST_BEGIN rv64a-amo

    TEST_AMO 1, amoswap.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 2, amoswap.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x55555555ffffffff
    TEST_AMO 3, amoswap.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x1234567800000001
    TEST_AMO 4, amoswap.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef7fffffff
    TEST_AMO 5, amoadd.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 6, amoadd.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x5555555500000000
    TEST_AMO 7, amoadd.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x1234567880000000
    TEST_AMO 8, amoadd.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeefffffffff
    TEST_AMO 9, amoadd.w, 0x00000000ffffffff, 0x1234567800000000, 0xffffffffffffffff, 0x00000000ffffffff
    TEST_AMO 10, amoadd.w, 0xffffffff12345678, 0xfedcba9887654321, 0x0000000012345678, 0xffffffff99999999
    TEST_AMO 11, amoxor.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 12, amoxor.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x55555555fffffffe
    TEST_AMO 13, amoxor.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x123456787ffffffe
    TEST_AMO 14, amoxor.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeefffffffff
    TEST_AMO 15, amoand.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 16, amoand.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x5555555500000001
    TEST_AMO 17, amoand.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x1234567800000001
    TEST_AMO 18, amoand.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef00000000
    TEST_AMO 19, amoor.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 20, amoor.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x55555555ffffffff
    TEST_AMO 21, amoor.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x123456787fffffff
    TEST_AMO 22, amoor.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeefffffffff
    TEST_AMO 23, amomin.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 24, amomin.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x55555555ffffffff
    TEST_AMO 25, amomin.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x1234567800000001
    TEST_AMO 26, amomin.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef80000000
    TEST_AMO 27, amomin.w, 0x00000000ffffffff, 0x1234567800000000, 0xffffffffffffffff, 0x00000000ffffffff
    TEST_AMO 28, amomin.w, 0xffffffff12345678, 0xfedcba9887654321, 0x0000000012345678, 0xffffffff87654321
    TEST_AMO 29, amomax.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 30, amomax.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x5555555500000001
    TEST_AMO 31, amomax.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x123456787fffffff
    TEST_AMO 32, amomax.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef7fffffff
    TEST_AMO 33, amomax.w, 0x00000000ffffffff, 0x1234567800000000, 0xffffffffffffffff, 0x0000000000000000
    TEST_AMO 34, amomax.w, 0xffffffff12345678, 0xfedcba9887654321, 0x0000000012345678, 0xffffffff12345678
    TEST_AMO 35, amominu.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 36, amominu.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x5555555500000001
    TEST_AMO 37, amominu.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x1234567800000001
    TEST_AMO 38, amominu.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef7fffffff
    TEST_AMO 39, amominu.w, 0x00000000ffffffff, 0x1234567800000000, 0xffffffffffffffff, 0x0000000000000000
    TEST_AMO 40, amominu.w, 0xffffffff12345678, 0xfedcba9887654321, 0x0000000012345678, 0xffffffff12345678
    TEST_AMO 41, amomaxu.w, 0xaaaaaaaa00000000, 0x0000000000000000, 0x0000000000000000, 0xaaaaaaaa00000000
    TEST_AMO 42, amomaxu.w, 0x5555555500000001, 0xffffffffffffffff, 0x0000000000000001, 0x55555555ffffffff
    TEST_AMO 43, amomaxu.w, 0x123456787fffffff, 0x0000000000000001, 0x000000007fffffff, 0x123456787fffffff
    TEST_AMO 44, amomaxu.w, 0xdeadbeef80000000, 0x000000007fffffff, 0xffffffff80000000, 0xdeadbeef80000000
    TEST_AMO 45, amomaxu.w, 0x00000000ffffffff, 0x1234567800000000, 0xffffffffffffffff, 0x00000000ffffffff
    TEST_AMO 46, amomaxu.w, 0xffffffff12345678, 0xfedcba9887654321, 0x0000000012345678, 0xffffffff87654321
    TEST_AMO 47, amoswap.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 48, amoswap.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff
    TEST_AMO 49, amoswap.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x0000000000000001
    TEST_AMO 50, amoswap.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
    TEST_AMO 51, amoadd.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 52, amoadd.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0x0000000000000000
    TEST_AMO 53, amoadd.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x8000000000000000
    TEST_AMO 54, amoadd.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
    TEST_AMO 55, amoadd.d, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff, 0xffffffffffffffff
    TEST_AMO 56, amoadd.d, 0x123456789abcdef0, 0x0fedcba987654321, 0x123456789abcdef0, 0x2222222222222211
    TEST_AMO 57, amoxor.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 58, amoxor.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xfffffffffffffffe
    TEST_AMO 59, amoxor.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x7ffffffffffffffe
    TEST_AMO 60, amoxor.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
    TEST_AMO 61, amoand.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 62, amoand.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0x0000000000000001
    TEST_AMO 63, amoand.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x0000000000000001
    TEST_AMO 64, amoand.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x0000000000000000
    TEST_AMO 65, amoor.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 66, amoor.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff
    TEST_AMO 67, amoor.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x7fffffffffffffff
    TEST_AMO 68, amoor.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff
    TEST_AMO 69, amomin.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 70, amomin.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff
    TEST_AMO 71, amomin.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x0000000000000001
    TEST_AMO 72, amomin.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000000
    TEST_AMO 73, amomin.d, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff, 0xffffffffffffffff
    TEST_AMO 74, amomin.d, 0x123456789abcdef0, 0x0fedcba987654321, 0x123456789abcdef0, 0x0fedcba987654321
    TEST_AMO 75, amomax.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 76, amomax.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0x0000000000000001
    TEST_AMO 77, amomax.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x7fffffffffffffff
    TEST_AMO 78, amomax.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
    TEST_AMO 79, amomax.d, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff, 0x0000000000000000
    TEST_AMO 80, amomax.d, 0x123456789abcdef0, 0x0fedcba987654321, 0x123456789abcdef0, 0x123456789abcdef0
    TEST_AMO 81, amominu.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 82, amominu.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0x0000000000000001
    TEST_AMO 83, amominu.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x0000000000000001
    TEST_AMO 84, amominu.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
    TEST_AMO 85, amominu.d, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff, 0x0000000000000000
    TEST_AMO 86, amominu.d, 0x123456789abcdef0, 0x0fedcba987654321, 0x123456789abcdef0, 0x0fedcba987654321
    TEST_AMO 87, amomaxu.d, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000
    TEST_AMO 88, amomaxu.d, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff
    TEST_AMO 89, amomaxu.d, 0x7fffffffffffffff, 0x0000000000000001, 0x7fffffffffffffff, 0x7fffffffffffffff
    TEST_AMO 90, amomaxu.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000000
    TEST_AMO 91, amomaxu.d, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff, 0xffffffffffffffff
    TEST_AMO 92, amomaxu.d, 0x123456789abcdef0, 0x0fedcba987654321, 0x123456789abcdef0, 0x123456789abcdef0

    /* ordering bits do not change the result */
    TEST_AMO 93, amoadd.w.aq, 1, 2, 1, 3
    TEST_AMO 94, amoadd.w.rl, 1, 2, 1, 3
    TEST_AMO 95, amoadd.w.aqrl, 1, 2, 1, 3
    TEST_AMO 96, amoswap.d.aq, 5, 6, 5, 6
    TEST_AMO 97, amoswap.d.rl, 5, 6, 5, 6
    TEST_AMO 98, amoor.d.aqrl, 5, 6, 5, 7
    /* .W on the upper word of a dword */
    la t1, amo_word
    li t2, 0x7fffffff00000005
    sd t2, 0(t1)
    li t2, 1
    addi t5, t1, 4
    amoadd.w t3, t2, (t5)
    CHECK 99, amoadd.w-hi, t3, 0x7fffffff
    ld t4, 0(t1)
    CHECK 100, amoadd.w-hi-mem, t4, 0x8000000000000005
    /* rd = x0: memory is still updated */
    la t1, amo_word
    li t2, 10
    sd t2, 0(t1)
    li t2, 7
    amoadd.d x0, t2, (t1)
    ld t4, 0(t1)
    CHECK 101, amoadd.d-x0, t4, 17
    CHECK 102, amoadd.d-x0-zero, x0, 0
    /* rd = rs2: rd gets the old value, memory gets the old rs2 */
    li t2, 0x99
    amoswap.d t2, t2, (t1)
    CHECK 103, amoswap-rd-eq-rs2, t2, 17
    ld t4, 0(t1)
    CHECK 104, amoswap-rd-eq-rs2-mem, t4, 0x99
    /* rs2 = x0 */
    amoswap.w t3, x0, (t1)
    CHECK 105, amoswap.w-x0src, t3, 0x99
    ld t4, 0(t1)
    CHECK 106, amoswap.w-x0src-mem, t4, 0
    /* sequence of AMOs on one location */
    la t1, amo_word
    sd x0, 0(t1)
    li t2, 1
    li t5, 100
1:  amoadd.d t3, t2, (t1)
    addi t5, t5, -1
    bnez t5, 1b
    ld t4, 0(t1)
    CHECK 107, amoadd-loop, t4, 100
    CHECK 108, amoadd-loop-last, t3, 99

TEST_END

    .data
    .align 4
amo_word: .dword 0, 0
