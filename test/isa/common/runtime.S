/*
 * paravm ISA conformance suite — runtime linked into every program:
 * start-up, HTIF console and exit, check/record printing, M- and S-mode trap
 * handlers. See test.h for the conventions.
 */
#include "test.h"

#define FRAME_SIZE (32 * 8)

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    /* Deterministic register state. */
    li x1, 0
    li x3, 0
    li x4, 0
    li x5, 0
    li x6, 0
    li x7, 0
    li x8, 0
    li x9, 0
    li x10, 0
    li x11, 0
    li x12, 0
    li x13, 0
    li x14, 0
    li x15, 0
    li x16, 0
    li x17, 0
    li x18, 0
    li x19, 0
    li x20, 0
    li x21, 0
    li x22, 0
    li x23, 0
    li x24, 0
    li x25, 0
    li x26, 0
    li x27, 0
    li x28, 0
    li x29, 0
    li x30, 0
    li x31, 0
    la sp, stack_top

    la t0, m_trap_entry
    csrw mtvec, t0
    la t0, m_trap_stack_top
    csrw mscratch, t0
    csrw mie, zero
    csrw medeleg, zero
    csrw mideleg, zero
    csrw satp, zero

    /* The last PMP entry grants everything, so S/U code may run (with PMP
     * implemented, an S/U access that matches no entry fails). Programs use
     * entries 0..14, which take priority. */
    li t0, -1
    csrw pmpaddr15, t0
    li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
    csrw pmpcfg2, t0

    /* Supervisor side: handler for delegated traps. */
    la t0, s_trap_entry
    csrw stvec, t0
    la t0, s_trap_stack_top
    csrw sscratch, t0

    /* FP on (Initial), all FP registers +0.0, frm = RNE, fflags clear. */
    li t0, MSTATUS_FS
    csrc mstatus, t0
    li t0, MSTATUS_FS_INITIAL
    csrs mstatus, t0
    fmv.d.x f0, zero
    fmv.d.x f1, zero
    fmv.d.x f2, zero
    fmv.d.x f3, zero
    fmv.d.x f4, zero
    fmv.d.x f5, zero
    fmv.d.x f6, zero
    fmv.d.x f7, zero
    fmv.d.x f8, zero
    fmv.d.x f9, zero
    fmv.d.x f10, zero
    fmv.d.x f11, zero
    fmv.d.x f12, zero
    fmv.d.x f13, zero
    fmv.d.x f14, zero
    fmv.d.x f15, zero
    fmv.d.x f16, zero
    fmv.d.x f17, zero
    fmv.d.x f18, zero
    fmv.d.x f19, zero
    fmv.d.x f20, zero
    fmv.d.x f21, zero
    fmv.d.x f22, zero
    fmv.d.x f23, zero
    fmv.d.x f24, zero
    fmv.d.x f25, zero
    fmv.d.x f26, zero
    fmv.d.x f27, zero
    fmv.d.x f28, zero
    fmv.d.x f29, zero
    fmv.d.x f30, zero
    fmv.d.x f31, zero
    csrw fcsr, zero

    call trap_arm_clear
    call test_main
    /* fall into test_finish if test_main returns */

    .text
    .globl test_finish
test_finish:
    la sp, stack_top
    ld s0, first_fail
    bnez s0, 1f
    la a0, str_pass
    call print_str
    li a0, 0
    j exit
1:  la a0, str_fail
    call print_str
    mv a0, s0
    call print_dec
    li a0, '\n'
    call putchar
    mv a0, s0
    j exit

/* ------------------------------------------------------------- HTIF I/O */
/* exit(a0): tohost = (a0 << 1) | 1, then spin. */
    .globl exit
exit:
    slli a0, a0, 1
    ori a0, a0, 1
    la t0, tohost
    sd a0, 0(t0)
1:  j 1b

