/*
 * rv64f-fma: single-precision FMADD/FMSUB/FNMADD/FNMSUB: one rounding (cases where
 * a*b+c differs from round(round(a*b)+c)), every rounding mode, signs of
 * zero results, invalid cases (inf*0 + qNaN raises NV), NaN inputs.
 * Expected values come from an exact rational model of IEEE 754 rounding.
 */
#include "test.h"

TEST_BEGIN rv64f-fma

    /* (1+2^-k)^2 - (1+2^-(k-1)) = 2^-2k exactly; rounding the product first would give 0 */
    FP_CASE 1, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffff33800000, 0x00
    FP_CASE 2, "fmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffff33800000, 0x00
    FP_CASE 3, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffff33800000, 0x00
    FP_CASE 4, "fmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffff33800000, 0x00
    FP_CASE 5, "fmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffff33800000, 0x00
    /* same through fmsub */
    FP_CASE 6, "fmsub.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffff3f801000, 0xffffffff33800000, 0x00
    /* -(a*b) - c */
    FP_CASE 7, "fnmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffffbf801000, 0xffffffffb3800000, 0x00
    /* -(a*b) + c */
    FP_CASE 8, "fnmsub.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800800, 0xffffffff3f800800, 0xffffffff3f801000, 0xffffffffb3800000, 0x00
    /* 1*1 + half ulp: the tie rounds by mode */
    FP_CASE 9, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff3f800000, 0x01
    FP_CASE 10, "fmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff3f800000, 0x01
    FP_CASE 11, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff3f800000, 0x01
    FP_CASE 12, "fmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff3f800001, 0x01
    FP_CASE 13, "fmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff3f800001, 0x01
    FP_CASE 14, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3fa66666, 0x01
    FP_CASE 15, "fmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3fa66666, 0x01
    FP_CASE 16, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3fa66666, 0x01
    FP_CASE 17, "fmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3fa66667, 0x01
    FP_CASE 18, "fmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3fa66666, 0x01
    FP_CASE 19, "fmsub.s fa0, fa1, fa2, fa3, rne", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbf333333, 0x01
    FP_CASE 20, "fmsub.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbf333333, 0x01
    FP_CASE 21, "fmsub.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbf333334, 0x01
    FP_CASE 22, "fmsub.s fa0, fa1, fa2, fa3, rup", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbf333333, 0x01
    FP_CASE 23, "fmsub.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbf333333, 0x01
    FP_CASE 24, "fnmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbfa66666, 0x01
    FP_CASE 25, "fnmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbfa66666, 0x01
    FP_CASE 26, "fnmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbfa66667, 0x01
    FP_CASE 27, "fnmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbfa66666, 0x01
    FP_CASE 28, "fnmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffffbfa66666, 0x01
    FP_CASE 29, "fnmsub.s fa0, fa1, fa2, fa3, rne", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3f333333, 0x01
    FP_CASE 30, "fnmsub.s fa0, fa1, fa2, fa3, rtz", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3f333333, 0x01
    FP_CASE 31, "fnmsub.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3f333333, 0x01
    FP_CASE 32, "fnmsub.s fa0, fa1, fa2, fa3, rup", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3f333334, 0x01
    FP_CASE 33, "fnmsub.s fa0, fa1, fa2, fa3, rmm", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff3f800000, 0xffffffff3f333333, 0x01
    /* inf*0 + qNaN: invalid even with a quiet NaN addend */
    FP_CASE 34, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0xffffffff7fc00000, 0x10
    /* inf*0 + 1: invalid */
    FP_CASE 35, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff3f800000, 0xffffffff7fc00000, 0x10
    /* inf - inf: invalid */
    FP_CASE 36, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f800000, 0xffffffff3f800000, 0xffffffffff800000, 0xffffffff7fc00000, 0x10
    /* qNaN addend: no flag */
    FP_CASE 37, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff7fc00000, 0xffffffff7fc00000, 0x00
    /* sNaN: invalid */
    FP_CASE 38, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f800001, 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff7fc00000, 0x10
    FP_CASE 39, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff7f800001, 0xffffffff7fc00000, 0x10
    /* (+0*-1) + +0 = +0 (rdn: -0) */
    FP_CASE 40, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff00000000, 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff00000000, 0x00
    FP_CASE 41, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff00000000, 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* (-0*1) + -0 = -0 */
    FP_CASE 42, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff80000000, 0xffffffff3f800000, 0xffffffff80000000, 0xffffffff80000000, 0x00
    /* -(+0*1) - +0 = -0 */
    FP_CASE 43, "fnmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff00000000, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* 1*1 - 1 = +0 (rdn: -0) */
    FP_CASE 44, "fmsub.s fa0, fa1, fa2, fa3, rne", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff00000000, 0x00
    FP_CASE 45, "fmsub.s fa0, fa1, fa2, fa3, rdn", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff80000000, 0x00
    /* overflowing product + -inf = -inf, no overflow flag */
    FP_CASE 46, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff800000, 0xffffffffff800000, 0x00
    /* max*2 - max = max: no intermediate overflow */
    FP_CASE 47, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff7fffff, 0xffffffff7f7fffff, 0x00
    FP_CASE 48, "fmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff7fffff, 0xffffffff7f7fffff, 0x00
    FP_CASE 49, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff7fffff, 0xffffffff7f7fffff, 0x00
    FP_CASE 50, "fmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff7fffff, 0xffffffff7f7fffff, 0x00
    FP_CASE 51, "fmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffffff7fffff, 0xffffffff7f7fffff, 0x00
    /* subnormal result */
    FP_CASE 52, "fmadd.s fa0, fa1, fa2, fa3, rne", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000001, 0xffffffff00400001, 0x00
    FP_CASE 53, "fmadd.s fa0, fa1, fa2, fa3, rtz", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000001, 0xffffffff00400001, 0x00
    FP_CASE 54, "fmadd.s fa0, fa1, fa2, fa3, rdn", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000001, 0xffffffff00400001, 0x00
    FP_CASE 55, "fmadd.s fa0, fa1, fa2, fa3, rup", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000001, 0xffffffff00400001, 0x00
    FP_CASE 56, "fmadd.s fa0, fa1, fa2, fa3, rmm", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000001, 0xffffffff00400001, 0x00

TEST_END
