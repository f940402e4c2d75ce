/*
 * rv64d-cvt: double-precision conversions: FCVT.{W,WU,L,LU}.D and
 * FCVT.D.{W,WU,L,LU} in every rounding mode, saturation at each boundary with
 * NV/NX flags, W results sign-extended, ties, 2^53+1 inexact.
 * Expected values come from an exact rational model of IEEE 754 rounding.
 */
#include "test.h"

TEST_BEGIN rv64d-cvt

    /* +0 and -0 */
    FP_ICASE 1, "fcvt.w.d a0, fa1, rtz", 0x0000000000000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 2, "fcvt.wu.d a0, fa1, rtz", 0x0000000000000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 3, "fcvt.w.d a0, fa1, rtz", 0x8000000000000000, 0, 0x0000000000000000, 0x00
    FP_ICASE 4, "fcvt.wu.d a0, fa1, rtz", 0x8000000000000000, 0, 0x0000000000000000, 0x00
    /* 1.5 */
    FP_ICASE 5, "fcvt.w.d a0, fa1, rne", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 6, "fcvt.w.d a0, fa1, rtz", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 7, "fcvt.w.d a0, fa1, rdn", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 8, "fcvt.w.d a0, fa1, rup", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 9, "fcvt.w.d a0, fa1, rmm", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 10, "fcvt.wu.d a0, fa1, rne", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 11, "fcvt.wu.d a0, fa1, rtz", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 12, "fcvt.wu.d a0, fa1, rdn", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 13, "fcvt.wu.d a0, fa1, rup", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 14, "fcvt.wu.d a0, fa1, rmm", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    /* -1.5 */
    FP_ICASE 15, "fcvt.w.d a0, fa1, rne", 0xbff8000000000000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 16, "fcvt.w.d a0, fa1, rtz", 0xbff8000000000000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 17, "fcvt.w.d a0, fa1, rdn", 0xbff8000000000000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 18, "fcvt.w.d a0, fa1, rup", 0xbff8000000000000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 19, "fcvt.w.d a0, fa1, rmm", 0xbff8000000000000, 0, 0xfffffffffffffffe, 0x01
    FP_ICASE 20, "fcvt.wu.d a0, fa1, rne", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    FP_ICASE 21, "fcvt.wu.d a0, fa1, rtz", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    FP_ICASE 22, "fcvt.wu.d a0, fa1, rdn", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    FP_ICASE 23, "fcvt.wu.d a0, fa1, rup", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    FP_ICASE 24, "fcvt.wu.d a0, fa1, rmm", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    /* 2.5 */
    FP_ICASE 25, "fcvt.w.d a0, fa1, rne", 0x4004000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 26, "fcvt.w.d a0, fa1, rmm", 0x4004000000000000, 0, 0x0000000000000003, 0x01
    FP_ICASE 27, "fcvt.wu.d a0, fa1, rne", 0x4004000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 28, "fcvt.wu.d a0, fa1, rmm", 0x4004000000000000, 0, 0x0000000000000003, 0x01
    /* -0.9 */
    FP_ICASE 29, "fcvt.w.d a0, fa1, rtz", 0xbfeccccccccccccd, 0, 0x0000000000000000, 0x01
    FP_ICASE 30, "fcvt.w.d a0, fa1, rdn", 0xbfeccccccccccccd, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 31, "fcvt.wu.d a0, fa1, rtz", 0xbfeccccccccccccd, 0, 0x0000000000000000, 0x01
    FP_ICASE 32, "fcvt.wu.d a0, fa1, rdn", 0xbfeccccccccccccd, 0, 0x0000000000000000, 0x10
    /* 2^31-1 exactly */
    FP_ICASE 33, "fcvt.w.d a0, fa1, rne", 0x41dfffffffc00000, 0, 0x000000007fffffff, 0x00
    FP_ICASE 34, "fcvt.wu.d a0, fa1, rne", 0x41dfffffffc00000, 0, 0x000000007fffffff, 0x00
    /* 2^31-0.5 */
    FP_ICASE 35, "fcvt.w.d a0, fa1, rne", 0x41dfffffffe00000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 36, "fcvt.w.d a0, fa1, rtz", 0x41dfffffffe00000, 0, 0x000000007fffffff, 0x01
    FP_ICASE 37, "fcvt.wu.d a0, fa1, rne", 0x41dfffffffe00000, 0, 0xffffffff80000000, 0x01
    FP_ICASE 38, "fcvt.wu.d a0, fa1, rtz", 0x41dfffffffe00000, 0, 0x000000007fffffff, 0x01
    /* 2^31 */
    FP_ICASE 39, "fcvt.w.d a0, fa1, rne", 0x41e0000000000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 40, "fcvt.wu.d a0, fa1, rne", 0x41e0000000000000, 0, 0xffffffff80000000, 0x00
    /* -2^31 */
    FP_ICASE 41, "fcvt.w.d a0, fa1, rne", 0xc1e0000000000000, 0, 0xffffffff80000000, 0x00
    FP_ICASE 42, "fcvt.wu.d a0, fa1, rne", 0xc1e0000000000000, 0, 0x0000000000000000, 0x10
    /* -2^31-0.5 */
    FP_ICASE 43, "fcvt.w.d a0, fa1, rtz", 0xc1e0000000100000, 0, 0xffffffff80000000, 0x01
    FP_ICASE 44, "fcvt.w.d a0, fa1, rne", 0xc1e0000000100000, 0, 0xffffffff80000000, 0x01
    FP_ICASE 45, "fcvt.wu.d a0, fa1, rtz", 0xc1e0000000100000, 0, 0x0000000000000000, 0x10
    FP_ICASE 46, "fcvt.wu.d a0, fa1, rne", 0xc1e0000000100000, 0, 0x0000000000000000, 0x10
    /* -2^31-1 */
    FP_ICASE 47, "fcvt.w.d a0, fa1, rne", 0xc1e0000000200000, 0, 0xffffffff80000000, 0x10
    FP_ICASE 48, "fcvt.wu.d a0, fa1, rne", 0xc1e0000000200000, 0, 0x0000000000000000, 0x10
    /* 2^32-1: wu result sign-extended */
    FP_ICASE 49, "fcvt.w.d a0, fa1, rne", 0x41efffffffe00000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 50, "fcvt.wu.d a0, fa1, rne", 0x41efffffffe00000, 0, 0xffffffffffffffff, 0x00
    /* 2^32 */
    FP_ICASE 51, "fcvt.w.d a0, fa1, rne", 0x41f0000000000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 52, "fcvt.wu.d a0, fa1, rne", 0x41f0000000000000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 53, "fcvt.w.d a0, fa1, rne", 0x7ff0000000000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 54, "fcvt.wu.d a0, fa1, rne", 0x7ff0000000000000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 55, "fcvt.w.d a0, fa1, rne", 0xfff0000000000000, 0, 0xffffffff80000000, 0x10
    FP_ICASE 56, "fcvt.wu.d a0, fa1, rne", 0xfff0000000000000, 0, 0x0000000000000000, 0x10
    /* NaN */
    FP_ICASE 57, "fcvt.w.d a0, fa1, rne", 0x7ff8000000000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 58, "fcvt.wu.d a0, fa1, rne", 0x7ff8000000000000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 59, "fcvt.w.d a0, fa1, rne", 0xfff8000000000000, 0, 0x000000007fffffff, 0x10
    FP_ICASE 60, "fcvt.wu.d a0, fa1, rne", 0xfff8000000000000, 0, 0xffffffffffffffff, 0x10
    /* sNaN */
    FP_ICASE 61, "fcvt.w.d a0, fa1, rne", 0x7ff0000000000001, 0, 0x000000007fffffff, 0x10
    FP_ICASE 62, "fcvt.wu.d a0, fa1, rne", 0x7ff0000000000001, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 63, "fcvt.l.d a0, fa1, rne", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 64, "fcvt.l.d a0, fa1, rdn", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 65, "fcvt.lu.d a0, fa1, rne", 0x3ff8000000000000, 0, 0x0000000000000002, 0x01
    FP_ICASE 66, "fcvt.lu.d a0, fa1, rdn", 0x3ff8000000000000, 0, 0x0000000000000001, 0x01
    FP_ICASE 67, "fcvt.l.d a0, fa1, rtz", 0xbff8000000000000, 0, 0xffffffffffffffff, 0x01
    FP_ICASE 68, "fcvt.lu.d a0, fa1, rtz", 0xbff8000000000000, 0, 0x0000000000000000, 0x10
    /* largest double below 2^63 */
    FP_ICASE 69, "fcvt.l.d a0, fa1, rne", 0x43dfffffffffffff, 0, 0x7ffffffffffffc00, 0x00
    FP_ICASE 70, "fcvt.lu.d a0, fa1, rne", 0x43dfffffffffffff, 0, 0x7ffffffffffffc00, 0x00
    /* 2^63 */
    FP_ICASE 71, "fcvt.l.d a0, fa1, rne", 0x43e0000000000000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 72, "fcvt.lu.d a0, fa1, rne", 0x43e0000000000000, 0, 0x8000000000000000, 0x00
    /* -2^63 */
    FP_ICASE 73, "fcvt.l.d a0, fa1, rne", 0xc3e0000000000000, 0, 0x8000000000000000, 0x00
    FP_ICASE 74, "fcvt.lu.d a0, fa1, rne", 0xc3e0000000000000, 0, 0x0000000000000000, 0x10
    /* below -2^63 */
    FP_ICASE 75, "fcvt.l.d a0, fa1, rne", 0xc3e0000000000001, 0, 0x8000000000000000, 0x10
    FP_ICASE 76, "fcvt.lu.d a0, fa1, rne", 0xc3e0000000000001, 0, 0x0000000000000000, 0x10
    /* largest double below 2^64 */
    FP_ICASE 77, "fcvt.l.d a0, fa1, rne", 0x43efffffffffffff, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 78, "fcvt.lu.d a0, fa1, rne", 0x43efffffffffffff, 0, 0xfffffffffffff800, 0x00
    /* 2^64 */
    FP_ICASE 79, "fcvt.l.d a0, fa1, rne", 0x43f0000000000000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 80, "fcvt.lu.d a0, fa1, rne", 0x43f0000000000000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 81, "fcvt.l.d a0, fa1, rne", 0xfff0000000000000, 0, 0x8000000000000000, 0x10
    FP_ICASE 82, "fcvt.lu.d a0, fa1, rne", 0xfff0000000000000, 0, 0x0000000000000000, 0x10
    FP_ICASE 83, "fcvt.l.d a0, fa1, rne", 0x7ff8000000000000, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 84, "fcvt.lu.d a0, fa1, rne", 0x7ff8000000000000, 0, 0xffffffffffffffff, 0x10
    FP_ICASE 85, "fcvt.l.d a0, fa1, rne", 0x7ff0000000000001, 0, 0x7fffffffffffffff, 0x10
    FP_ICASE 86, "fcvt.lu.d a0, fa1, rne", 0x7ff0000000000001, 0, 0xffffffffffffffff, 0x10
    /* 2^52+1 */
    FP_ICASE 87, "fcvt.l.d a0, fa1, rne", 0x4330000000000001, 0, 0x0010000000000001, 0x00
    FP_ICASE 88, "fcvt.lu.d a0, fa1, rne", 0x4330000000000001, 0, 0x0010000000000001, 0x00
    FP_XCASE 89, "fcvt.d.w fa0, a1", 0x0000000000000000, 0x0000000000000000, 0x00
    FP_XCASE 90, "fcvt.d.wu fa0, a1", 0x0000000000000000, 0x0000000000000000, 0x00
    FP_XCASE 91, "fcvt.d.w fa0, a1", 0xffffffffffffffff, 0xbff0000000000000, 0x00
    FP_XCASE 92, "fcvt.d.wu fa0, a1", 0xffffffffffffffff, 0x41efffffffe00000, 0x00
    /* every int32 is exact in double */
    FP_XCASE 93, "fcvt.d.w fa0, a1", 0x000000007fffffff, 0x41dfffffffc00000, 0x00
    FP_XCASE 94, "fcvt.d.wu fa0, a1", 0x000000007fffffff, 0x41dfffffffc00000, 0x00
    FP_XCASE 95, "fcvt.d.w fa0, a1", 0x0000000080000000, 0xc1e0000000000000, 0x00
    FP_XCASE 96, "fcvt.d.wu fa0, a1", 0x0000000080000000, 0x41e0000000000000, 0x00
    FP_XCASE 97, "fcvt.d.w fa0, a1", 0x00000000ffffffff, 0xbff0000000000000, 0x00
    FP_XCASE 98, "fcvt.d.wu fa0, a1", 0x00000000ffffffff, 0x41efffffffe00000, 0x00
    /* low 32 bits only */
    FP_XCASE 99, "fcvt.d.w fa0, a1", 0xabcdef0087654321, 0xc1de26af37c00000, 0x00
    FP_XCASE 100, "fcvt.d.wu fa0, a1", 0xabcdef0087654321, 0x41e0eca864200000, 0x00
    FP_XCASE 101, "fcvt.d.l fa0, a1, rne", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 102, "fcvt.d.l fa0, a1, rtz", 0x7fffffffffffffff, 0x43dfffffffffffff, 0x01
    FP_XCASE 103, "fcvt.d.l fa0, a1, rdn", 0x7fffffffffffffff, 0x43dfffffffffffff, 0x01
    FP_XCASE 104, "fcvt.d.l fa0, a1, rup", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 105, "fcvt.d.l fa0, a1, rmm", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 106, "fcvt.d.lu fa0, a1, rne", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 107, "fcvt.d.lu fa0, a1, rtz", 0x7fffffffffffffff, 0x43dfffffffffffff, 0x01
    FP_XCASE 108, "fcvt.d.lu fa0, a1, rdn", 0x7fffffffffffffff, 0x43dfffffffffffff, 0x01
    FP_XCASE 109, "fcvt.d.lu fa0, a1, rup", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 110, "fcvt.d.lu fa0, a1, rmm", 0x7fffffffffffffff, 0x43e0000000000000, 0x01
    FP_XCASE 111, "fcvt.d.l fa0, a1, rne", 0x8000000000000000, 0xc3e0000000000000, 0x00
    FP_XCASE 112, "fcvt.d.lu fa0, a1, rne", 0x8000000000000000, 0x43e0000000000000, 0x00
    FP_XCASE 113, "fcvt.d.l fa0, a1, rne", 0xffffffffffffffff, 0xbff0000000000000, 0x00
    FP_XCASE 114, "fcvt.d.l fa0, a1, rtz", 0xffffffffffffffff, 0xbff0000000000000, 0x00
    FP_XCASE 115, "fcvt.d.lu fa0, a1, rne", 0xffffffffffffffff, 0x43f0000000000000, 0x01
    FP_XCASE 116, "fcvt.d.lu fa0, a1, rtz", 0xffffffffffffffff, 0x43efffffffffffff, 0x01
    /* 2^53+1 */
    FP_XCASE 117, "fcvt.d.l fa0, a1, rne", 0x0020000000000001, 0x4340000000000000, 0x01
    FP_XCASE 118, "fcvt.d.l fa0, a1, rup", 0x0020000000000001, 0x4340000000000001, 0x01
    FP_XCASE 119, "fcvt.d.l fa0, a1, rdn", 0x0020000000000001, 0x4340000000000000, 0x01
    FP_XCASE 120, "fcvt.d.lu fa0, a1, rne", 0x0020000000000001, 0x4340000000000000, 0x01
    FP_XCASE 121, "fcvt.d.lu fa0, a1, rup", 0x0020000000000001, 0x4340000000000001, 0x01
    FP_XCASE 122, "fcvt.d.lu fa0, a1, rdn", 0x0020000000000001, 0x4340000000000000, 0x01
    /* 2^53+3 */
    FP_XCASE 123, "fcvt.d.l fa0, a1, rne", 0x0020000000000003, 0x4340000000000002, 0x01
    FP_XCASE 124, "fcvt.d.l fa0, a1, rtz", 0x0020000000000003, 0x4340000000000001, 0x01
    FP_XCASE 125, "fcvt.d.lu fa0, a1, rne", 0x0020000000000003, 0x4340000000000002, 0x01
    FP_XCASE 126, "fcvt.d.lu fa0, a1, rtz", 0x0020000000000003, 0x4340000000000001, 0x01
    FP_XCASE 127, "fcvt.d.l fa0, a1, rne", 0xfffffffffffffc01, 0xc08ff80000000000, 0x00
    FP_XCASE 128, "fcvt.d.lu fa0, a1, rne", 0xfffffffffffffc01, 0x43f0000000000000, 0x01

TEST_END
