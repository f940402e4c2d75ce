/*
 * fp-fs: the mstatus.FS field. With FS = Off every FP instruction (arithmetic,
 * loads/stores, moves, compressed FP loads/stores) and every access to
 * fflags/frm/fcsr is an illegal instruction (mtval = the instruction bits), in
 * M-, S- and U-mode; SD summarises FS. An instruction that writes an FP
 * register or fcsr makes FS Dirty; for instructions that only read FP state
 * the spec allows either, so those are recorded (QEMU is the reference).
 */
#include "test.h"

/* mstatus.FS = v (0 Off, 1 Initial, 2 Clean, 3 Dirty) */
.macro SET_FS v
    li t0, MSTATUS_FS
    csrc mstatus, t0
    li t0, (\v) << 13
    csrs mstatus, t0
.endm
/* reg = mstatus.FS */
.macro GET_FS reg
    csrr \reg, mstatus
    srli \reg, \reg, 13
    andi \reg, \reg, 3
.endm
/* reg = mstatus.SD */
.macro GET_SD reg
    csrr \reg, mstatus
    srli \reg, \reg, 63
.endm

/* insn must trap as illegal with FS = Off; mtval = its encoding */
.macro FS_OFF_TRAP num, name, insn
    TRAP_EXPECT .Lr\@
.Li\@:
    \insn
.Lr\@:
    la t5, .Li\@
    lwu t5, 0(t5)
    CHECK_TRAPR \num, "\name", CAUSE_ILLEGAL, t5, .Li\@
.endm

TEST_BEGIN fp-fs

    la s0, fpbuf
    li t0, 0x3f800000
    fmv.w.x fa1, t0
    fmv.w.x fa2, t0

    SET_FS 0
    GET_FS t1
    CHECK 1, fs-off, t1, 0
    GET_SD t1
    CHECK 2, sd-off, t1, 0
    FS_OFF_TRAP 3, fadd.s-off, "fadd.s fa0, fa1, fa2"
    FS_OFF_TRAP 4, fmadd.d-off, "fmadd.d fa0, fa1, fa2, fa3"
    FS_OFF_TRAP 5, flw-off, "flw fa0, 0(s0)"
    FS_OFF_TRAP 6, fsd-off, "fsd fa0, 0(s0)"
    FS_OFF_TRAP 7, fmv.x.w-off, "fmv.x.w t1, fa1"
    FS_OFF_TRAP 8, fmv.d.x-off, "fmv.d.x fa1, zero"
    FS_OFF_TRAP 9, fcvt.w.s-off, "fcvt.w.s t1, fa1"
    FS_OFF_TRAP 10, fclass.d-off, "fclass.d t1, fa1"
    FS_OFF_TRAP 11, feq.s-off, "feq.s t1, fa1, fa2"
    FS_OFF_TRAP 12, csrr-fflags-off, "csrr t1, fflags"
    FS_OFF_TRAP 13, csrw-frm-off, "csrwi frm, 1"
    FS_OFF_TRAP 14, csrr-fcsr-off, "csrr t1, fcsr"
    FS_OFF_TRAP 15, fsflags-off, "fsflags t1, zero"
    /* compressed FP load/store: mtval holds the 16-bit encoding */
    .option push
    .option rvc
    TRAP_EXPECT 1f
2:  c.fld fa0, 0(s0)
1:  la t5, 2b
    lhu t5, 0(t5)
    CHECK_TRAPR 16, c.fld-off, CAUSE_ILLEGAL, t5, 2b
    TRAP_EXPECT 1f
2:  c.fsdsp fa0, 0(sp)
1:  la t5, 2b
    lhu t5, 0(t5)
    CHECK_TRAPR 17, c.fsdsp-off, CAUSE_ILLEGAL, t5, 2b
    .option pop
    /* the FP state survives FS = Off */
    SET_FS 1
    fmv.x.w t1, fa1
    CHECK 18, regs-kept, t1, 0x3f800000

    /* FS = Off also in S- and U-mode */
    SET_FS 0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, 3f