/* Save/restore the registers the print routines use. */
.macro SAVE_TEMPS
    addi sp, sp, -128
    sd ra, 0(sp)
    sd t0, 8(sp)
    sd t1, 16(sp)
    sd t2, 24(sp)
    sd t3, 32(sp)
    sd t4, 40(sp)
    sd t5, 48(sp)
    sd t6, 56(sp)
    sd a0, 64(sp)
    sd a1, 72(sp)
    sd a2, 80(sp)
    sd a3, 88(sp)
    sd a4, 96(sp)
    sd a5, 104(sp)
    sd s0, 112(sp)
    sd s1, 120(sp)
.endm
.macro RESTORE_TEMPS
    ld ra, 0(sp)
    ld t0, 8(sp)
    ld t1, 16(sp)
    ld t2, 24(sp)
    ld t3, 32(sp)
    ld t4, 40(sp)
    ld t5, 48(sp)
    ld t6, 56(sp)
    ld a0, 64(sp)
    ld a1, 72(sp)
    ld a2, 80(sp)
    ld a3, 88(sp)
    ld a4, 96(sp)
    ld a5, 104(sp)
    ld s0, 112(sp)
    ld s1, 120(sp)
    addi sp, sp, 128
.endm

/* putchar(a0): HTIF console device 1, command 1. The host answers through
 * fromhost, which must then be cleared. Preserves all registers. */
    .globl putchar
putchar:
    addi sp, sp, -32
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd t2, 16(sp)
    la t1, tohost
1:  ld t0, 0(t1)            /* previous request still pending? */
    bnez t0, 1b
    li t0, (1 << 56) | (1 << 48)
    andi t2, a0, 0xff
    or t0, t0, t2
    sd t0, 0(t1)
    la t1, fromhost
2:  ld t0, 0(t1)
    beqz t0, 2b
    sd zero, 0(t1)
    ld t0, 0(sp)
    ld t1, 8(sp)
    ld t2, 16(sp)
    addi sp, sp, 32
    ret

/* print_str(a0 = NUL-terminated string). */
    .globl print_str
print_str:
    SAVE_TEMPS
    mv s0, a0
1:  lbu a0, 0(s0)
    beqz a0, 2f
    call putchar
    addi s0, s0, 1
    j 1b
2:  RESTORE_TEMPS
    ret

/* print_hex(a0): 16 lowercase hex digits. */
    .globl print_hex
print_hex:
    SAVE_TEMPS
    mv s0, a0
    li s1, 60
1:  srl a0, s0, s1
    andi a0, a0, 15
    li t0, 10
    blt a0, t0, 2f
    addi a0, a0, 'a' - '0' - 10
2:  addi a0, a0, '0'
    call putchar
    addi s1, s1, -4
    bgez s1, 1b
    RESTORE_TEMPS
    ret

/* print_hex_short(a0): hex without leading zeros (at least one digit). */
    .globl print_hex_short
print_hex_short:
    SAVE_TEMPS
    mv s0, a0
    li s1, 60
1:  beqz s1, 2f
    srl t0, s0, s1
    bnez t0, 2f
    addi s1, s1, -4
    j 1b
2:  srl a0, s0, s1
    andi a0, a0, 15
    li t0, 10
    blt a0, t0, 3f
    addi a0, a0, 'a' - '0' - 10
3:  addi a0, a0, '0'
    call putchar
    addi s1, s1, -4
    bgez s1, 2b
    RESTORE_TEMPS
    ret

/* print_dec(a0): unsigned decimal. */
    .globl print_dec
print_dec:
    SAVE_TEMPS
    addi sp, sp, -32
    mv s0, a0
    addi s1, sp, 31
    sb zero, 0(s1)
    li t1, 10
1:  remu t0, s0, t1
    divu s0, s0, t1
    addi t0, t0, '0'
    addi s1, s1, -1
    sb t0, 0(s1)
    bnez s0, 1b
    mv a0, s1
    call print_str
    addi sp, sp, 32
    RESTORE_TEMPS
    ret

/* print_title(a0 = program title): "# <title>\n". */
    .globl print_title
print_title:
    SAVE_TEMPS
    mv s0, a0
    li a0, '#'
    call putchar
    li a0, ' '
    call putchar
    mv a0, s0
    call print_str
    li a0, '\n'
    call putchar
    RESTORE_TEMPS
    ret

