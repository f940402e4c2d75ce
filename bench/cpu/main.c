/* paravm cpu bench: a CoreMark-like bare-metal workload for RV64GC (written for paravm;
 * not CoreMark). Each iteration runs five kernels on a seed derived from the iteration
 * number; their digests are folded into one CRC-32, which is compared with the value
 * recorded on the first validated run (QEMU). Output goes through the HTIF console:
 *
 *   paravm-cpu-bench v1
 *   iterations=N
 *   crc=0x........
 *   result=pass            (or fail / unchecked)
 *
 * Build-time defines:
 *   ITERATIONS=N      how many iterations (default below)
 *   REPORT_COUNTERS   also read CLINT mtime (0x0200bff8) and minstret around the loop
 *                     and print mtime_delta= and instret_delta= (QEMU -icount shift=0:
 *                     one mtime tick = 100 instructions). Off by default: it needs a CLINT.
 */
#include "bench.h"

#define DEFAULT_ITERATIONS 4000
#ifndef ITERATIONS
#define ITERATIONS DEFAULT_ITERATIONS
#endif

/* Final CRCs recorded from the first validated runs: QEMU 7.2 -M spike (built -O2 and
 * -O0) and the same C built natively for x86-64 with UBSan/ASan all agree. */
static const struct {
  uint32_t iterations, crc;
} expected[] = {
    {0, 0x00000000u},
    {1, 0x92a3dc9cu},
    {100, 0xcec8891au},
    {DEFAULT_ITERATIONS, 0x77e48e3au},
};

#ifdef REPORT_COUNTERS
#define CLINT_MTIME 0x0200bff8ul
static inline uint64_t read_mtime(void) { return *(volatile uint64_t *)CLINT_MTIME; }
static inline uint64_t read_minstret(void) {
  uint64_t v;
  __asm__ volatile("csrr %0, minstret" : "=r"(v));
  return v;
}
#endif

int main(void) {
  crc_init();
  fsm_init();
  put_str("paravm-cpu-bench v1\niterations=");
  put_dec(ITERATIONS);
  htif_putc('\n');

#ifdef REPORT_COUNTERS
  uint64_t t0 = read_mtime(), i0 = read_minstret();
#endif

  uint32_t crc = 0xffffffffu;
  for (uint32_t it = 0; it + 1 <= (uint32_t)ITERATIONS; it++) {
    uint32_t seed = (it + 1) * 0x9e3779b9u;
    seed ^= seed >> 15;
    crc = crc32_u32(crc, k_list(seed));
    crc = crc32_u32(crc, k_matrix(seed));
    crc = crc32_u32(crc, k_fsm(seed));
    crc = crc32_u32(crc, k_arith64(seed));
    crc = crc32_u32(crc, k_interp(seed));
  }
  crc = ~crc;

#ifdef REPORT_COUNTERS
  uint64_t i1 = read_minstret(), t1 = read_mtime();
  put_str("mtime_delta=");
  put_dec(t1 - t0);
  put_str("\ninstret_delta=");
  put_dec(i1 - i0);
  htif_putc('\n');
#endif

  put_str("crc=");
  put_hex32(crc);
  htif_putc('\n');

  for (unsigned i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    if (expected[i].iterations == (uint32_t)ITERATIONS) {
      if (expected[i].crc != crc) {
        put_str("expected=");
        put_hex32(expected[i].crc);
        put_str("\nresult=fail\n");
        return EXIT_CRC_MISMATCH;
      }
      put_str("result=pass\n");
      return EXIT_PASS;
    }
  }
  /* No recorded value for this count: the kernels' own checks passed, the CRC is not known. */
  put_str("result=unchecked\n");
  return EXIT_PASS;
}
