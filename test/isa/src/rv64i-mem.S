/*
 * rv64i-mem: every load and store width, sign and zero extension, positive
 * and negative offsets, little-endian byte order, partial stores, a load into
 * x0, FENCE, and FENCE.I after self-modifying code.
 */
#include "test.h"

/* Load with op from mem_src + off; compare. */
.macro TEST_LD num, op, off, exp
    la t1, mem_src
    \op t3, \off(t1)
    CHECK \num, "\op", t3, \exp
.endm

/* Fill mem_dst with 0xaa.., store v with op at off, read back the dword at 0 and 8. */
.macro TEST_ST num, op, off, v, exp0, exp8
    la t1, mem_dst
    li t2, 0xaaaaaaaaaaaaaaaa
    sd t2, 0(t1)
    sd t2, 8(t1)
    li t2, \v
    \op t2, \off(t1)
    ld t3, 0(t1)
    ld t4, 8(t1)
    CHECK \num, "\op", t3, \exp0
    CHECK \num, "\op+8", t4, \exp8
.endm

TEST_BEGIN rv64i-mem

    /* mem_src = 80 01 7f ff 00 80 ff 7f | 88 77 66 55 44 33 22 11 */
    TEST_LD 1, lb, 0, 0xffffffffffffff80
    TEST_LD 2, lb, 1, 0x01
    TEST_LD 3, lb, 2, 0x7f
    TEST_LD 4, lb, 3, 0xffffffffffffffff
    TEST_LD 5, lbu, 0, 0x80
    TEST_LD 6, lbu, 3, 0xff
    TEST_LD 7, lbu, 2, 0x7f
    TEST_LD 8, lh, 0, 0x0180
    TEST_LD 9, lh, 2, 0xffffffffffffff7f
    TEST_LD 10, lh, 4, 0xffffffffffff8000
    TEST_LD 11, lh, 6, 0x7fff
    TEST_LD 12, lhu, 2, 0xff7f
    TEST_LD 13, lhu, 4, 0x8000
    TEST_LD 14, lw, 0, 0xffffffffff7f0180
    TEST_LD 15, lw, 4, 0x7fff8000
    TEST_LD 16, lw, 8, 0x55667788
    TEST_LD 17, lwu, 0, 0xff7f0180
    TEST_LD 18, lwu, 4, 0x7fff8000
    TEST_LD 19, ld, 0, 0x7fff8000ff7f0180
    TEST_LD 20, ld, 8, 0x1122334455667788
    TEST_LD 21, lw, 12, 0x11223344
    TEST_LD 22, lhu, 14, 0x1122
    TEST_LD 23, lbu, 15, 0x11
    /* negative offsets */
    la t1, mem_src + 16
    ld t3, -8(t1)
    CHECK 24, ld-neg, t3, 0x1122334455667788
    lb t3, -16(t1)
    CHECK 25, lb-neg, t3, 0xffffffffffffff80
    la t1, mem_src + 2048
    lbu t3, -2048(t1)
    CHECK 26, lbu-neg2048, t3, 0x80
    la t1, mem_src - 2047
    lbu t3, 2047(t1)
    CHECK 27, lbu-pos2047, t3, 0x80
    /* base register is the destination */
    la t3, mem_src
    ld t3, 8(t3)
    CHECK 28, ld-rd-eq-rs1, t3, 0x1122334455667788
    /* load into x0 is discarded */
    la t1, mem_src
    ld x0, 8(t1)
    CHECK 29, ld-x0, x0, 0

    /* stores: only the addressed bytes change */
    TEST_ST 30, sb, 0, 0x1234567890abcdef, 0xaaaaaaaaaaaaaaef, 0xaaaaaaaaaaaaaaaa
    TEST_ST 31, sb, 7, 0x00, 0x00aaaaaaaaaaaaaa, 0xaaaaaaaaaaaaaaaa
    TEST_ST 32, sb, 9, 0x7f, 0xaaaaaaaaaaaaaaaa, 0xaaaaaaaaaaaa7faa
    TEST_ST 33, sh, 0, 0x1234567890abcdef, 0xaaaaaaaaaaaacdef, 0xaaaaaaaaaaaaaaaa
    TEST_ST 34, sh, 6, 0xffff, 0xffffaaaaaaaaaaaa, 0xaaaaaaaaaaaaaaaa
    TEST_ST 35, sh, 10, 0x8001, 0xaaaaaaaaaaaaaaaa, 0xaaaaaaaa8001aaaa
    TEST_ST 36, sw, 0, 0x1234567890abcdef, 0xaaaaaaaa90abcdef, 0xaaaaaaaaaaaaaaaa
    TEST_ST 37, sw, 4, 0x80000000, 0x80000000aaaaaaaa, 0xaaaaaaaaaaaaaaaa
    TEST_ST 38, sw, 12, 0, 0xaaaaaaaaaaaaaaaa, 0x00000000aaaaaaaa
    TEST_ST 39, sd, 0, 0x1234567890abcdef, 0x1234567890abcdef, 0xaaaaaaaaaaaaaaaa
    TEST_ST 40, sd, 8, -1, 0xaaaaaaaaaaaaaaaa, 0xffffffffffffffff
    /* store x0 */
    TEST_ST 41, sd, 0, 0, 0, 0xaaaaaaaaaaaaaaaa
    la t1, mem_dst
    sd x0, 8(t1)
    ld t3, 8(t1)
    CHECK 42, sd-x0, t3, 0
    /* store negative offset */
    la t1, mem_dst + 16
    li t2, 0x0102030405060708
    sd t2, -16(t1)
    sw t2, -8(t1)
    sh t2, -4(t1)
    sb t2, -2(t1)
    ld t3, -16(t1)
    CHECK 43, sd-neg, t3, 0x0102030405060708
    ld t3, -8(t1)
    CHECK 44, s-neg-mix, t3, 0x0008070805060708
    /* store then load of other widths: byte order */
    la t1, mem_dst
    li t2, 0x8877665544332211
    sd t2, 0(t1)
    lbu t3, 0(t1)
    CHECK 45, le-byte0, t3, 0x11
    lbu t3, 7(t1)
    CHECK 46, le-byte7, t3, 0x88
    lh t3, 6(t1)
    CHECK 47, le-half3, t3, 0xffffffffffff8877
    lw t3, 4(t1)
    CHECK 48, le-word1, t3, 0xffffffff88776655
    lhu t3, 2(t1)
    CHECK 49, le-half1, t3, 0x4433

    /* FENCE variants execute as no-ops for a single hart */
    la t1, mem_dst
    li t2, 0x5a
    sd t2, 0(t1)
    fence
    fence rw, rw
    fence r, r
    fence w, w
    fence iorw, iorw
    fence.tso
    ld t3, 0(t1)
    CHECK 50, fence, t3, 0x5a

    /* FENCE.I after patching code in .text */
    li t3, 0
    call patch_slot
    CHECK 51, smc-before, t3, 1
    la t1, patch_slot
    li t2, 0x00200e13           /* addi t3, x0, 2 */
    sw t2, 0(t1)
    fence.i
    call patch_slot
    CHECK 52, smc-after, t3, 2
    li t2, 0x7ff00e13           /* addi t3, x0, 2047 */
    sw t2, 0(t1)
    fence.i
    call patch_slot
    CHECK 53, smc-again, t3, 2047
    /* code written to a data buffer, then executed */
    la t1, code_buf
    li t2, 0x12300e13           /* addi t3, x0, 0x123 */
    sw t2, 0(t1)
    li t2, 0x001e0e1b           /* addiw t3, t3, 1 */
    sw t2, 4(t1)
    li t2, 0x00008067           /* ret */
    sw t2, 8(t1)
    fence.i
    li t3, 0
    jalr ra, 0(t1)
    CHECK 54, smc-buffer, t3, 0x124
    /* rewrite the buffer with different code, fence.i, run again */
    li t2, 0xfff00e13           /* addi t3, x0, -1 */
    sw t2, 0(t1)
    li t2, 0x01fe1e13           /* slli t3, t3, 31 */
    sw t2, 4(t1)
    fence.i
    jalr ra, 0(t1)
    CHECK 55, smc-buffer2, t3, 0xffffffff80000000
    /* patch a single halfword (compressed c.li t3... not: c.li needs x8-x15?
       c.li allows any rd): c.li t3, 5 = 0x4e15, c.jr ra = 0x8082 */
    li t2, 0x80824e15
    sw t2, 0(t1)
    fence.i
    li t3, 0
    jalr ra, 0(t1)
    CHECK 56, smc-compressed, t3, 5

TEST_END

    .align 2
patch_slot:
    addi t3, x0, 1
    ret

    .data
    .align 4
mem_src:
    .byte 0x80, 0x01, 0x7f, 0xff, 0x00, 0x80, 0xff, 0x7f
    .dword 0x1122334455667788
mem_dst:
    .dword 0, 0
    .align 4
code_buf:
    .fill 16, 4, 0