/* Common head of a signature line: "<num> <name> ". a0 = num, a3 = name. */
print_head:
    SAVE_TEMPS
    sd a0, last_case, t0
    call print_dec
    li a0, ' '
    call putchar
    mv a0, a3
    call print_str
    li a0, ' '
    call putchar
    RESTORE_TEMPS
    ret

/* Remember the first failing case (a0). */
note_fail:
    addi sp, sp, -16
    sd t0, 0(sp)
    ld t0, first_fail
    bnez t0, 1f
    sd a0, first_fail, t0
1:  ld t0, 0(sp)
    addi sp, sp, 16
    ret

/* check(a0 = num, a1 = value, a2 = expected, a3 = name) */
    .globl check
check:
    SAVE_TEMPS
    call print_head
    mv s0, a0
    mv a0, a1
    call print_hex
    beq a1, a2, 1f
    LA_STR a0, " FAIL exp="
    call print_str
    mv a0, a2
    call print_hex
    mv a0, s0
    call note_fail
1:  li a0, '\n'
    call putchar
    RESTORE_TEMPS
    ret

/* record(a0 = num, a1 = value, a3 = name): print only. */
    .globl record
record:
    SAVE_TEMPS
    call print_head
    mv a0, a1
    call print_hex
    li a0, '\n'
    call putchar
    RESTORE_TEMPS
    ret

/* checkf(a0 = num, a1 = value, a2 = expected, a3 = name,
 *        a4 = fflags, a5 = expected fflags) */
    .globl checkf
checkf:
    SAVE_TEMPS
    call print_head
    mv s0, a0
    mv a0, a1
    call print_hex
    LA_STR a0, " fl="
    call print_str
    mv a0, a4
    call print_hex_short
    bne a1, a2, 1f
    beq a4, a5, 2f
1:  LA_STR a0, " FAIL exp="
    call print_str
    mv a0, a2
    call print_hex
    LA_STR a0, " fl="
    call print_str
    mv a0, a5
    call print_hex_short
    mv a0, s0
    call note_fail
2:  li a0, '\n'
    call putchar
    RESTORE_TEMPS
    ret

/* ------------------------------------------------------------ trap checks */
/* trap_arm(a0 = resume address): forget previous traps, arm the handlers. */
    .globl trap_arm
trap_arm:
    addi sp, sp, -16
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd a0, trap_resume, t0
    li t1, -1
    sd t1, trap_cause, t0
    sd t1, s_trap_cause, t0
    sd zero, trap_tval, t0
    sd zero, trap_epc, t0
    sd zero, trap_from, t0
    sd zero, trap_count, t0
    sd zero, s_trap_tval, t0
    sd zero, s_trap_epc, t0
    sd zero, s_trap_from, t0
    sd zero, s_trap_count, t0
    ld t0, 0(sp)
    ld t1, 8(sp)
    addi sp, sp, 16
    ret

trap_arm_clear:
    addi sp, sp, -16
    sd ra, 0(sp)
    li a0, 0
    call trap_arm
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* check_trap(a0 = num, a1 = cause, a2 = tval, a3 = epc, a5 = name,
 *            a4 = 0: expect no trap, 1: trap in M handler, 2: trap in S handler,
 *            3: print what the M handler recorded, assert nothing) */
    .globl check_trap
check_trap:
    SAVE_TEMPS
    sd zero, trap_resume, t0
    mv a3, a5
    call print_head
    ld a3, 88(sp)               /* expected epc (saved a3) */
    mv s0, a0
    li t0, 2
    beq a4, t0, 10f
    ld t1, trap_cause
    ld t2, trap_tval
    ld t3, trap_epc
    ld t4, trap_from
    LA_STR a0, "trap"
    j 11f
10: ld t1, s_trap_cause
    ld t2, s_trap_tval
    ld t3, s_trap_epc
    ld t4, s_trap_from
    LA_STR a0, "strap"
