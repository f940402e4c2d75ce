/*
 * rv64c: every RV64C instruction, written with explicit c.* mnemonics:
 * immediates at their limits and sign extension, CL/CS/CIW register fields
 * (x8..x15), the sp-based forms, C.J/C.JR/C.JALR (link = pc + 2),
 * C.BEQZ/C.BNEZ both ways, C.EBREAK (cause 3), the all-zero halfword
 * (illegal, mtval = 0) and reserved encodings (illegal, mtval = the 16 bits).
 * Note: RV64 has no C.JAL; its encoding is C.ADDIW.
 */
#include "test.h"

    .option rvc

TEST_BEGIN rv64c

    /* ---- CI: c.li, c.lui, c.addi, c.addiw, c.addi16sp, c.slli ---- */
    c.li s0, 31
    CHECK 1, c.li+31, s0, 31
    c.li s0, -32
    CHECK 2, c.li-32, s0, -32
    c.li t3, 0
    CHECK 3, c.li0, t3, 0
    c.lui s0, 1
    CHECK 4, c.lui1, s0, 0x1000
    c.lui s0, 0x1f
    CHECK 5, c.lui0x1f, s0, 0x1f000
    c.lui s0, 0xfffe0               /* nzimm = -32: sign-extended */
    CHECK 6, c.lui-neg, s0, 0xfffffffffffe0000
    c.lui t4, 0xfffff
    CHECK 7, c.lui-1, t4, 0xfffffffffffff000
    li s0, 10
    c.addi s0, -11
    CHECK 8, c.addi-neg, s0, -1
    li s0, 0x7fffffffffffffff
    c.addi s0, 1
    CHECK 9, c.addi-wrap, s0, 0x8000000000000000
    li s0, 0
    c.addi s0, 31
    CHECK 10, c.addi31, s0, 31
    li s0, 0x7fffffff
    c.addiw s0, 1
    CHECK 11, c.addiw-wrap, s0, 0xffffffff80000000
    li s0, 0x123456789
    c.addiw s0, 0                   /* sext.w */
    CHECK 12, c.addiw0, s0, 0x23456789
    li s0, 0xffffffff
    c.addiw s0, -32
    CHECK 13, c.addiw-neg, s0, 0xffffffffffffffdf
    mv s1, sp
    c.addi16sp sp, -512
    sub t3, s1, sp
    CHECK 14, c.addi16sp-512, t3, 512
    c.addi16sp sp, 496
    sub t3, s1, sp
    CHECK 15, c.addi16sp+496, t3, 16
    c.addi16sp sp, 16
    sub t3, s1, sp
    CHECK 16, c.addi16sp+16, t3, 0
    li s0, 1
    c.slli s0, 63
    CHECK 17, c.slli63, s0, 0x8000000000000000
    li s0, 0x123
    c.slli s0, 4
    CHECK 18, c.slli4, s0, 0x1230
    li t3, 0xffffffff
    c.slli t3, 32
    CHECK 19, c.slli32, t3, 0xffffffff00000000

    /* ---- CIW: c.addi4spn ---- */
    c.addi4spn s0, sp, 4
    sub t3, s0, sp
    CHECK 20, c.addi4spn4, t3, 4
    c.addi4spn a5, sp, 1020
    sub t3, a5, sp
    CHECK 21, c.addi4spn1020, t3, 1020

    /* ---- CB: c.srli, c.srai, c.andi ---- */
    li s0, 0x8000000000000000
    c.srli s0, 63
    CHECK 22, c.srli63, s0, 1
    li s0, 0x8000000000000000
    c.srli s0, 1
    CHECK 23, c.srli1, s0, 0x4000000000000000
    li s0, 0x8000000000000000
    c.srai s0, 63
    CHECK 24, c.srai63, s0, -1
    li s0, 0x8000000000000000
    c.srai s0, 32
    CHECK 25, c.srai32, s0, 0xffffffff80000000
    li s0, 0x7ff0
    c.srai s0, 4
    CHECK 26, c.srai4, s0, 0x7ff
    li s0, -1
    c.andi s0, 15
    CHECK 27, c.andi15, s0, 15
    li s0, 0x12345678
    c.andi s0, -16
    CHECK 28, c.andi-16, s0, 0x12345670
    li s0, 0x12345678
    c.andi s0, 0
    CHECK 29, c.andi0, s0, 0

    /* ---- CA: c.sub, c.xor, c.or, c.and, c.subw, c.addw ---- */
    li s0, 5
    li s1, 7
    c.sub s0, s1
    CHECK 30, c.sub, s0, -2
    li s0, 0xff00
    li s1, 0x0ff0
    c.xor s0, s1
    CHECK 31, c.xor, s0, 0xf0f0
    li s0, 0xff00
    c.or s0, s1
    CHECK 32, c.or, s0, 0xfff0
    li s0, 0xff00
    c.and s0, s1
    CHECK 33, c.and, s0, 0x0f00
    li s0, 0x80000000
    li s1, 1
    c.subw s0, s1
    CHECK 34, c.subw, s0, 0x7fffffff
    li s0, 0
    c.subw s0, s1
    CHECK 35, c.subw-neg, s0, -1
    li s0, 0x7fffffff
    c.addw s0, s1
    CHECK 36, c.addw, s0, 0xffffffff80000000
    li s0, 0x1ffffffff
    li s1, 0x100000001
    c.addw s0, s1
    CHECK 37, c.addw-upper, s0, 0

    /* ---- CR: c.mv, c.add ---- */
    li t4, 0x1234
    c.mv t3, t4
    CHECK 38, c.mv, t3, 0x1234
    li t3, 0x8000000000000000
    li t4, 0x8000000000000001
    c.add t3, t4
    CHECK 39, c.add, t3, 1
    c.add t3, t3
    CHECK 40, c.add-same, t3, 2

    /* ---- CL / CS: c.lw, c.ld, c.sw, c.sd, c.fld, c.fsd ---- */
    la s1, cdata
    c.lw s0, 0(s1)
    CHECK 41, c.lw-sext, s0, 0xffffffff80000001
    c.lw s0, 124(s1)
    CHECK 42, c.lw124, s0, 0x7eadbeef
    c.ld s0, 8(s1)
    CHECK 43, c.ld, s0, 0x0123456789abcdef
    c.ld s0, 248(s1)
    CHECK 44, c.ld248, s0, 0x1122334455667788
    li s0, 0xaabbccdd11223344
    c.sw s0, 16(s1)
    ld t3, 16(s1)
    CHECK 45, c.sw, t3, 0x11223344
    c.sd s0, 24(s1)
    ld t3, 24(s1)
    CHECK 46, c.sd, t3, 0xaabbccdd11223344
    c.fld fa5, 8(s1)
    fmv.x.d t3, fa5
    CHECK 47, c.fld, t3, 0x0123456789abcdef
    c.fsd fa5, 32(s1)
    ld t3, 32(s1)
    CHECK 48, c.fsd, t3, 0x0123456789abcdef

    /* ---- sp-based: c.lwsp, c.ldsp, c.fldsp, c.swsp, c.sdsp, c.fsdsp ---- */
    mv s1, sp
    la sp, cdata
    c.lwsp t3, 0(sp)
    c.ldsp t4, 8(sp)
    c.fldsp ft0, 8(sp)
    c.lwsp t5, 124(sp)
    c.ldsp t6, 248(sp)
    li t0, 0x5555666677778888
    c.swsp t0, 40(sp)
    c.sdsp t0, 48(sp)
    fmv.d.x ft1, t0
    c.fsdsp ft1, 56(sp)
    c.swsp t0, 252(sp)
    c.sdsp t0, 504(sp)
    mv sp, s1
    CHECK 49, c.lwsp, t3, 0xffffffff80000001
    CHECK 50, c.ldsp, t4, 0x0123456789abcdef
    fmv.x.d t3, ft0
    CHECK 51, c.fldsp, t3, 0x0123456789abcdef
    CHECK 52, c.lwsp124, t5, 0x7eadbeef
    CHECK 53, c.ldsp248, t6, 0x1122334455667788
    la s1, cdata
    ld t3, 40(s1)
    CHECK 54, c.swsp, t3, 0x77778888
    ld t3, 48(s1)
    CHECK 55, c.sdsp, t3, 0x5555666677778888
    ld t3, 56(s1)
    CHECK 56, c.fsdsp, t3, 0x5555666677778888
    lwu t3, 252(s1)
    CHECK 57, c.swsp252, t3, 0x77778888
    ld t3, 504(s1)
    CHECK 58, c.sdsp504, t3, 0x5555666677778888

    /* ---- control transfer ---- */
    li t3, 0
    c.j 1f
    li t3, 1
