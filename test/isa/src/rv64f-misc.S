/*
 * rv64f-misc: single precision FMIN/FMAX (signed zeros, NaNs), FEQ/FLT/FLE
 * and their flags, FCLASS of all 10 classes, FSGNJ/FSGNJN/FSGNJX, FMV.X.W /
 * FMV.W.X, FLW/FSW, NaN boxing (improperly boxed inputs read as the
 * canonical NaN), and the fcsr/frm/fflags CSRs.
 */
#include "test.h"

TEST_BEGIN rv64f-misc

    /* FMIN/FMAX: -0 < +0; one NaN operand -> the other; both NaN -> canonical; sNaN sets NV */
    FP_CASE 1, "fmin.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff40000000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 2, "fmax.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff40000000, 0, 0xffffffff40000000, 0x00
    FP_CASE 3, "fmin.s fa0, fa1, fa2", 0xffffffff40000000, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 4, "fmax.s fa0, fa1, fa2", 0xffffffff40000000, 0xffffffff3f800000, 0, 0xffffffff40000000, 0x00
    FP_CASE 5, "fmin.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 6, "fmax.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 7, "fmin.s fa0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0, 0xffffffff80000000, 0x00
    FP_CASE 8, "fmax.s fa0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0, 0xffffffff00000000, 0x00
    FP_CASE 9, "fmin.s fa0, fa1, fa2", 0xffffffff00000000, 0xffffffff80000000, 0, 0xffffffff80000000, 0x00
    FP_CASE 10, "fmax.s fa0, fa1, fa2", 0xffffffff00000000, 0xffffffff80000000, 0, 0xffffffff00000000, 0x00
    FP_CASE 11, "fmin.s fa0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 12, "fmax.s fa0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 13, "fmin.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7fc00000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 14, "fmax.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7fc00000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 15, "fmin.s fa0, fa1, fa2", 0xffffffff7f800001, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x10
    FP_CASE 16, "fmax.s fa0, fa1, fa2", 0xffffffff7f800001, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x10
    FP_CASE 17, "fmin.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7f800001, 0, 0xffffffff3f800000, 0x10
    FP_CASE 18, "fmax.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7f800001, 0, 0xffffffff3f800000, 0x10
    FP_CASE 19, "fmin.s fa0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff7fc00000, 0, 0xffffffff7fc00000, 0x00
    FP_CASE 20, "fmax.s fa0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff7fc00000, 0, 0xffffffff7fc00000, 0x00
    FP_CASE 21, "fmin.s fa0, fa1, fa2", 0xffffffff7f800001, 0xffffffff7fc00000, 0, 0xffffffff7fc00000, 0x10
    FP_CASE 22, "fmax.s fa0, fa1, fa2", 0xffffffff7f800001, 0xffffffff7fc00000, 0, 0xffffffff7fc00000, 0x10
    FP_CASE 23, "fmin.s fa0, fa1, fa2", 0xffffffff7fc12345, 0xffffffff7f800001, 0, 0xffffffff7fc00000, 0x10
    FP_CASE 24, "fmax.s fa0, fa1, fa2", 0xffffffff7fc12345, 0xffffffff7f800001, 0, 0xffffffff7fc00000, 0x10
    FP_CASE 25, "fmin.s fa0, fa1, fa2", 0xffffffffff800000, 0xffffffff7f7fffff, 0, 0xffffffffff800000, 0x00
    FP_CASE 26, "fmax.s fa0, fa1, fa2", 0xffffffffff800000, 0xffffffff7f7fffff, 0, 0xffffffff7f7fffff, 0x00
    FP_CASE 27, "fmin.s fa0, fa1, fa2", 0xffffffff7f800000, 0xffffffff7f7fffff, 0, 0xffffffff7f7fffff, 0x00
    FP_CASE 28, "fmax.s fa0, fa1, fa2", 0xffffffff7f800000, 0xffffffff7f7fffff, 0, 0xffffffff7f800000, 0x00
    FP_CASE 29, "fmin.s fa0, fa1, fa2", 0xffffffff00000010, 0xffffffff80000010, 0, 0xffffffff80000010, 0x00
    FP_CASE 30, "fmax.s fa0, fa1, fa2", 0xffffffff00000010, 0xffffffff80000010, 0, 0xffffffff00000010, 0x00
    /* FEQ (quiet: NV only for sNaN), FLT/FLE (signaling: NV for any NaN) */
    FP_ICASE 31, "feq.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff3f800000, 0x0000000000000001, 0x00
    FP_ICASE 32, "flt.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 33, "fle.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff3f800000, 0x0000000000000001, 0x00
    FP_ICASE 34, "feq.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff40000000, 0x0000000000000000, 0x00
    FP_ICASE 35, "flt.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff40000000, 0x0000000000000001, 0x00
    FP_ICASE 36, "fle.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff40000000, 0x0000000000000001, 0x00
    FP_ICASE 37, "feq.s a0, fa1, fa2", 0xffffffff40000000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 38, "flt.s a0, fa1, fa2", 0xffffffff40000000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 39, "fle.s a0, fa1, fa2", 0xffffffff40000000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 40, "feq.s a0, fa1, fa2", 0xffffffff00000000, 0xffffffff80000000, 0x0000000000000001, 0x00
    FP_ICASE 41, "flt.s a0, fa1, fa2", 0xffffffff00000000, 0xffffffff80000000, 0x0000000000000000, 0x00
    FP_ICASE 42, "fle.s a0, fa1, fa2", 0xffffffff00000000, 0xffffffff80000000, 0x0000000000000001, 0x00
    FP_ICASE 43, "feq.s a0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0x0000000000000001, 0x00
    FP_ICASE 44, "flt.s a0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0x0000000000000000, 0x00
    FP_ICASE 45, "fle.s a0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0x0000000000000001, 0x00
    FP_ICASE 46, "feq.s a0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 47, "flt.s a0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0x0000000000000001, 0x00
    FP_ICASE 48, "fle.s a0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0x0000000000000001, 0x00
    FP_ICASE 49, "feq.s a0, fa1, fa2", 0xffffffffff800000, 0xffffffff7f800000, 0x0000000000000000, 0x00
    FP_ICASE 50, "flt.s a0, fa1, fa2", 0xffffffffff800000, 0xffffffff7f800000, 0x0000000000000001, 0x00
    FP_ICASE 51, "fle.s a0, fa1, fa2", 0xffffffffff800000, 0xffffffff7f800000, 0x0000000000000001, 0x00
    FP_ICASE 52, "feq.s a0, fa1, fa2", 0xffffffff7f800000, 0xffffffff7f800000, 0x0000000000000001, 0x00
    FP_ICASE 53, "flt.s a0, fa1, fa2", 0xffffffff7f800000, 0xffffffff7f800000, 0x0000000000000000, 0x00
    FP_ICASE 54, "fle.s a0, fa1, fa2", 0xffffffff7f800000, 0xffffffff7f800000, 0x0000000000000001, 0x00
    FP_ICASE 55, "feq.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff3f800000, 0x0000000000000000, 0x00
    FP_ICASE 56, "flt.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff3f800000, 0x0000000000000000, 0x10
    FP_ICASE 57, "fle.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff3f800000, 0x0000000000000000, 0x10
    FP_ICASE 58, "feq.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7fc00000, 0x0000000000000000, 0x00
    FP_ICASE 59, "flt.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7fc00000, 0x0000000000000000, 0x10
    FP_ICASE 60, "fle.s a0, fa1, fa2", 0xffffffff3f800000, 0xffffffff7fc00000, 0x0000000000000000, 0x10
    FP_ICASE 61, "feq.s a0, fa1, fa2", 0xffffffff7f800001, 0xffffffff3f800000, 0x0000000000000000, 0x10
    FP_ICASE 62, "flt.s a0, fa1, fa2", 0xffffffff7f800001, 0xffffffff3f800000, 0x0000000000000000, 0x10
    FP_ICASE 63, "fle.s a0, fa1, fa2", 0xffffffff7f800001, 0xffffffff3f800000, 0x0000000000000000, 0x10
    FP_ICASE 64, "feq.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff7fc00000, 0x0000000000000000, 0x00
    FP_ICASE 65, "flt.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff7fc00000, 0x0000000000000000, 0x10
    FP_ICASE 66, "fle.s a0, fa1, fa2", 0xffffffff7fc00000, 0xffffffff7fc00000, 0x0000000000000000, 0x10
    FP_ICASE 67, "feq.s a0, fa1, fa2", 0xffffffff00000010, 0xffffffff00000000, 0x0000000000000000, 0x00
    FP_ICASE 68, "flt.s a0, fa1, fa2", 0xffffffff00000010, 0xffffffff00000000, 0x0000000000000000, 0x00
    FP_ICASE 69, "fle.s a0, fa1, fa2", 0xffffffff00000010, 0xffffffff00000000, 0x0000000000000000, 0x00
    /* FCLASS: one bit for each of the 10 classes */
    FP_ICASE 70, "fclass.s a0, fa1", 0xffffffffff800000, 0xffffffff00000000, 0x0000000000000001, 0x00
    FP_ICASE 71, "fclass.s a0, fa1", 0xffffffffc0490fdb, 0xffffffff00000000, 0x0000000000000002, 0x00
    FP_ICASE 72, "fclass.s a0, fa1", 0xffffffff80000010, 0xffffffff00000000, 0x0000000000000004, 0x00
    FP_ICASE 73, "fclass.s a0, fa1", 0xffffffff80000000, 0xffffffff00000000, 0x0000000000000008, 0x00
    FP_ICASE 74, "fclass.s a0, fa1", 0xffffffff00000000, 0xffffffff00000000, 0x0000000000000010, 0x00
    FP_ICASE 75, "fclass.s a0, fa1", 0xffffffff00000010, 0xffffffff00000000, 0x0000000000000020, 0x00
    FP_ICASE 76, "fclass.s a0, fa1", 0xffffffff3f800000, 0xffffffff00000000, 0x0000000000000040, 0x00
    FP_ICASE 77, "fclass.s a0, fa1", 0xffffffff7f800000, 0xffffffff00000000, 0x0000000000000080, 0x00
    FP_ICASE 78, "fclass.s a0, fa1", 0xffffffff7f800001, 0xffffffff00000000, 0x0000000000000100, 0x00
    FP_ICASE 79, "fclass.s a0, fa1", 0xffffffff7fc00000, 0xffffffff00000000, 0x0000000000000200, 0x00
    FP_ICASE 80, "fclass.s a0, fa1", 0xffffffffff812345, 0xffffffff00000000, 0x0000000000000100, 0x00
    FP_ICASE 81, "fclass.s a0, fa1", 0xffffffffffc12345, 0xffffffff00000000, 0x0000000000000200, 0x00
    FP_ICASE 82, "fclass.s a0, fa1", 0xffffffff7f7fffff, 0xffffffff00000000, 0x0000000000000040, 0x00
    FP_ICASE 83, "fclass.s a0, fa1", 0xffffffff00000001, 0xffffffff00000000, 0x0000000000000020, 0x00
    /* FSGNJ/FSGNJN/FSGNJX: sign bit only, no canonicalisation, no flags */
    FP_CASE 84, "fsgnj.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffffbf800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 85, "fsgnjn.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffffbf800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 86, "fsgnjx.s fa0, fa1, fa2", 0xffffffff3f800000, 0xffffffffbf800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 87, "fsgnj.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 88, "fsgnjn.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 89, "fsgnjx.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffff3f800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 90, "fsgnj.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffbf800000, 0, 0xffffffffbf800000, 0x00
    FP_CASE 91, "fsgnjn.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffbf800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 92, "fsgnjx.s fa0, fa1, fa2", 0xffffffffbf800000, 0xffffffffbf800000, 0, 0xffffffff3f800000, 0x00
    FP_CASE 93, "fsgnj.s fa0, fa1, fa2", 0xffffffff7fc12345, 0xffffffffbf800000, 0, 0xffffffffffc12345, 0x00
    FP_CASE 94, "fsgnjn.s fa0, fa1, fa2", 0xffffffff7fc12345, 0xffffffffbf800000, 0, 0xffffffff7fc12345, 0x00
    FP_CASE 95, "fsgnjx.s fa0, fa1, fa2", 0xffffffff7fc12345, 0xffffffffbf800000, 0, 0xffffffffffc12345, 0x00
    FP_CASE 96, "fsgnj.s fa0, fa1, fa2", 0xffffffffff812345, 0xffffffff3f800000, 0, 0xffffffff7f812345, 0x00
    FP_CASE 97, "fsgnjn.s fa0, fa1, fa2", 0xffffffffff812345, 0xffffffff3f800000, 0, 0xffffffffff812345, 0x00
    FP_CASE 98, "fsgnjx.s fa0, fa1, fa2", 0xffffffffff812345, 0xffffffff3f800000, 0, 0xffffffffff812345, 0x00
    FP_CASE 99, "fsgnj.s fa0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0, 0xffffffff00000000, 0x00
    FP_CASE 100, "fsgnjn.s fa0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0, 0xffffffff80000000, 0x00
    FP_CASE 101, "fsgnjx.s fa0, fa1, fa2", 0xffffffff80000000, 0xffffffff00000000, 0, 0xffffffff80000000, 0x00
    FP_CASE 102, "fsgnj.s fa0, fa1, fa2", 0xffffffff7f800000, 0xffffffffff800000, 0, 0xffffffffff800000, 0x00
    FP_CASE 103, "fsgnjn.s fa0, fa1, fa2", 0xffffffff7f800000, 0xffffffffff800000, 0, 0xffffffff7f800000, 0x00
    FP_CASE 104, "fsgnjx.s fa0, fa1, fa2", 0xffffffff7f800000, 0xffffffffff800000, 0, 0xffffffffff800000, 0x00

    /* ---- NaN boxing ---- */
    /* FMV.W.X and FLW write a NaN-boxed value (upper 32 bits all ones) */
    li t0, 0x123456783f800000
    fmv.w.x fa0, t0
    fmv.x.d t1, fa0
    CHECK 105, fmv.w.x-boxes, t1, 0xffffffff3f800000
    la t2, fpdata
    li t0, 0xc0490fdb
    sw t0, 0(t2)
    fld fa0, 8(t2)              /* make sure fa0 held something else */
    flw fa0, 0(t2)
    fmv.x.d t1, fa0
    CHECK 106, flw-boxes, t1, 0xffffffffc0490fdb
    /* FMV.X.W sign-extends the low 32 bits and ignores the upper bits */
    li t0, 0xffffffffbf800000
    fmv.d.x fa1, t0
    fmv.x.w t1, fa1
    CHECK 107, fmv.x.w-sext, t1, 0xffffffffbf800000
    li t0, 0x000000003f800000   /* not properly boxed */
    fmv.d.x fa1, t0
    fmv.x.w t1, fa1
    CHECK 108, fmv.x.w-unboxed, t1, 0x3f800000
    /* FSW stores the low 32 bits whatever the boxing */
    li t0, 0x1234567840400000
    fmv.d.x fa1, t0
    la t2, fpdata
    sd zero, 16(t2)
    fsw fa1, 16(t2)
    ld t1, 16(t2)
    CHECK 109, fsw-unboxed, t1, 0x40400000
    /* an improperly boxed input is the canonical NaN for single-precision operations */
    FP_CASE 110, "fadd.s fa0, fa1, fa2", 0x000000003f800000, 0xffffffff3f800000, 0, 0xffffffff7fc00000, 0
    FP_CASE 111, "fadd.s fa0, fa1, fa2", 0xfffffffe3f800000, 0xffffffff3f800000, 0, 0xffffffff7fc00000, 0
    FP_CASE 112, "fmul.s fa0, fa1, fa2", 0xffffffff40000000, 0x7fffffff40000000, 0, 0xffffffff7fc00000, 0
    FP_CASE 113, "fmin.s fa0, fa1, fa2", 0x000000003f800000, 0xffffffff40000000, 0, 0xffffffff40000000, 0
    FP_CASE 114, "fsgnj.s fa0, fa1, fa2", 0x00000000bf800000, 0xffffffffbf800000, 0, 0xffffffffffc00000, 0
    FP_CASE 115, "fsgnjx.s fa0, fa1, fa2", 0xffffffff3f800000, 0x00000000bf800000, 0, 0xffffffff3f800000, 0
    FP_CASE 116, "fcvt.d.s fa0, fa1", 0x000000003f800000, 0, 0, 0x7ff8000000000000, 0
    FP_CASE 117, "fmadd.s fa0, fa1, fa2, fa3", 0xffffffff3f800000, 0xffffffff3f800000, 0x0000000000000000, 0xffffffff7fc00000, 0
    FP_ICASE 118, "fclass.s a0, fa1", 0x000000003f800000, 0, 0x200, 0
    FP_ICASE 119, "feq.s a0, fa1, fa2", 0x000000003f800000, 0x000000003f800000, 0, 0
    FP_ICASE 120, "flt.s a0, fa1, fa2", 0x000000003f800000, 0xffffffff3f800000, 0, FFLAG_NV
    FP_ICASE 121, "fcvt.w.s a0, fa1, rtz", 0x00000000bf800000, 0, 0x7fffffff, FFLAG_NV
    /* the double-precision view of a boxed single is a NaN */
    FP_ICASE 122, "fclass.d a0, fa1", 0xffffffff3f800000, 0, 0x200, 0

    /* ---- fcsr, frm, fflags ---- */
    csrwi fcsr, 0
    li t0, 0xff
    csrw fcsr, t0
    csrr t1, fcsr
    CHECK 123, fcsr-ff, t1, 0xff
    csrr t1, frm
    CHECK 124, frm-of-fcsr, t1, 7
    csrr t1, fflags
    CHECK 125, fflags-of-fcsr, t1, 0x1f
    li t0, -1
    csrw fcsr, t0
    csrr t1, fcsr
    CHECK 126, fcsr-reserved-bits, t1, 0xff
    li t0, -1
    csrw fflags, t0
    csrr t1, fflags
    CHECK 127, fflags-5-bits, t1, 0x1f
    csrw frm, t0
    csrr t1, frm
    CHECK 128, frm-3-bits, t1, 7
    csrwi fcsr, 0
    csrwi frm, 2
    csrr t1, fcsr
    CHECK 129, fcsr-from-frm, t1, 0x40
    csrwi fflags, 5
    csrr t1, fcsr
    CHECK 130, fcsr-from-both, t1, 0x45
    /* fsrm / fsflags return the old value */
    li t0, 1
    fsrm t1, t0
    CHECK 131, fsrm-old, t1, 2
    li t0, 0x10
    fsflags t1, t0
    CHECK 132, fsflags-old, t1, 5
    csrr t1, fcsr
    CHECK 133, fcsr-after-swaps, t1, 0x30
    csrwi fcsr, 0
    /* flags accumulate: they are sticky until cleared */
    li t0, 0xffffffff3f800000
    fmv.d.x fa1, t0
    li t0, 0xffffffff40400000
    fmv.d.x fa2, t0
    fmv.w.x fa3, zero           /* +0.0, boxed */
    fdiv.s fa0, fa1, fa2        /* NX */
    fdiv.s fa0, fa1, fa3        /* DZ */
    csrr t1, fflags
    CHECK 134, flags-accumulate, t1, 0x09
    fadd.s fa0, fa1, fa2        /* exact: flags unchanged */
    csrr t1, fflags
    CHECK 135, flags-sticky, t1, 0x09
    csrrci t1, fflags, 0x8
    csrr t2, fflags
    CHECK 136, flags-clear-one, t2, 0x01
    csrwi fcsr, 0


TEST_END

    .data
    .align 4
fpdata: .fill 4, 8, 0