11: li t0, -1
    bne t1, t0, 12f
    /* nothing recorded */
    LA_STR a0, "no-trap"
    call print_str
    li t0, 3
    beq a4, t0, 30f
    bnez a4, 20f                /* a trap was expected */
    j 30f
12: call print_str
    LA_STR a0, " cause="
    call print_str
    mv a0, t1
    call print_hex_short
    LA_STR a0, " tval="
    call print_str
    mv a0, t2
    call print_hex_short
    LA_STR a0, " epc=+"
    call print_str
    li t0, IMAGE_BASE
    sub a0, t3, t0
    call print_hex_short
    LA_STR a0, " from="
    call print_str
    la a0, priv_names
    add a0, a0, t4
    lbu a0, 0(a0)
    call putchar
    li t0, 3
    beq a4, t0, 30f
    beqz a4, 20f                /* no trap was expected */
    bne t1, a1, 20f
    bne t2, a2, 20f
    bne t3, a3, 20f
    j 30f
20: LA_STR a0, " FAIL"
    call print_str
    beqz a4, 21f
    LA_STR a0, " exp cause="
    call print_str
    mv a0, a1
    call print_hex_short
    LA_STR a0, " tval="
    call print_str
    mv a0, a2
    call print_hex_short
    LA_STR a0, " epc=+"
    call print_str
    li t0, IMAGE_BASE
    sub a0, a3, t0
    call print_hex_short
21: mv a0, s0
    call note_fail
30: li a0, '\n'
    call putchar
    RESTORE_TEMPS
    ret

/* enter_mode(a0 = privilege, a1 = target): mret into it, MPIE = 0 (so
 * mstatus.MIE = 0 afterwards; M-mode interrupts are enabled in S/U anyway). */
    .globl enter_mode
enter_mode:
    li t0, MSTATUS_MPP | MSTATUS_MPIE
    csrc mstatus, t0
    andi a0, a0, 3
    slli a0, a0, 11
    csrs mstatus, a0
    csrw mepc, a1
    mret

/* ------------------------------------------------------------- interrupts */
    .globl irq_clear
irq_clear:
    addi sp, sp, -16
    sd t0, 0(sp)
    sd zero, irq_count, t0
    ld t0, 0(sp)
    addi sp, sp, 16
    ret

/* a0 = log entries 0..7 packed one byte each, first in the low byte. */
    .globl irq_pack
irq_pack:
    addi sp, sp, -32
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd t2, 16(sp)
    sd t3, 24(sp)
    ld t0, irq_count
    li t1, 8
    bleu t0, t1, 1f
    mv t0, t1
1:  li a0, 0
    la t1, irq_log
    slli t2, t0, 3
    add t1, t1, t2
2:  beqz t0, 3f
    addi t1, t1, -8
    ld t3, 0(t1)
    slli a0, a0, 8
    andi t3, t3, 0xff
    or a0, a0, t3
    addi t0, t0, -1
    j 2b
3:  ld t0, 0(sp)
    ld t1, 8(sp)
    ld t2, 16(sp)
    ld t3, 24(sp)
    addi sp, sp, 32
    ret

/* log_irq(a0 = entry): append to irq_log (keeps the first 16). */
log_irq:
    ld t0, irq_count
    li t1, 16
    bgeu t0, t1, 1f
    la t1, irq_log
    slli t2, t0, 3
    add t1, t1, t2
    sd a0, 0(t1)
1:  addi t0, t0, 1
    sd t0, irq_count, t1
    ret

/* --------------------------------------------------------- M trap handler */
.macro SAVE_FRAME scratch
    csrrw sp, \scratch, sp
    addi sp, sp, -FRAME_SIZE
    sd x1, 1*8(sp)
    sd x3, 3*8(sp)
    sd x4, 4*8(sp)
    sd x5, 5*8(sp)
    sd x6, 6*8(sp)
    sd x7, 7*8(sp)
    sd x8, 8*8(sp)
    sd x9, 9*8(sp)
    sd x10, 10*8(sp)
    sd x11, 11*8(sp)
    sd x12, 12*8(sp)
    sd x13, 13*8(sp)
    sd x14, 14*8(sp)
    sd x15, 15*8(sp)
    sd x16, 16*8(sp)
    sd x17, 17*8(sp)
    sd x18, 18*8(sp)
    sd x19, 19*8(sp)
    sd x20, 20*8(sp)
    sd x21, 21*8(sp)
    sd x22, 22*8(sp)
    sd x23, 23*8(sp)
    sd x24, 24*8(sp)
    sd x25, 25*8(sp)
    sd x26, 26*8(sp)
    sd x27, 27*8(sp)
    sd x28, 28*8(sp)
    sd x29, 29*8(sp)
    sd x30, 30*8(sp)
    sd x31, 31*8(sp)
    csrr t0, \scratch
    sd t0, 2*8(sp)
