/*
 * rv64f-arith: single-precision FADD/FSUB/FMUL/FDIV/FSQRT in every static rounding
 * mode and through frm (rm = dyn), fflags after each operation (cleared
 * before), canonical NaN results, sNaN/qNaN inputs, signed zeros, overflow,
 * underflow (tininess after rounding), subnormals, reserved rounding modes.
 * Expected values come from an exact rational model of IEEE 754 rounding.
 */
#include "test.h"

TEST_BEGIN rv64f-arith

    /* exact */
    FP_CASE 1, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40400000, 0x00
    /* tie at half an ulp, every rounding mode */
    FP_CASE 2, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 3, "fadd.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 4, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 5, "fadd.s fa0, fa1, fa2, rup", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    FP_CASE 6, "fadd.s fa0, fa1, fa2, rmm", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    /* 0.75 ulp */
    FP_CASE 7, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff33c00000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    FP_CASE 8, "fadd.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff33c00000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 9, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff33c00000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 10, "fadd.s fa0, fa1, fa2, rup", 0xffffffff3f800000, 0xffffffff33c00000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    FP_CASE 11, "fadd.s fa0, fa1, fa2, rmm", 0xffffffff3f800000, 0xffffffff33c00000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    /* 0.375 ulp */
    FP_CASE 12, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff33400000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 13, "fadd.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff33400000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 14, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff33400000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    FP_CASE 15, "fadd.s fa0, fa1, fa2, rup", 0xffffffff3f800000, 0xffffffff33400000, 0xffffffff00000000, 0xffffffff3f800001, 0x01
    FP_CASE 16, "fadd.s fa0, fa1, fa2, rmm", 0xffffffff3f800000, 0xffffffff33400000, 0xffffffff00000000, 0xffffffff3f800000, 0x01
    /* negative tie */
    FP_CASE 17, "fadd.s fa0, fa1, fa2, rne", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    FP_CASE 18, "fadd.s fa0, fa1, fa2, rtz", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    FP_CASE 19, "fadd.s fa0, fa1, fa2, rdn", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800001, 0x01
    FP_CASE 20, "fadd.s fa0, fa1, fa2, rup", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    FP_CASE 21, "fadd.s fa0, fa1, fa2, rmm", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800001, 0x01
    /* tie to even rounds up from an odd significand */
    FP_CASE 22, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800001, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f800002, 0x01
    /* overflow: inf or max finite by mode */
    FP_CASE 23, "fadd.s fa0, fa1, fa2, rne", 0xffffffff7f7fffff, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 24, "fadd.s fa0, fa1, fa2, rtz", 0xffffffff7f7fffff, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 25, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff7f7fffff, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 26, "fadd.s fa0, fa1, fa2, rup", 0xffffffff7f7fffff, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 27, "fadd.s fa0, fa1, fa2, rmm", 0xffffffff7f7fffff, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    /* negative overflow */
    FP_CASE 28, "fadd.s fa0, fa1, fa2, rne", 0xffffffffff7fffff, 0xffffffffff7fffff, 0xffffffff00000000, 0xffffffffff800000, 0x05
    FP_CASE 29, "fadd.s fa0, fa1, fa2, rtz", 0xffffffffff7fffff, 0xffffffffff7fffff, 0xffffffff00000000, 0xffffffffff7fffff, 0x05
    FP_CASE 30, "fadd.s fa0, fa1, fa2, rdn", 0xffffffffff7fffff, 0xffffffffff7fffff, 0xffffffff00000000, 0xffffffffff800000, 0x05
    FP_CASE 31, "fadd.s fa0, fa1, fa2, rup", 0xffffffffff7fffff, 0xffffffffff7fffff, 0xffffffff00000000, 0xffffffffff7fffff, 0x05
    FP_CASE 32, "fadd.s fa0, fa1, fa2, rmm", 0xffffffffff7fffff, 0xffffffffff7fffff, 0xffffffff00000000, 0xffffffffff800000, 0x05
    /* inf - inf: invalid, canonical NaN */
    FP_CASE 33, "fadd.s fa0, fa1, fa2, rne", 0xffffffff7f800000, 0xffffffffff800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* inf + finite */
    FP_CASE 34, "fadd.s fa0, fa1, fa2, rne", 0xffffffff7f800000, 0xffffffff7f7fffff, 0xffffffff00000000, 0xffffffff7f800000, 0x00
    /* quiet NaN in: canonical NaN out, no flag */
    FP_CASE 35, "fadd.s fa0, fa1, fa2, rne", 0xffffffff7fc00000, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x00
    /* NaN payload and sign are not propagated */
    FP_CASE 36, "fadd.s fa0, fa1, fa2, rne", 0xffffffffffc00001, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x00
    /* signaling NaN: invalid */
    FP_CASE 37, "fadd.s fa0, fa1, fa2, rne", 0xffffffff7f800001, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    FP_CASE 38, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff7f800001, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* +0 + -0 = +0, but -0 when rounding down */
    FP_CASE 39, "fadd.s fa0, fa1, fa2, rne", 0xffffffff00000000, 0xffffffff80000000, 0xffffffff00000000, 0xffffffff00000000, 0x00
    FP_CASE 40, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff00000000, 0xffffffff80000000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* -0 + -0 = -0 */
    FP_CASE 41, "fadd.s fa0, fa1, fa2, rne", 0xffffffff80000000, 0xffffffff80000000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    FP_CASE 42, "fadd.s fa0, fa1, fa2, rne", 0xffffffff40400000, 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff40000000, 0x00
    /* x + (-x) = +0 (rdn: -0) */
    FP_CASE 43, "fadd.s fa0, fa1, fa2, rne", 0xffffffff40e00000, 0xffffffffc0e00000, 0xffffffff00000000, 0xffffffff00000000, 0x00
    FP_CASE 44, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff40e00000, 0xffffffffc0e00000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    FP_CASE 45, "fadd.s fa0, fa1, fa2, rup", 0xffffffff40e00000, 0xffffffffc0e00000, 0xffffffff00000000, 0xffffffff00000000, 0x00
    /* subnormal + subnormal, exact: no underflow */
    FP_CASE 46, "fadd.s fa0, fa1, fa2, rne", 0xffffffff00000001, 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000002, 0x00
    /* normal - subnormal = subnormal, exact */
    FP_CASE 47, "fadd.s fa0, fa1, fa2, rne", 0xffffffff00800000, 0xffffffff80000001, 0xffffffff00000000, 0xffffffff007fffff, 0x00
    FP_CASE 48, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3dcccccd, 0xffffffff40490fdb, 0xffffffff00000000, 0xffffffff404f7641, 0x01
    FP_CASE 49, "fadd.s fa0, fa1, fa2, rtz", 0xffffffff3dcccccd, 0xffffffff40490fdb, 0xffffffff00000000, 0xffffffff404f7641, 0x01
    FP_CASE 50, "fadd.s fa0, fa1, fa2, rdn", 0xffffffff3dcccccd, 0xffffffff40490fdb, 0xffffffff00000000, 0xffffffff404f7641, 0x01
    FP_CASE 51, "fadd.s fa0, fa1, fa2, rup", 0xffffffff3dcccccd, 0xffffffff40490fdb, 0xffffffff00000000, 0xffffffff404f7642, 0x01
    FP_CASE 52, "fadd.s fa0, fa1, fa2, rmm", 0xffffffff3dcccccd, 0xffffffff40490fdb, 0xffffffff00000000, 0xffffffff404f7641, 0x01
    /* x - x = +0 (rdn: -0) */
    FP_CASE 53, "fsub.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff00000000, 0x00
    FP_CASE 54, "fsub.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* 1 - half an ulp of 1 is exact (just below 1) */
    FP_CASE 55, "fsub.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f7fffff, 0x00
    FP_CASE 56, "fsub.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f7fffff, 0x00
    FP_CASE 57, "fsub.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f7fffff, 0x00
    FP_CASE 58, "fsub.s fa0, fa1, fa2, rup", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f7fffff, 0x00
    FP_CASE 59, "fsub.s fa0, fa1, fa2, rmm", 0xffffffff3f800000, 0xffffffff33800000, 0xffffffff00000000, 0xffffffff3f7fffff, 0x00
    /* inf - inf */
    FP_CASE 60, "fsub.s fa0, fa1, fa2, rne", 0xffffffff7f800000, 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* -0 - +0 = -0 */
    FP_CASE 61, "fsub.s fa0, fa1, fa2, rne", 0xffffffff80000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    FP_CASE 62, "fsub.s fa0, fa1, fa2, rne", 0xffffffff40490fdb, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff4042a975, 0x01
    FP_CASE 63, "fsub.s fa0, fa1, fa2, rtz", 0xffffffff40490fdb, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff4042a974, 0x01
    FP_CASE 64, "fsub.s fa0, fa1, fa2, rdn", 0xffffffff40490fdb, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff4042a974, 0x01
    FP_CASE 65, "fsub.s fa0, fa1, fa2, rup", 0xffffffff40490fdb, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff4042a975, 0x01
    FP_CASE 66, "fsub.s fa0, fa1, fa2, rmm", 0xffffffff40490fdb, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff4042a975, 0x01
    /* exact */
    FP_CASE 67, "fmul.s fa0, fa1, fa2, rne", 0xffffffff40400000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff3fc00000, 0x00
    FP_CASE 68, "fmul.s fa0, fa1, fa2, rne", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3e99999a, 0x01
    FP_CASE 69, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3e999999, 0x01
    FP_CASE 70, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3e999999, 0x01
    FP_CASE 71, "fmul.s fa0, fa1, fa2, rup", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3e99999a, 0x01
    FP_CASE 72, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff3dcccccd, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3e99999a, 0x01
    /* overflow */
    FP_CASE 73, "fmul.s fa0, fa1, fa2, rne", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 74, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 75, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 76, "fmul.s fa0, fa1, fa2, rup", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 77, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff7f7fffff, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    /* exact subnormal result: no underflow flag */
    FP_CASE 78, "fmul.s fa0, fa1, fa2, rne", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00400000, 0x00
    FP_CASE 79, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00400000, 0x00
    FP_CASE 80, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00400000, 0x00
    FP_CASE 81, "fmul.s fa0, fa1, fa2, rup", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00400000, 0x00
    FP_CASE 82, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff00800000, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00400000, 0x00
    /* inexact subnormal: underflow */
    FP_CASE 83, "fmul.s fa0, fa1, fa2, rne", 0xffffffff00800000, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff000ccccd, 0x03
    FP_CASE 84, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff00800000, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff000ccccc, 0x03
    FP_CASE 85, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff00800000, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff000ccccc, 0x03
    FP_CASE 86, "fmul.s fa0, fa1, fa2, rup", 0xffffffff00800000, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff000ccccd, 0x03
    FP_CASE 87, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff00800000, 0xffffffff3dcccccd, 0xffffffff00000000, 0xffffffff000ccccd, 0x03
    /* half the smallest subnormal: underflow, 0 or min by mode */
    FP_CASE 88, "fmul.s fa0, fa1, fa2, rne", 0xffffffff00000001, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00000000, 0x03
    FP_CASE 89, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff00000001, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00000000, 0x03
    FP_CASE 90, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff00000001, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00000000, 0x03
    FP_CASE 91, "fmul.s fa0, fa1, fa2, rup", 0xffffffff00000001, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00000001, 0x03
    FP_CASE 92, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff00000001, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff00000001, 0x03
    /* tiny * tiny */
    FP_CASE 93, "fmul.s fa0, fa1, fa2, rne", 0xffffffff1f800000, 0xffffffff1f800000, 0xffffffff00000000, 0xffffffff00200000, 0x00
    FP_CASE 94, "fmul.s fa0, fa1, fa2, rtz", 0xffffffff1f800000, 0xffffffff1f800000, 0xffffffff00000000, 0xffffffff00200000, 0x00
    FP_CASE 95, "fmul.s fa0, fa1, fa2, rdn", 0xffffffff1f800000, 0xffffffff1f800000, 0xffffffff00000000, 0xffffffff00200000, 0x00
    FP_CASE 96, "fmul.s fa0, fa1, fa2, rup", 0xffffffff1f800000, 0xffffffff1f800000, 0xffffffff00000000, 0xffffffff00200000, 0x00
    FP_CASE 97, "fmul.s fa0, fa1, fa2, rmm", 0xffffffff1f800000, 0xffffffff1f800000, 0xffffffff00000000, 0xffffffff00200000, 0x00
    /* 0 * inf: invalid */
    FP_CASE 98, "fmul.s fa0, fa1, fa2, rne", 0xffffffff00000000, 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* -0 * 3 = -0 */
    FP_CASE 99, "fmul.s fa0, fa1, fa2, rne", 0xffffffff80000000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* -inf * -1 = inf */
    FP_CASE 100, "fmul.s fa0, fa1, fa2, rne", 0xffffffffff800000, 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff7f800000, 0x00
    FP_CASE 101, "fmul.s fa0, fa1, fa2, rne", 0xffffffff7f800001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* 1/3 */
    FP_CASE 102, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    FP_CASE 103, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaaa, 0x01
    FP_CASE 104, "fdiv.s fa0, fa1, fa2, rdn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaaa, 0x01
    FP_CASE 105, "fdiv.s fa0, fa1, fa2, rup", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    FP_CASE 106, "fdiv.s fa0, fa1, fa2, rmm", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    /* -1/3 */
    FP_CASE 107, "fdiv.s fa0, fa1, fa2, rne", 0xffffffffbf800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffffbeaaaaab, 0x01
    FP_CASE 108, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffffbf800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffffbeaaaaaa, 0x01
    FP_CASE 109, "fdiv.s fa0, fa1, fa2, rdn", 0xffffffffbf800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffffbeaaaaab, 0x01
    FP_CASE 110, "fdiv.s fa0, fa1, fa2, rup", 0xffffffffbf800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffffbeaaaaaa, 0x01
    FP_CASE 111, "fdiv.s fa0, fa1, fa2, rmm", 0xffffffffbf800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffffbeaaaaab, 0x01
    /* 1/+0: divide by zero */
    FP_CASE 112, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7f800000, 0x08
    /* 1/-0 */
    FP_CASE 113, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff80000000, 0xffffffff00000000, 0xffffffffff800000, 0x08
    FP_CASE 114, "fdiv.s fa0, fa1, fa2, rne", 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffffff800000, 0x08
    /* 0/0: invalid */
    FP_CASE 115, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff00000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* inf/inf: invalid */
    FP_CASE 116, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff7f800000, 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* inf/0: inf, no divide-by-zero flag */
    FP_CASE 117, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7f800000, 0x00
    /* 3/-inf = -0 */
    FP_CASE 118, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff40400000, 0xffffffffff800000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    /* NaN/0: no flags */
    FP_CASE 119, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff7fc00000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x00
    FP_CASE 120, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff7f800001, 0xffffffff3f800000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* overflow */
    FP_CASE 121, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff7f7fffff, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 122, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffff7f7fffff, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 123, "fdiv.s fa0, fa1, fa2, rdn", 0xffffffff7f7fffff, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff7f7fffff, 0x05
    FP_CASE 124, "fdiv.s fa0, fa1, fa2, rup", 0xffffffff7f7fffff, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    FP_CASE 125, "fdiv.s fa0, fa1, fa2, rmm", 0xffffffff7f7fffff, 0xffffffff3f000000, 0xffffffff00000000, 0xffffffff7f800000, 0x05
    /* underflow */
    FP_CASE 126, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff00800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff002aaaab, 0x03
    FP_CASE 127, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffff00800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff002aaaaa, 0x03
    FP_CASE 128, "fdiv.s fa0, fa1, fa2, rdn", 0xffffffff00800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff002aaaaa, 0x03
    FP_CASE 129, "fdiv.s fa0, fa1, fa2, rup", 0xffffffff00800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff002aaaab, 0x03
    FP_CASE 130, "fdiv.s fa0, fa1, fa2, rmm", 0xffffffff00800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff002aaaab, 0x03
    FP_CASE 131, "fdiv.s fa0, fa1, fa2, rne", 0xffffffff40e00000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40600000, 0x00
    FP_CASE 132, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffff40e00000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40600000, 0x00
    FP_CASE 133, "fdiv.s fa0, fa1, fa2, rdn", 0xffffffff40e00000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40600000, 0x00
    FP_CASE 134, "fdiv.s fa0, fa1, fa2, rup", 0xffffffff40e00000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40600000, 0x00
    FP_CASE 135, "fdiv.s fa0, fa1, fa2, rmm", 0xffffffff40e00000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40600000, 0x00
    /* exact */
    FP_CASE 136, "fsqrt.s fa0, fa1, rne", 0xffffffff40800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff40000000, 0x00
    /* sqrt(2) */
    FP_CASE 137, "fsqrt.s fa0, fa1, rne", 0xffffffff40000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fb504f3, 0x01
    FP_CASE 138, "fsqrt.s fa0, fa1, rtz", 0xffffffff40000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fb504f3, 0x01
    FP_CASE 139, "fsqrt.s fa0, fa1, rdn", 0xffffffff40000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fb504f3, 0x01
    FP_CASE 140, "fsqrt.s fa0, fa1, rup", 0xffffffff40000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fb504f4, 0x01
    FP_CASE 141, "fsqrt.s fa0, fa1, rmm", 0xffffffff40000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fb504f3, 0x01
    FP_CASE 142, "fsqrt.s fa0, fa1, rne", 0xffffffff40400000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fddb3d7, 0x01
    FP_CASE 143, "fsqrt.s fa0, fa1, rtz", 0xffffffff40400000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fddb3d7, 0x01
    FP_CASE 144, "fsqrt.s fa0, fa1, rdn", 0xffffffff40400000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fddb3d7, 0x01
    FP_CASE 145, "fsqrt.s fa0, fa1, rup", 0xffffffff40400000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fddb3d8, 0x01
    FP_CASE 146, "fsqrt.s fa0, fa1, rmm", 0xffffffff40400000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff3fddb3d7, 0x01
    /* sqrt(-1): invalid */
    FP_CASE 147, "fsqrt.s fa0, fa1, rne", 0xffffffffbf800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    /* sqrt(-0) = -0 */
    FP_CASE 148, "fsqrt.s fa0, fa1, rne", 0xffffffff80000000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff80000000, 0x00
    FP_CASE 149, "fsqrt.s fa0, fa1, rne", 0xffffffff7f800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7f800000, 0x00
    /* sqrt(-inf): invalid */
    FP_CASE 150, "fsqrt.s fa0, fa1, rne", 0xffffffffff800000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    FP_CASE 151, "fsqrt.s fa0, fa1, rne", 0xffffffff7f800001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x10
    FP_CASE 152, "fsqrt.s fa0, fa1, rne", 0xffffffff7fc00000, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff7fc00000, 0x00
    /* sqrt of the smallest subnormal */
    FP_CASE 153, "fsqrt.s fa0, fa1, rne", 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1a3504f3, 0x01
    FP_CASE 154, "fsqrt.s fa0, fa1, rtz", 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1a3504f3, 0x01
    FP_CASE 155, "fsqrt.s fa0, fa1, rdn", 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1a3504f3, 0x01
    FP_CASE 156, "fsqrt.s fa0, fa1, rup", 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1a3504f4, 0x01
    FP_CASE 157, "fsqrt.s fa0, fa1, rmm", 0xffffffff00000001, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1a3504f3, 0x01
    FP_CASE 158, "fsqrt.s fa0, fa1, rne", 0xffffffff007fffff, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1fffffff, 0x01
    FP_CASE 159, "fsqrt.s fa0, fa1, rtz", 0xffffffff007fffff, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1ffffffe, 0x01
    FP_CASE 160, "fsqrt.s fa0, fa1, rdn", 0xffffffff007fffff, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1ffffffe, 0x01
    FP_CASE 161, "fsqrt.s fa0, fa1, rup", 0xffffffff007fffff, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1fffffff, 0x01
    FP_CASE 162, "fsqrt.s fa0, fa1, rmm", 0xffffffff007fffff, 0xffffffff00000000, 0xffffffff00000000, 0xffffffff1fffffff, 0x01

    /* rm = dyn: frm selects the rounding mode */
    csrwi frm, 0
    FP_CASE 163, "fdiv.s fa0, fa1, fa2, dyn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    FP_CASE 164, "fadd.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    csrwi frm, 1
    FP_CASE 165, "fdiv.s fa0, fa1, fa2, dyn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaaa, 0x01
    FP_CASE 166, "fadd.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    csrwi frm, 2
    FP_CASE 167, "fdiv.s fa0, fa1, fa2, dyn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaaa, 0x01
    FP_CASE 168, "fadd.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800001, 0x01
    csrwi frm, 3
    FP_CASE 169, "fdiv.s fa0, fa1, fa2, dyn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    FP_CASE 170, "fadd.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800000, 0x01
    csrwi frm, 4
    FP_CASE 171, "fdiv.s fa0, fa1, fa2, dyn", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaab, 0x01
    FP_CASE 172, "fadd.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffb3800000, 0xffffffff00000000, 0xffffffffbf800001, 0x01
    csrwi frm, 0
    /* a static rm overrides frm */
    csrwi frm, 3
    FP_CASE 173, "fdiv.s fa0, fa1, fa2, rtz", 0xffffffff3f800000, 0xffffffff40400000, 0xffffffff00000000, 0xffffffff3eaaaaaa, 0x01
    csrwi frm, 0

    /* reserved rounding modes: static rm 5 and 6, and dyn with frm 5, 6, 7
     * are illegal instructions; mtval holds the instruction bits */
    TRAP_EXPECT 1f
