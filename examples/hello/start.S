# Entry: stack, trap vector, FPU on, clear .bss, then main(); main's return value is the exit code.
  .section .text.init, "ax"
  .globl _start
_start:
  la    sp, __stack_top
  la    t0, trap_entry
  csrw  mtvec, t0
  li    t0, 1 << 13              # mstatus.FS = Initial: allow FP instructions
  csrs  mstatus, t0
  la    t0, __bss_start
  la    t1, __bss_end
1:
  bgeu  t0, t1, 2f
  sd    zero, 0(t0)
  addi  t0, t0, 8
  j     1b
2:
  call  main
  call  exit                     # never returns

# Any trap is unexpected here: report it from C (never returns).
  .align 2
trap_entry:
  csrr  a0, mcause
  csrr  a1, mepc
  csrr  a2, mtval
  la    sp, __stack_top
  call  unexpected_trap