.endm

.macro RESTORE_FRAME scratch
    addi t0, sp, FRAME_SIZE
    csrw \scratch, t0
    ld x1, 1*8(sp)
    ld x3, 3*8(sp)
    ld x4, 4*8(sp)
    ld x5, 5*8(sp)
    ld x6, 6*8(sp)
    ld x7, 7*8(sp)
    ld x8, 8*8(sp)
    ld x9, 9*8(sp)
    ld x10, 10*8(sp)
    ld x11, 11*8(sp)
    ld x12, 12*8(sp)
    ld x13, 13*8(sp)
    ld x14, 14*8(sp)
    ld x15, 15*8(sp)
    ld x16, 16*8(sp)
    ld x17, 17*8(sp)
    ld x18, 18*8(sp)
    ld x19, 19*8(sp)
    ld x20, 20*8(sp)
    ld x21, 21*8(sp)
    ld x22, 22*8(sp)
    ld x23, 23*8(sp)
    ld x24, 24*8(sp)
    ld x25, 25*8(sp)
    ld x26, 26*8(sp)
    ld x27, 27*8(sp)
    ld x28, 28*8(sp)
    ld x29, 29*8(sp)
    ld x30, 30*8(sp)
    ld x31, 31*8(sp)
    ld x2, 2*8(sp)
.endm

    .align 6
    .globl m_trap_entry
m_trap_entry:
    SAVE_FRAME mscratch
    csrr s0, mcause
    csrr s1, mepc
    csrr s2, mtval
    csrr s3, mstatus
    bltz s0, m_interrupt

    /* Return-to-M request: ecall from U/S/M with a7 = RET_MAGIC. */
    li t0, CAUSE_ECALL_U
    bltu s0, t0, 1f
    li t0, CAUSE_ECALL_M
    bgtu s0, t0, 1f
    li t0, 10                   /* cause 10 is not an ecall we make */
    beq s0, t0, 1f
    ld t0, 17*8(sp)
    li t1, RET_MAGIC
    bne t0, t1, 1f
    sd zero, 17*8(sp)           /* a7 = 0 after a return request */
    j m_resume

1:  /* Record the exception. */
    sd s3, trap_mstatus, t0
    sd s0, trap_cause, t0
    sd s1, trap_epc, t0
    sd s2, trap_tval, t0
    srli t1, s3, 11
    andi t1, t1, 3
    sd t1, trap_from, t0
    ld t1, trap_count
    addi t1, t1, 1
    sd t1, trap_count, t0
    ld t1, trap_resume
    beqz t1, m_unexpected

m_resume:
    ld t1, trap_resume
    beqz t1, m_unexpected
    sd zero, trap_resume, t0
    csrw mepc, t1
    li t0, MSTATUS_MPP
    csrs mstatus, t0            /* resume in M-mode ... */
    li t0, MSTATUS_MPIE
    csrc mstatus, t0            /* ... with MIE = 0 */
    RESTORE_FRAME mscratch
    mret

m_unexpected:
    la sp, stack_top
    LA_STR a0, "unexpected trap: mcause="
    call print_str
    mv a0, s0
    call print_hex_short
    LA_STR a0, " mepc=+"
    call print_str
    li t0, IMAGE_BASE
    sub a0, s1, t0
    call print_hex_short
    LA_STR a0, " mtval="
    call print_str
    mv a0, s2
    call print_hex_short
    LA_STR a0, " after case "
    call print_str
    ld a0, last_case
    call print_dec
    li a0, '\n'
    call putchar
    li a0, 255
    j exit