2:  .word 0x00c5d553       /* fadd.s fa0, fa1, fa2, rm=5 */
1:  CHECK_TRAP 174, rm5-illegal, CAUSE_ILLEGAL, 0x00c5d553, 2b
    TRAP_EXPECT 1f
2:  .word 0x00c5e553       /* fadd.s fa0, fa1, fa2, rm=6 */
1:  CHECK_TRAP 175, rm6-illegal, CAUSE_ILLEGAL, 0x00c5e553, 2b
    csrwi frm, 5
    TRAP_EXPECT 1f
2:  fadd.s fa0, fa1, fa2, dyn
1:  CHECK_TRAP 176, frm5-dyn-illegal, CAUSE_ILLEGAL, 0x00c5f553, 2b
    csrwi frm, 6
    TRAP_EXPECT 1f
2:  fadd.s fa0, fa1, fa2, dyn
1:  CHECK_TRAP 177, frm6-dyn-illegal, CAUSE_ILLEGAL, 0x00c5f553, 2b
    csrwi frm, 7
    TRAP_EXPECT 1f
2:  fadd.s fa0, fa1, fa2, dyn
1:  CHECK_TRAP 178, frm7-dyn-illegal, CAUSE_ILLEGAL, 0x00c5f553, 2b
    csrwi frm, 0
    /* a static rm is fine while frm holds a reserved value */
    csrwi frm, 7
    FP_CASE 179, "fadd.s fa0, fa1, fa2, rne", 0xffffffff3f800000, 0xffffffff40000000, 0xffffffff00000000, 0xffffffff40400000, 0x00
    csrwi frm, 0

TEST_END