1:  CHECK 59, c.j, t3, 0
    li t3, 0
    c.j 3f
2:  addi t3, t3, 10
    c.j 4f
3:  addi t3, t3, 1
    c.j 2b
4:  CHECK 60, c.j-back, t3, 11
    li s0, 0
    li t3, 0
    c.beqz s0, 1f
    li t3, 1
1:  CHECK 61, c.beqz-taken, t3, 0
    li s0, 0x100000000
    li t3, 0
    c.beqz s0, 1f
    li t3, 1
1:  CHECK 62, c.beqz-not, t3, 1
    li t3, 0
    c.bnez s0, 1f
    li t3, 1
1:  CHECK 63, c.bnez-taken, t3, 0
    li s0, 0
    li t3, 0
    c.bnez s0, 1f
    li t3, 1
1:  CHECK 64, c.bnez-not, t3, 1
    /* c.jr */
    la t4, 1f
    li t3, 0
    c.jr t4
    li t3, 1
1:  CHECK 65, c.jr, t3, 0
    /* c.jalr: ra = pc + 2 */
    la t4, 2f
1:  c.jalr t4
    li t3, 99
2:  la t5, 1b
    addi t5, t5, 2
    CHECKR 66, c.jalr-link, ra, t5
    /* c.jalr with rs1 = ra: target is the old ra */
    la ra, 2f