m_interrupt:
    sd s0, irq_last_cause, t0
    slli s4, s0, 1
    srli s4, s4, 1              /* interrupt code */
    ori a0, s4, 0x30            /* handled in M */
    call log_irq
    mv t0, s4
    /* Clear the enable bit, then the source where software can. */
    li t1, 1
    sll t1, t1, t0
    csrc mie, t1
    li t2, IRQ_MSI
    bne t0, t2, 1f
    li t3, CLINT_MSIP
    sw zero, 0(t3)
1:  li t2, IRQ_MTI
    bne t0, t2, 2f
    li t3, CLINT_MTIMECMP
    li t4, -1
    sd t4, 0(t3)
2:  li t2, (MIP_SSIP | MIP_STIP | MIP_SEIP)
    and t2, t2, t1
    beqz t2, 3f
    csrc mip, t2
3:  RESTORE_FRAME mscratch
    mret

/* --------------------------------------------------------- S trap handler */
    .align 6
    .globl s_trap_entry
s_trap_entry:
    SAVE_FRAME sscratch
    csrr s0, scause
    csrr s1, sepc
    csrr s2, stval
    csrr s3, sstatus
    bltz s0, s_interrupt
    sd s3, s_trap_sstatus, t0
    sd s0, s_trap_cause, t0
    sd s1, s_trap_epc, t0
    sd s2, s_trap_tval, t0
    srli t1, s3, 8
    andi t1, t1, 1
    sd t1, s_trap_from, t0
    ld t1, s_trap_count
    addi t1, t1, 1
    sd t1, s_trap_count, t0
    /* Back to M-mode at the armed label, registers as at the trap
     * (except a7). */
    RESTORE_FRAME sscratch
    li a7, RET_MAGIC
    ecall
1:  j 1b

s_interrupt:
    sd s0, irq_last_cause, t0
    slli s4, s0, 1
    srli s4, s4, 1
    ori a0, s4, 0x10            /* handled in S */
    call log_irq
    mv t0, s4
    li t1, 1
    sll t1, t1, t0
    csrc sie, t1
    li t2, IRQ_SSI
    bne t0, t2, 1f
    csrc sip, t1
1:  RESTORE_FRAME sscratch
    sret

/* ------------------------------------------------------------------ data */
    .section .rodata
str_pass: .asciz "PASS\n"
str_fail: .asciz "FAIL "
priv_names: .ascii "USHM"

    .data
    .align 3
    .globl first_fail, last_case
first_fail: .dword 0
last_case: .dword 0
    .globl trap_resume, trap_cause, trap_tval, trap_epc, trap_from, trap_count
trap_resume: .dword 0
trap_cause: .dword -1
trap_tval: .dword 0
trap_epc: .dword 0
trap_from: .dword 0
trap_count: .dword 0
    .globl trap_mstatus, s_trap_sstatus
trap_mstatus: .dword 0          /* mstatus as the M handler found it */
s_trap_sstatus: .dword 0        /* sstatus as the S handler found it */
    .globl s_trap_cause, s_trap_tval, s_trap_epc, s_trap_from, s_trap_count
s_trap_cause: .dword -1
s_trap_tval: .dword 0
s_trap_epc: .dword 0
s_trap_from: .dword 0
s_trap_count: .dword 0
    .globl irq_count, irq_log, irq_last_cause
irq_last_cause: .dword 0        /* full mcause/scause of the last interrupt */
irq_count: .dword 0
irq_log: .fill 16, 8, 0

    .bss
    .align 12
stack: .skip 16384
    .globl stack_top
stack_top:
m_trap_stack: .skip 8192
m_trap_stack_top:
s_trap_stack: .skip 8192
s_trap_stack_top:

    .section .tohost, "aw", @progbits
    .align 12
    .globl tohost, fromhost
tohost: .dword 0
    .size tohost, 8
fromhost: .dword 0
    .size fromhost, 8
