/* paravm cpu bench: reset entry. Hart 0 sets up a trap vector, the FPU state,
 * gp and sp, clears .bss and calls main; main's return value is the exit code. */
  .section .text.init, "ax", @progbits
  .globl _start
_start:
  csrr  t0, mhartid
  bnez  t0, park

  la    t0, trap_entry
  csrw  mtvec, t0
  li    t0, (1 << 13)          /* mstatus.FS = Initial, so FP use cannot trap */
  csrs  mstatus, t0

  .option push
  .option norelax
  la    gp, __global_pointer$
  .option pop
  la    sp, __stack_top

  la    t0, __bss_start
  la    t1, __bss_end
1:
  bgeu  t0, t1, 2f
  sd    zero, 0(t0)
  addi  t0, t0, 8
  j     1b
2:
  call  main
  call  htif_exit              /* a0 = main's result; never returns */

park:
  wfi
  j     park

  /* Any trap is a failure: report cause, pc and tval, then exit non-zero. */
  .align 2
trap_entry:
  csrr  a0, mcause
  csrr  a1, mepc
  csrr  a2, mtval
  la    sp, __stack_top
  call  trap_handler
  j     park
