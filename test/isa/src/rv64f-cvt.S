/*
 * rv64f-cvt: single-precision conversions: FCVT.{W,WU,L,LU}.S and
 * FCVT.S.{W,WU,L,LU} in every rounding mode, saturation at each boundary
 * (NaN -> largest, +-inf, just in and just out of range) with NV/NX flags,
 * W results sign-extended (also for WU), only the low 32 bits of rs1 used by
 * FCVT.S.W[U]; FCVT.S.D (rounding, overflow, underflow, NaN) and FCVT.D.S.
 * Expected values come from an exact rational model of IEEE 754 rounding.
 */
#include "test.h"

TEST_BEGIN rv64f-cvt

    /* +0 and -0 convert to 0 without flags */
    FP_ICASE 1, "fcvt.w.s a0, fa1, rtz", 0xffffffff00000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 2, "fcvt.wu.s a0, fa1, rtz", 0xffffffff00000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 3, "fcvt.w.s a0, fa1, rtz", 0xffffffff80000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 4, "fcvt.wu.s a0, fa1, rtz", 0xffffffff80000000, 0, 0x0000000000000000, 0x00
    /* 1.5 in every mode */
    FP_ICASE 5, "fcvt.w.s a0, fa1, rne", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 6, "fcvt.w.s a0, fa1, rtz", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 7, "fcvt.w.s a0, fa1, rdn", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 8, "fcvt.w.s a0, fa1, rup", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 9, "fcvt.w.s a0, fa1, rmm", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 10, "fcvt.wu.s a0, fa1, rne", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 11, "fcvt.wu.s a0, fa1, rtz", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 12, "fcvt.wu.s a0, fa1, rdn", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 13, "fcvt.wu.s a0, fa1, rup", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 14, "fcvt.wu.s a0, fa1, rmm", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    /* -1.5: unsigned targets are invalid when it rounds below 0 */
    FP_ICASE 15, "fcvt.w.s a0, fa1, rne", 0xffffffffbfc00000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 16, "fcvt.w.s a0, fa1, rtz", 0xffffffffbfc00000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 17, "fcvt.w.s a0, fa1, rdn", 0xffffffffbfc00000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 18, "fcvt.w.s a0, fa1, rup", 0xffffffffbfc00000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 19, "fcvt.w.s a0, fa1, rmm", 0xffffffffbfc00000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 20, "fcvt.wu.s a0, fa1, rne", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    FP_ICASE 21, "fcvt.wu.s a0, fa1, rtz", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    FP_ICASE 22, "fcvt.wu.s a0, fa1, rdn", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    FP_ICASE 23, "fcvt.wu.s a0, fa1, rup", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    FP_ICASE 24, "fcvt.wu.s a0, fa1, rmm", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    /* 2.5: ties to even vs ties away */
    FP_ICASE 25, "fcvt.w.s a0, fa1, rne", 0xffffffff40200000, 0, 0x0000000000000002, 0x01
    FP_ICASE 26, "fcvt.w.s a0, fa1, rmm", 0xffffffff40200000, 0, 0x0000000000000003, 0x01
    FP_ICASE 27, "fcvt.wu.s a0, fa1, rne", 0xffffffff40200000, 0, 0x0000000000000002, 0x01
    FP_ICASE 28, "fcvt.wu.s a0, fa1, rmm", 0xffffffff40200000, 0, 0x0000000000000003, 0x01
    /* -0.9: rounds to 0 (inexact only) or -1 (invalid for unsigned) */
    FP_ICASE 29, "fcvt.w.s a0, fa1, rtz", 0xffffffffbf666666, 0, 0x0000000000000000, 0x01
    FP_ICASE 30, "fcvt.w.s a0, fa1, rdn", 0xffffffffbf666666, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 31, "fcvt.wu.s a0, fa1, rtz", 0xffffffffbf666666, 0, 0x0000000000000000, 0x01
    FP_ICASE 32, "fcvt.wu.s a0, fa1, rdn", 0xffffffffbf666666, 0, 0x0000000000000000, 0x10
    /* largest single below 2^31 */
    FP_ICASE 33, "fcvt.w.s a0, fa1, rne", 0xffffffff4effffff, 0, 0x000000007fffff80, 0x00
    FP_ICASE 34, "fcvt.wu.s a0, fa1, rne", 0xffffffff4effffff, 0, 0x000000007fffff80, 0x00
    /* 2^31: out of range for w */
    FP_ICASE 35, "fcvt.w.s a0, fa1, rne", 0xffffffff4f000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 36, "fcvt.wu.s a0, fa1, rne", 0xffffffff4f000000, 0, 0xffffffff80000000, 0x00
    /* -2^31: exact for w */
    FP_ICASE 37, "fcvt.w.s a0, fa1, rne", 0xffffffffcf000000, 0, 0xffffffff80000000, 0x00
    FP_ICASE 38, "fcvt.wu.s a0, fa1, rne", 0xffffffffcf000000, 0, 0x0000000000000000, 0x10
    /* just below -2^31 */
    FP_ICASE 39, "fcvt.w.s a0, fa1, rne", 0xffffffffcf000001, 0, 0xffffffff80000000, 0x10
    FP_ICASE 40, "fcvt.wu.s a0, fa1, rne", 0xffffffffcf000001, 0, 0x0000000000000000, 0x10
    /* largest single below 2^32: wu result is sign-extended */
    FP_ICASE 41, "fcvt.w.s a0, fa1, rne", 0xffffffff4f7fffff, 0, 0x000000007fffffff, 0x10
    FP_ICASE 42, "fcvt.wu.s a0, fa1, rne", 0xffffffff4f7fffff, 0, 0xffffffffffffff00, 0x00
    /* 2^32 */
    FP_ICASE 43, "fcvt.w.s a0, fa1, rne", 0xffffffff4f800000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 44, "fcvt.wu.s a0, fa1, rne", 0xffffffff4f800000, 0, 0xffffffffffffffff, 0x10
    /* +inf saturates */
    FP_ICASE 45, "fcvt.w.s a0, fa1, rne", 0xffffffff7f800000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 46, "fcvt.wu.s a0, fa1, rne", 0xffffffff7f800000, 0, 0xffffffffffffffff, 0x10
    /* -inf saturates */
    FP_ICASE 47, "fcvt.w.s a0, fa1, rne", 0xffffffffff800000, 0, 0xffffffff80000000, 0x10
    FP_ICASE 48, "fcvt.wu.s a0, fa1, rne", 0xffffffffff800000, 0, 0x0000000000000000, 0x10
    /* NaN converts to the largest value (any sign) */
    FP_ICASE 49, "fcvt.w.s a0, fa1, rne", 0xffffffff7fc00000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 50, "fcvt.wu.s a0, fa1, rne", 0xffffffff7fc00000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 51, "fcvt.w.s a0, fa1, rne", 0xffffffffffc00000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 52, "fcvt.wu.s a0, fa1, rne", 0xffffffffffc00000, 0, 0xffffffffffffffff, 0x10
    /* sNaN */
    FP_ICASE 53, "fcvt.w.s a0, fa1, rne", 0xffffffff7f800001, 0, 0x000000007fffffff, 0x10
    FP_ICASE 54, "fcvt.wu.s a0, fa1, rne", 0xffffffff7f800001, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 55, "fcvt.l.s a0, fa1, rne", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 56, "fcvt.l.s a0, fa1, rdn", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 57, "fcvt.lu.s a0, fa1, rne", 0xffffffff3fc00000, 0, 0x0000000000000002, 0x01
    FP_ICASE 58, "fcvt.lu.s a0, fa1, rdn", 0xffffffff3fc00000, 0, 0x0000000000000001, 0x01
    FP_ICASE 59, "fcvt.l.s a0, fa1, rtz", 0xffffffffbfc00000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 60, "fcvt.lu.s a0, fa1, rtz", 0xffffffffbfc00000, 0, 0x0000000000000000, 0x10
    /* largest single below 2^63 */
    FP_ICASE 61, "fcvt.l.s a0, fa1, rne", 0xffffffff5effffff, 0, 0x7fffff8000000000, 0x00
    FP_ICASE 62, "fcvt.lu.s a0, fa1, rne", 0xffffffff5effffff, 0, 0x7fffff8000000000, 0x00
    /* 2^63: out of range for l */
    FP_ICASE 63, "fcvt.l.s a0, fa1, rne", 0xffffffff5f000000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 64, "fcvt.lu.s a0, fa1, rne", 0xffffffff5f000000, 0, 0x8000000000000000, 0x00
    /* -2^63: exact for l */
    FP_ICASE 65, "fcvt.l.s a0, fa1, rne", 0xffffffffdf000000, 0, 0x8000000000000000, 0x00
    FP_ICASE 66, "fcvt.lu.s a0, fa1, rne", 0xffffffffdf000000, 0, 0x0000000000000000, 0x10
    /* 2^64: out of range for lu */
    FP_ICASE 67, "fcvt.l.s a0, fa1, rne", 0xffffffff5f800000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 68, "fcvt.lu.s a0, fa1, rne", 0xffffffff5f800000, 0, 0xffffffffffffffff, 0x10
    /* largest single below 2^64 */
    FP_ICASE 69, "fcvt.l.s a0, fa1, rne", 0xffffffff5f7fffff, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 70, "fcvt.lu.s a0, fa1, rne", 0xffffffff5f7fffff, 0, 0xffffff0000000000, 0x00
    FP_ICASE 71, "fcvt.l.s a0, fa1, rne", 0xffffffffff800000, 0, 0x8000000000000000, 0x10
    FP_ICASE 72, "fcvt.lu.s a0, fa1, rne", 0xffffffffff800000, 0, 0x0000000000000000, 0x10
    FP_ICASE 73, "fcvt.l.s a0, fa1, rne", 0xffffffff7fc00000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 74, "fcvt.lu.s a0, fa1, rne", 0xffffffff7fc00000, 0, 0xffffffffffffffff, 0x10
    /* 2^31 fits l */
    FP_ICASE 75, "fcvt.l.s a0, fa1, rne", 0xffffffff4f000000, 0, 0x0000000080000000, 0x00
    FP_ICASE 76, "fcvt.lu.s a0, fa1, rne", 0xffffffff4f000000, 0, 0x0000000080000000, 0x00
    FP_XCASE 77, "fcvt.s.w fa0, a1, rne", 0x0000000000000000, 0xffffffff00000000, 0x00
    FP_XCASE 78, "fcvt.s.wu fa0, a1, rne", 0x0000000000000000, 0xffffffff00000000, 0x00
    FP_XCASE 79, "fcvt.s.w fa0, a1, rne", 0x0000000000000001, 0xffffffff3f800000, 0x00
    FP_XCASE 80, "fcvt.s.wu fa0, a1, rne", 0x0000000000000001, 0xffffffff3f800000, 0x00
    FP_XCASE 81, "fcvt.s.w fa0, a1, rne", 0xffffffffffffffff, 0xffffffffbf800000, 0x00
    FP_XCASE 82, "fcvt.s.wu fa0, a1, rne", 0xffffffffffffffff, 0xffffffff4f800000, 0x01
    /* 2^31-1 is not representable: rounding by mode */
    FP_XCASE 83, "fcvt.s.w fa0, a1, rne", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    FP_XCASE 84, "fcvt.s.w fa0, a1, rtz", 0x000000007fffffff, 0xffffffff4effffff, 0x01
    FP_XCASE 85, "fcvt.s.w fa0, a1, rdn", 0x000000007fffffff, 0xffffffff4effffff, 0x01
    FP_XCASE 86, "fcvt.s.w fa0, a1, rup", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    FP_XCASE 87, "fcvt.s.w fa0, a1, rmm", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    FP_XCASE 88, "fcvt.s.wu fa0, a1, rne", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    FP_XCASE 89, "fcvt.s.wu fa0, a1, rtz", 0x000000007fffffff, 0xffffffff4effffff, 0x01
    FP_XCASE 90, "fcvt.s.wu fa0, a1, rdn", 0x000000007fffffff, 0xffffffff4effffff, 0x01
    FP_XCASE 91, "fcvt.s.wu fa0, a1, rup", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    FP_XCASE 92, "fcvt.s.wu fa0, a1, rmm", 0x000000007fffffff, 0xffffffff4f000000, 0x01
    /* 0x80000000: -2^31 signed, 2^31 unsigned */
    FP_XCASE 93, "fcvt.s.w fa0, a1, rne", 0x0000000080000000, 0xffffffffcf000000, 0x00
    FP_XCASE 94, "fcvt.s.wu fa0, a1, rne", 0x0000000080000000, 0xffffffff4f000000, 0x00
    FP_XCASE 95, "fcvt.s.w fa0, a1, rne", 0x00000000ffffffff, 0xffffffffbf800000, 0x00
    FP_XCASE 96, "fcvt.s.w fa0, a1, rtz", 0x00000000ffffffff, 0xffffffffbf800000, 0x00
    FP_XCASE 97, "fcvt.s.wu fa0, a1, rne", 0x00000000ffffffff, 0xffffffff4f800000, 0x01
    FP_XCASE 98, "fcvt.s.wu fa0, a1, rtz", 0x00000000ffffffff, 0xffffffff4f7fffff, 0x01
    /* only the low 32 bits are used */
    FP_XCASE 99, "fcvt.s.w fa0, a1, rne", 0x1234567800000001, 0xffffffff3f800000, 0x00
    FP_XCASE 100, "fcvt.s.wu fa0, a1, rne", 0x1234567800000001, 0xffffffff3f800000, 0x00
    /* 2^24+1 */
    FP_XCASE 101, "fcvt.s.w fa0, a1, rne", 0x0000000001000001, 0xffffffff4b800000, 0x01
    FP_XCASE 102, "fcvt.s.w fa0, a1, rup", 0x0000000001000001, 0xffffffff4b800001, 0x01
    FP_XCASE 103, "fcvt.s.wu fa0, a1, rne", 0x0000000001000001, 0xffffffff4b800000, 0x01
    FP_XCASE 104, "fcvt.s.wu fa0, a1, rup", 0x0000000001000001, 0xffffffff4b800001, 0x01
    FP_XCASE 105, "fcvt.s.l fa0, a1, rne", 0x7fffffffffffffff, 0xffffffff5f000000, 0x01
    FP_XCASE 106, "fcvt.s.l fa0, a1, rtz", 0x7fffffffffffffff, 0xffffffff5effffff, 0x01
    FP_XCASE 107, "fcvt.s.lu fa0, a1, rne", 0x7fffffffffffffff, 0xffffffff5f000000, 0x01
    FP_XCASE 108, "fcvt.s.lu fa0, a1, rtz", 0x7fffffffffffffff, 0xffffffff5effffff, 0x01
    FP_XCASE 109, "fcvt.s.l fa0, a1, rne", 0x8000000000000000, 0xffffffffdf000000, 0x00
    FP_XCASE 110, "fcvt.s.lu fa0, a1, rne", 0x8000000000000000, 0xffffffff5f000000, 0x00
    /* all ones: -1 signed, 2^64-1 unsigned */
    FP_XCASE 111, "fcvt.s.l fa0, a1, rne", 0xffffffffffffffff, 0xffffffffbf800000, 0x00
    FP_XCASE 112, "fcvt.s.l fa0, a1, rdn", 0xffffffffffffffff, 0xffffffffbf800000, 0x00
    FP_XCASE 113, "fcvt.s.lu fa0, a1, rne", 0xffffffffffffffff, 0xffffffff5f800000, 0x01
    FP_XCASE 114, "fcvt.s.lu fa0, a1, rdn", 0xffffffffffffffff, 0xffffffff5f7fffff, 0x01
    FP_XCASE 115, "fcvt.s.l fa0, a1, rne", 0x0000000100000001, 0xffffffff4f800000, 0x01
    FP_XCASE 116, "fcvt.s.l fa0, a1, rup", 0x0000000100000001, 0xffffffff4f800001, 0x01
    FP_XCASE 117, "fcvt.s.lu fa0, a1, rne", 0x0000000100000001, 0xffffffff4f800000, 0x01
    FP_XCASE 118, "fcvt.s.lu fa0, a1, rup", 0x0000000100000001, 0xffffffff4f800001, 0x01
    /* fcvt.s.d: rounding, overflow, underflow, NaN */
    FP_CASE 119, "fcvt.s.d fa0, fa1, rne", 0x3ff0000000000000, 0, 0, 0xffffffff3f800000, 0x00
    FP_CASE 120, "fcvt.s.d fa0, fa1, rne", 0x3fb999999999999a, 0, 0, 0xffffffff3dcccccd, 0x01
    FP_CASE 121, "fcvt.s.d fa0, fa1, rtz", 0x3fb999999999999a, 0, 0, 0xffffffff3dcccccc, 0x01
    FP_CASE 122, "fcvt.s.d fa0, fa1, rdn", 0x3fb999999999999a, 0, 0, 0xffffffff3dcccccc, 0x01
    FP_CASE 123, "fcvt.s.d fa0, fa1, rup", 0x3fb999999999999a, 0, 0, 0xffffffff3dcccccd, 0x01
    FP_CASE 124, "fcvt.s.d fa0, fa1, rmm", 0x3fb999999999999a, 0, 0, 0xffffffff3dcccccd, 0x01
    FP_CASE 125, "fcvt.s.d fa0, fa1, rne", 0x7fefffffffffffff, 0, 0, 0xffffffff7f800000, 0x05
    FP_CASE 126, "fcvt.s.d fa0, fa1, rtz", 0x7fefffffffffffff, 0, 0, 0xffffffff7f7fffff, 0x05
    FP_CASE 127, "fcvt.s.d fa0, fa1, rup", 0x7fefffffffffffff, 0, 0, 0xffffffff7f800000, 0x05
    FP_CASE 128, "fcvt.s.d fa0, fa1, rne", 0xffefffffffffffff, 0, 0, 0xffffffffff800000, 0x05
    FP_CASE 129, "fcvt.s.d fa0, fa1, rdn", 0xffefffffffffffff, 0, 0, 0xffffffffff800000, 0x05
    FP_CASE 130, "fcvt.s.d fa0, fa1, rup", 0xffefffffffffffff, 0, 0, 0xffffffffff7fffff, 0x05
    FP_CASE 131, "fcvt.s.d fa0, fa1, rne", 0x47efffffefffffff, 0, 0, 0xffffffff7f7fffff, 0x01
    FP_CASE 132, "fcvt.s.d fa0, fa1, rne", 0x47efffff00000000, 0, 0, 0xffffffff7f7ffff8, 0x00
    FP_CASE 133, "fcvt.s.d fa0, fa1, rup", 0x47efffff00000000, 0, 0, 0xffffffff7f7ffff8, 0x00
    FP_CASE 134, "fcvt.s.d fa0, fa1, rne", 0x3810000000000000, 0, 0, 0xffffffff00800000, 0x00
    FP_CASE 135, "fcvt.s.d fa0, fa1, rne", 0x3800000000000000, 0, 0, 0xffffffff00400000, 0x00
    FP_CASE 136, "fcvt.s.d fa0, fa1, rne", 0x36a0000000000000, 0, 0, 0xffffffff00000001, 0x00
    FP_CASE 137, "fcvt.s.d fa0, fa1, rup", 0x36a0000000000000, 0, 0, 0xffffffff00000001, 0x00
    FP_CASE 138, "fcvt.s.d fa0, fa1, rdn", 0x36a0000000000000, 0, 0, 0xffffffff00000001, 0x00
    FP_CASE 139, "fcvt.s.d fa0, fa1, rne", 0x3690000000000000, 0, 0, 0xffffffff00000000, 0x03
    FP_CASE 140, "fcvt.s.d fa0, fa1, rup", 0x3690000000000000, 0, 0, 0xffffffff00000001, 0x03
    FP_CASE 141, "fcvt.s.d fa0, fa1, rne", 0x380fffffffffffff, 0, 0, 0xffffffff00800000, 0x01
    FP_CASE 142, "fcvt.s.d fa0, fa1, rtz", 0x380fffffffffffff, 0, 0, 0xffffffff007fffff, 0x03
    FP_CASE 143, "fcvt.s.d fa0, fa1, rne", 0x8000000000000000, 0, 0, 0xffffffff80000000, 0x00
    FP_CASE 144, "fcvt.s.d fa0, fa1, rne", 0x7ff0000000000000, 0, 0, 0xffffffff7f800000, 0x00
    FP_CASE 145, "fcvt.s.d fa0, fa1, rne", 0x7ff8000000000000, 0, 0, 0xffffffff7fc00000, 0x00
    FP_CASE 146, "fcvt.s.d fa0, fa1, rne", 0x7ff0000000000001, 0, 0, 0xffffffff7fc00000, 0x10
    FP_CASE 147, "fcvt.s.d fa0, fa1, rne", 0xfff8000000000123, 0, 0, 0xffffffff7fc00000, 0x00
    /* fcvt.d.s: exact; NaN in -> canonical NaN; sNaN raises NV */
    FP_CASE 148, "fcvt.d.s fa0, fa1", 0xffffffff3f800000, 0, 0, 0x3ff0000000000000, 0x00
    FP_CASE 149, "fcvt.d.s fa0, fa1", 0xffffffff3dcccccd, 0, 0, 0x3fb99999a0000000, 0x00
    FP_CASE 150, "fcvt.d.s fa0, fa1", 0xffffffff7f7fffff, 0, 0, 0x47efffffe0000000, 0x00
    FP_CASE 151, "fcvt.d.s fa0, fa1", 0xffffffff00000001, 0, 0, 0x36a0000000000000, 0x00
    FP_CASE 152, "fcvt.d.s fa0, fa1", 0xffffffff80800000, 0, 0, 0xb810000000000000, 0x00
    FP_CASE 153, "fcvt.d.s fa0, fa1", 0xffffffff7f800000, 0, 0, 0x7ff0000000000000, 0x00
    FP_CASE 154, "fcvt.d.s fa0, fa1", 0xffffffffff800000, 0, 0, 0xfff0000000000000, 0x00
    FP_CASE 155, "fcvt.d.s fa0, fa1", 0xffffffff7fc00000, 0, 0, 0x7ff8000000000000, 0x00
    FP_CASE 156, "fcvt.d.s fa0, fa1", 0xffffffff7f800001, 0, 0, 0x7ff8000000000000, 0x10
    FP_CASE 157, "fcvt.d.s fa0, fa1", 0xffffffffffc12345, 0, 0, 0x7ff8000000000000, 0x00
    FP_CASE 158, "fcvt.d.s fa0, fa1", 0xffffffff80000000, 0, 0, 0x8000000000000000, 0x00

TEST_END
