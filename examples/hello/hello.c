/*
 * A small bare-metal RV64GC program for `npm run demo`: prints through HTIF, reads a
 * few CSRs, does some integer and floating-point work, sleeps on a CLINT timer with
 * WFI, and exits 0 through tohost. Runs the same on paravm and on
 * `qemu-system-riscv64 -M spike -bios none -nographic -kernel hello.elf`.
 */
#include <stdint.h>

/* HTIF: the host finds these two words by symbol. */
volatile uint64_t tohost __attribute__((section(".tohost"), aligned(8)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(8)));

#define HTIF_CMD(dev, cmd, payload) (((uint64_t)(dev) << 56) | ((uint64_t)(cmd) << 48) | (uint64_t)(payload))

/* CLINT (SiFive layout) at 0x0200_0000, 10 MHz timebase. */
#define CLINT_MTIMECMP0 ((volatile uint64_t *)0x02004000)
#define CLINT_MTIME ((volatile uint64_t *)0x0200bff8)
#define MIE_MTIE (1u << 7)

#define read_csr(name)                                   \
  ({                                                     \
    uint64_t v_;                                         \
    __asm__ volatile("csrr %0, " #name : "=r"(v_));      \
    v_;                                                  \
  })

static void putchar_htif(char c) {
  tohost = HTIF_CMD(1, 1, (uint8_t)c);
  while (fromhost == 0) {
  }
  fromhost = 0;
}

static void puts_htif(const char *s) {
  while (*s) putchar_htif(*s++);
}

static void put_u64(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  puts_htif(&buf[i]);
}

static void put_hex(uint64_t v) {
  puts_htif("0x");
  for (int shift = 60; shift >= 0; shift -= 4) putchar_htif("0123456789abcdef"[(v >> shift) & 15]);
}

void __attribute__((noreturn)) exit(int code) {
  for (;;) tohost = ((uint64_t)code << 1) | 1;
}

void __attribute__((noreturn)) unexpected_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval) {
  puts_htif("unexpected trap: mcause=");
  put_hex(mcause);
  puts_htif(" mepc=");
  put_hex(mepc);
  puts_htif(" mtval=");
  put_hex(mtval);
  putchar_htif('\n');
  exit(3);
}

/* Sum of the primes below n, by trial division: exercises mul/div/rem and branches. */
static uint64_t prime_sum(uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t k = 2; k < n; k++) {
    int prime = 1;
    for (uint64_t d = 2; d * d <= k; d++) {
      if (k % d == 0) {
        prime = 0;
        break;
      }
    }
    if (prime) sum += k;
  }
  return sum;
}

int main(void) {
  puts_htif("Hello from RV64 on paravm\n");

  uint64_t misa = read_csr(misa);
  puts_htif("misa: rv64");
  for (int i = 0; i < 26; i++)
    if (misa & (1ull << i)) putchar_htif((char)('a' + i));
  puts_htif(", hart ");
  put_u64(read_csr(mhartid));
  putchar_htif('\n');

  uint64_t sum = prime_sum(10000);
  puts_htif("sum of primes below 10000: ");
  put_u64(sum);
  puts_htif(sum == 5736396 ? " (ok)\n" : " (WRONG)\n");

  volatile double two = 2.0;
  double r;
  __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(two));
  uint64_t root = (uint64_t)(r * 1e6);
  puts_htif("sqrt(2) * 1e6: ");
  put_u64(root);
  puts_htif(root == 1414213 ? " (ok)\n" : " (WRONG)\n");

  /* Sleep 1 ms on the CLINT timer: WFI wakes when MTIP is pending and enabled in mie,
     even with mstatus.MIE clear, so no handler runs. */
  uint64_t start = *CLINT_MTIME;
  *CLINT_MTIMECMP0 = start + 10000;
  __asm__ volatile("csrs mie, %0" ::"r"(MIE_MTIE));
  while (*CLINT_MTIME < start + 10000) __asm__ volatile("wfi");
  __asm__ volatile("csrc mie, %0" ::"r"(MIE_MTIE));
  *CLINT_MTIMECMP0 = ~0ull;
  uint64_t slept = *CLINT_MTIME - start;
  puts_htif("timer: woke from wfi after ");
  put_u64(slept >= 10000 ? 1 : 0);
  puts_htif(slept >= 10000 ? " ms (ok)\n" : " ms (too early)\n");

  return sum == 5736396 && root == 1414213 && slept >= 10000 ? 0 : 1;
}
