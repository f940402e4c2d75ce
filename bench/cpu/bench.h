/* paravm cpu bench: shared declarations. Freestanding: no libc. */
#ifndef PARAVM_CPU_BENCH_H
#define PARAVM_CPU_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define NOINLINE __attribute__((noinline))
#define NORETURN __attribute__((noreturn))

/* Exit codes (QEMU's process exit status, paravm's guest exit code). */
enum {
  EXIT_PASS = 0,
  EXIT_CRC_MISMATCH = 1,
  EXIT_NO_EXPECTED = 2, /* not used as a failure: see main.c */
  EXIT_CHECK_LIST = 10,
  EXIT_CHECK_MATRIX = 11,
  EXIT_CHECK_FSM = 12,
  EXIT_CHECK_ARITH = 13,
  EXIT_CHECK_INTERP = 14,
  EXIT_TRAP = 100,
};

/* htif.c */
void htif_putc(char c);
void put_str(const char *s);
void put_dec(uint64_t v);
void put_hex32(uint32_t v);
NORETURN void htif_exit(int code);
NORETURN void bench_fail(int code, const char *what, uint32_t detail);

/* crc.c */
void crc_init(void);
uint16_t crc16_byte(uint16_t crc, uint8_t b);
uint16_t crc16_u16(uint16_t crc, uint16_t v);
uint16_t crc16_u32(uint16_t crc, uint32_t v);
uint32_t crc32_byte(uint32_t crc, uint8_t b);
uint32_t crc32_u32(uint32_t crc, uint32_t v);

/* Small deterministic generator (xorshift32); state must be non-zero. */
static inline uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* The kernels; each takes a per-iteration seed and returns a 32-bit digest. */
void fsm_init(void);
uint32_t k_list(uint32_t seed);
uint32_t k_matrix(uint32_t seed);
uint32_t k_fsm(uint32_t seed);
uint32_t k_arith64(uint32_t seed);
uint32_t k_interp(uint32_t seed);

/* The compiler may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
