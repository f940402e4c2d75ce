/* paravm cpu bench: Berkeley HTIF console and exit through tohost/fromhost.
 *
 * tohost/fromhost are 8-byte objects in a page of their own (see link.ld); QEMU -M spike
 * finds them by ELF symbol. Protocol used here (works on QEMU and spike):
 *   console putc: tohost = (1 << 56) | (1 << 48) | byte, then wait until the host has
 *                 consumed it (tohost reads 0 again); clear fromhost if the host answered.
 *   exit:         tohost = (code << 1) | 1.
 */
#include "bench.h"

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(8)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(8)));

static void htif_wait_idle(void) {
  while (tohost != 0) {
    if (fromhost != 0) fromhost = 0;
  }
}

void htif_putc(char c) {
  htif_wait_idle();
  tohost = (1ull << 56) | (1ull << 48) | (uint8_t)c;
  htif_wait_idle();
  if (fromhost != 0) fromhost = 0;
}

void put_str(const char *s) {
  while (*s) htif_putc(*s++);
}

void put_dec(uint64_t v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) htif_putc(buf[--n]);
}

void put_hex32(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  put_str("0x");
  for (int i = 28; i >= 0; i -= 4) htif_putc(digits[(v >> i) & 15]);
}

void htif_exit(int code) {
  htif_wait_idle();
  tohost = ((uint64_t)(uint32_t)code << 1) | 1;
  for (;;) {
  }
}

void bench_fail(int code, const char *what, uint32_t detail) {
  put_str("check failed: ");
  put_str(what);
  put_str(" detail=");
  put_hex32(detail);
  put_str("\nresult=fail\n");
  htif_exit(code);
}

/* Called from start.S for any trap: nothing in this program should trap. */
NORETURN void trap_handler(uint64_t mcause, uint64_t mepc, uint64_t mtval);
void trap_handler(uint64_t mcause, uint64_t mepc, uint64_t mtval) {
  put_str("trap mcause=");
  put_dec(mcause);
  put_str(" mepc=");
  put_hex32((uint32_t)mepc);
  put_str(" mtval=");
  put_hex32((uint32_t)mtval);
  put_str("\nresult=fail\n");
  htif_exit(EXIT_TRAP);
}

/* The byte loops below must not be turned back into calls to themselves. */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LIBCALL void *memset(void *d, int c, size_t n) {
  uint8_t *p = d;
  while (n--) *p++ = (uint8_t)c;
  return d;
}

NO_LIBCALL void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  while (n--) *p++ = *q++;
  return d;
}

NO_LIBCALL void *memmove(void *d, const void *s, size_t n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  if (p < q) {
    while (n--) *p++ = *q++;
  } else {
    while (n--) p[n] = q[n];
  }
  return d;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *p = a, *q = b;
  for (; n; n--, p++, q++) {
    if (*p != *q) return *p < *q ? -1 : 1;
  }
  return 0;
}
