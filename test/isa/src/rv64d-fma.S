/*
 * rv64d-fma: double-precision FMADD/FMSUB/FNMADD/FNMSUB: one rounding (cases where
 * a*b+c differs from round(round(a*b)+c)), every rounding mode, signs of
 * zero results, invalid cases (inf*0 + qNaN raises NV), NaN inputs.
 * Expected values come from an exact rational model of IEEE 754 rounding.
 */
#include "test.h"

TEST_BEGIN rv64d-fma

    /* (1+2^-k)^2 - (1+2^-(k-1)) = 2^-2k exactly; rounding the product first would give 0 */
    FP_CASE 1, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0x00
    FP_CASE 2, "fmadd.d fa0, fa1, fa2, fa3, rtz", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0x00
    FP_CASE 3, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0x00
    FP_CASE 4, "fmadd.d fa0, fa1, fa2, fa3, rup", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0x00
    FP_CASE 5, "fmadd.d fa0, fa1, fa2, fa3, rmm", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0x3c90000000000000, 0x00
    /* same through fmsub */
    FP_CASE 6, "fmsub.d fa0, fa1, fa2, fa3, rne", 0x3ff0000002000000, 0x3ff0000002000000, 0x3ff0000004000000, 0x3c90000000000000, 0x00
    /* -(a*b) - c */
    FP_CASE 7, "fnmadd.d fa0, fa1, fa2, fa3, rne", 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0xbc90000000000000, 0x00
    /* -(a*b) + c */
    FP_CASE 8, "fnmsub.d fa0, fa1, fa2, fa3, rne", 0x3ff0000002000000, 0x3ff0000002000000, 0x3ff0000004000000, 0xbc90000000000000, 0x00
    /* 1*1 + half ulp: the tie rounds by mode */
    FP_CASE 9, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000000, 0x01
    FP_CASE 10, "fmadd.d fa0, fa1, fa2, fa3, rtz", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000000, 0x01
    FP_CASE 11, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000000, 0x01
    FP_CASE 12, "fmadd.d fa0, fa1, fa2, fa3, rup", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000001, 0x01
    FP_CASE 13, "fmadd.d fa0, fa1, fa2, fa3, rmm", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000001, 0x01
    FP_CASE 14, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3ff4cccccccccccd, 0x01
    FP_CASE 15, "fmadd.d fa0, fa1, fa2, fa3, rtz", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3ff4cccccccccccc, 0x01
    FP_CASE 16, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3ff4cccccccccccc, 0x01
    FP_CASE 17, "fmadd.d fa0, fa1, fa2, fa3, rup", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3ff4cccccccccccd, 0x01
    FP_CASE 18, "fmadd.d fa0, fa1, fa2, fa3, rmm", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3ff4cccccccccccd, 0x01
    FP_CASE 19, "fmsub.d fa0, fa1, fa2, fa3, rne", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbfe6666666666666, 0x01
    FP_CASE 20, "fmsub.d fa0, fa1, fa2, fa3, rtz", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbfe6666666666666, 0x01
    FP_CASE 21, "fmsub.d fa0, fa1, fa2, fa3, rdn", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbfe6666666666667, 0x01
    FP_CASE 22, "fmsub.d fa0, fa1, fa2, fa3, rup", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbfe6666666666666, 0x01
    FP_CASE 23, "fmsub.d fa0, fa1, fa2, fa3, rmm", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbfe6666666666666, 0x01
    FP_CASE 24, "fnmadd.d fa0, fa1, fa2, fa3, rne", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbff4cccccccccccd, 0x01
    FP_CASE 25, "fnmadd.d fa0, fa1, fa2, fa3, rtz", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbff4cccccccccccc, 0x01
    FP_CASE 26, "fnmadd.d fa0, fa1, fa2, fa3, rdn", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbff4cccccccccccd, 0x01
    FP_CASE 27, "fnmadd.d fa0, fa1, fa2, fa3, rup", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbff4cccccccccccc, 0x01
    FP_CASE 28, "fnmadd.d fa0, fa1, fa2, fa3, rmm", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0xbff4cccccccccccd, 0x01
    FP_CASE 29, "fnmsub.d fa0, fa1, fa2, fa3, rne", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3fe6666666666666, 0x01
    FP_CASE 30, "fnmsub.d fa0, fa1, fa2, fa3, rtz", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3fe6666666666666, 0x01
    FP_CASE 31, "fnmsub.d fa0, fa1, fa2, fa3, rdn", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3fe6666666666666, 0x01
    FP_CASE 32, "fnmsub.d fa0, fa1, fa2, fa3, rup", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3fe6666666666667, 0x01
    FP_CASE 33, "fnmsub.d fa0, fa1, fa2, fa3, rmm", 0x3fb999999999999a, 0x4008000000000000, 0x3ff0000000000000, 0x3fe6666666666666, 0x01
    /* inf*0 + qNaN: invalid even with a quiet NaN addend */
    FP_CASE 34, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7ff0000000000000, 0x0000000000000000, 0x7ff8000000000000, 0x7ff8000000000000, 0x10
    /* inf*0 + 1: invalid */
    FP_CASE 35, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7ff0000000000000, 0x0000000000000000, 0x3ff0000000000000, 0x7ff8000000000000, 0x10
    /* inf - inf: invalid */
    FP_CASE 36, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7ff0000000000000, 0x3ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x10
    /* qNaN addend: no flag */
    FP_CASE 37, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x3ff0000000000000, 0x3ff0000000000000, 0x7ff8000000000000, 0x7ff8000000000000, 0x00
    /* sNaN: invalid */
    FP_CASE 38, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7ff0000000000001, 0x3ff0000000000000, 0x3ff0000000000000, 0x7ff8000000000000, 0x10
    FP_CASE 39, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x3ff0000000000000, 0x3ff0000000000000, 0x7ff0000000000001, 0x7ff8000000000000, 0x10
    /* (+0*-1) + +0 = +0 (rdn: -0) */
    FP_CASE 40, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x0000000000000000, 0xbff0000000000000, 0x0000000000000000, 0x0000000000000000, 0x00
    FP_CASE 41, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x0000000000000000, 0xbff0000000000000, 0x0000000000000000, 0x8000000000000000, 0x00
    /* (-0*1) + -0 = -0 */
    FP_CASE 42, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x8000000000000000, 0x3ff0000000000000, 0x8000000000000000, 0x8000000000000000, 0x00
    /* -(+0*1) - +0 = -0 */
    FP_CASE 43, "fnmadd.d fa0, fa1, fa2, fa3, rne", 0x0000000000000000, 0x3ff0000000000000, 0x0000000000000000, 0x8000000000000000, 0x00
    /* 1*1 - 1 = +0 (rdn: -0) */
    FP_CASE 44, "fmsub.d fa0, fa1, fa2, fa3, rne", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x0000000000000000, 0x00
    FP_CASE 45, "fmsub.d fa0, fa1, fa2, fa3, rdn", 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x8000000000000000, 0x00
    /* overflowing product + -inf = -inf, no overflow flag */
    FP_CASE 46, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7fefffffffffffff, 0x4000000000000000, 0xfff0000000000000, 0xfff0000000000000, 0x00
    /* max*2 - max = max: no intermediate overflow */
    FP_CASE 47, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff, 0x7fefffffffffffff, 0x00
    FP_CASE 48, "fmadd.d fa0, fa1, fa2, fa3, rtz", 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff, 0x7fefffffffffffff, 0x00
    FP_CASE 49, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff, 0x7fefffffffffffff, 0x00
    FP_CASE 50, "fmadd.d fa0, fa1, fa2, fa3, rup", 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff, 0x7fefffffffffffff, 0x00
    FP_CASE 51, "fmadd.d fa0, fa1, fa2, fa3, rmm", 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff, 0x7fefffffffffffff, 0x00
    /* subnormal result */
    FP_CASE 52, "fmadd.d fa0, fa1, fa2, fa3, rne", 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001, 0x0008000000000001, 0x00
    FP_CASE 53, "fmadd.d fa0, fa1, fa2, fa3, rtz", 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001, 0x0008000000000001, 0x00
    FP_CASE 54, "fmadd.d fa0, fa1, fa2, fa3, rdn", 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001, 0x0008000000000001, 0x00
    FP_CASE 55, "fmadd.d fa0, fa1, fa2, fa3, rup", 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001, 0x0008000000000001, 0x00
    FP_CASE 56, "fmadd.d fa0, fa1, fa2, fa3, rmm", 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001, 0x0008000000000001, 0x00

TEST_END