1:  c.jalr ra
    nop
2:  la t5, 1b
    addi t5, t5, 2
    CHECKR 67, c.jalr-ra, ra, t5
    /* c.jr to a 2-byte aligned target and a 4-byte instruction there */
    la t4, half
    li t3, 0
    c.jr t4
half_back:
    CHECK 68, c.jr-half, t3, 0x77
    /* c.nop, hints */
    li t3, 5
    c.nop
    .hword 0x0005               /* c.nop with nzimm != 0: a HINT */
    c.addi t3, 0                /* c.addi with imm 0: a HINT */
    CHECK 69, c.nop-hints, t3, 5

    /* ---- traps ---- */
    TRAP_EXPECT 1f
2:  c.ebreak
1:  CHECK_TRAP 70, c.ebreak, CAUSE_BREAKPOINT, 0, 2b
    TRAP_EXPECT 1f
2:  .hword 0x0000               /* defined illegal instruction */
1:  CHECK_TRAP 71, c.zero-illegal, CAUSE_ILLEGAL, 0, 2b
    TRAP_EXPECT 1f
2:  .hword 0x6101               /* c.addi16sp with imm 0: reserved */
1:  CHECK_TRAP 72, c.addi16sp0-illegal, CAUSE_ILLEGAL, 0x6101, 2b
    TRAP_EXPECT 1f
2:  .hword 0x4002               /* c.lwsp with rd = x0: reserved */
1:  CHECK_TRAP 73, c.lwsp-x0-illegal, CAUSE_ILLEGAL, 0x4002, 2b
    TRAP_EXPECT 1f
2:  .hword 0x6002               /* c.ldsp with rd = x0: reserved */
1:  CHECK_TRAP 74, c.ldsp-x0-illegal, CAUSE_ILLEGAL, 0x6002, 2b
    TRAP_EXPECT 1f
2:  .hword 0x8002               /* c.jr with rs1 = x0: reserved */
1:  CHECK_TRAP 75, c.jr-x0-illegal, CAUSE_ILLEGAL, 0x8002, 2b
    TRAP_EXPECT 1f
2:  .hword 0x6001               /* c.lui with nzimm = 0 (rd = x0): reserved/hint? */
1:  RECORD_TRAP 76, c.lui-x0-imm0
    TRAP_EXPECT 1f
2:  .hword 0x9c41               /* c.subw... funct 0b100111 10 -> reserved in RV64 */
1:  CHECK_TRAP 77, c.reserved-ca, CAUSE_ILLEGAL, 0x9c41, 2b
    /* mepc of a trap in a compressed instruction points at it; the next
     * instruction is 2 bytes later */
    TRAP_EXPECT 1f
    c.nop
2:  c.ebreak
    c.nop
1:  CHECK_TRAP 78, c.ebreak-mepc, CAUSE_BREAKPOINT, 0, 2b

TEST_END

    .balign 4
    .hword 0x0001               /* c.nop: `half` is at 2 mod 4 */
half:
    .option norvc
    li t3, 0x77
    j half_back

    .data
    .align 4
cdata:
    .word 0x80000001, 0
    .dword 0x0123456789abcdef
    .fill 13, 8, 0
    .word 0, 0x7eadbeef
    .fill 15, 8, 0
    .dword 0x1122334455667788
    .fill 40, 8, 0