1:  CHECK_TRAP 19, s-fadd-off, CAUSE_ILLEGAL, 0x00c5f553, 3f
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, 3f
1:  CHECK_TRAP 20, u-fadd-off, CAUSE_ILLEGAL, 0x00c5f553, 3f
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, 4f
1:  CHECK_TRAP 21, u-frcsr-off, CAUSE_ILLEGAL, 0x00302373, 4f

    /* writes make FS Dirty (and SD = 1) */
    SET_FS 1
    GET_SD t1
    CHECK 22, sd-initial, t1, 0
    fadd.s fa0, fa1, fa2
    GET_FS t1
    CHECK 23, fadd-dirty, t1, 3
    GET_SD t1
    CHECK 24, sd-dirty, t1, 1
    SET_FS 2
    GET_SD t1
    CHECK 25, sd-clean, t1, 0
    flw fa0, 0(s0)
    GET_FS t1
    CHECK 26, flw-dirty, t1, 3
    SET_FS 2
    fmv.w.x fa0, zero
    GET_FS t1
    CHECK 27, fmv.w.x-dirty, t1, 3
    SET_FS 1
    csrwi fflags, 1
    GET_FS t1
    CHECK 28, csrw-fflags-dirty, t1, 3
    SET_FS 2
    csrwi frm, 0
    GET_FS t1
    CHECK 29, csrw-frm-dirty, t1, 3
    SET_FS 2
    fcvt.s.w fa0, zero
    GET_FS t1
    CHECK 30, fcvt.s.w-dirty, t1, 3
    SET_FS 2
    li t0, 0x7fc00000
    fmv.w.x fa3, t0
    SET_FS 2
    csrwi fflags, 0
    SET_FS 2
    flt.s t1, fa3, fa1           /* raises NV: fflags changes */
    /* The spec requires Dirty once fflags changes; QEMU 7.2 only marks FS
     * Dirty on FP register writes and leaves it Clean here. Recorded. */
    GET_FS t1
    RECORD 31, flt-nan-fs, t1
    csrr t1, fflags
    CHECK 31, flt-nan-fflags, t1, FFLAG_NV
    csrwi fflags, 0
    /* instructions that only read FP state: recorded */
    SET_FS 2
    fmv.x.w t1, fa1
    GET_FS t1
    RECORD 32, fmv.x.w-fs, t1
    SET_FS 2
    fsw fa1, 0(s0)
    GET_FS t1
    RECORD 33, fsw-fs, t1
    SET_FS 2
    feq.s t1, fa1, fa2
    GET_FS t1
    RECORD 34, feq-noflags-fs, t1
    SET_FS 2
    fclass.s t1, fa1
    GET_FS t1
    RECORD 35, fclass-fs, t1
    SET_FS 2
    csrr t1, fcsr
    GET_FS t1
    RECORD 36, csrr-fcsr-fs, t1
    SET_FS 2
    fcvt.w.s t1, fa1
    GET_FS t1
    RECORD 37, fcvt.w.s-exact-fs, t1
    SET_FS 1
    fsd fa1, 0(s0)
    GET_FS t1
    RECORD 38, fsd-initial-fs, t1

    /* sstatus shows the same FS and SD */
    SET_FS 3
    csrr t1, sstatus
    srli t2, t1, 13
    andi t2, t2, 3
    CHECK 39, sstatus-fs, t2, 3
    srli t2, t1, 63
    CHECK 40, sstatus-sd, t2, 1
    li t0, MSTATUS_FS
    csrc sstatus, t0
    GET_FS t1
    CHECK 41, sstatus-write-fs, t1, 0
    SET_FS 1
    /* a write from S-mode makes FS Dirty as well */
    SET_FS 2
    RUN_IN PRV_S, 5f
    GET_FS t1
    CHECK 42, s-fadd-dirty, t1, 3

TEST_END

3:  fadd.s fa0, fa1, fa2
    RETURN_TO_M
4:  frcsr t1
    RETURN_TO_M
5:  fadd.s fa0, fa1, fa2
    RETURN_TO_M

    .data
    .align 4
fpbuf: .fill 4, 8, 0
