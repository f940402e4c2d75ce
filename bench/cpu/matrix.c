/* paravm cpu bench: integer matrices — 16x16-bit -> 32-bit multiply, scalar add,
 * matrix-vector product, 32-bit wrapping multiply and bit-field extraction. */
#include "bench.h"

#define MN 16

static int16_t ma[MN][MN], mb[MN][MN];
static int32_t mc[MN][MN];
static uint32_t md[MN][MN];
static int32_t vx[MN], vy[MN];

static void mat_fill(uint32_t *rs) {
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      uint32_t r = rng_next(rs);
      ma[i][j] = (int16_t)((int32_t)(r & 0xfff) - 0x800);
      mb[i][j] = (int16_t)((int32_t)((r >> 12) & 0xfff) - 0x800);
    }
}

/* C = A * B with 16-bit inputs and 32-bit sums (|sum| < 2^27: no overflow). */
static void mat_mul16(void) {
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      int32_t s = 0;
      for (int k = 0; k < MN; k++) s += (int32_t)ma[i][k] * (int32_t)mb[k][j];
      mc[i][j] = s;
    }
}

/* sum(C) must equal sum_k colsum(A)_k * rowsum(B)_k. */
static void mat_check(void) {
  int64_t total = 0, expect = 0;
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) total += mc[i][j];
  for (int k = 0; k < MN; k++) {
    int64_t ca = 0, rb = 0;
    for (int i = 0; i < MN; i++) ca += ma[i][k];
    for (int j = 0; j < MN; j++) rb += mb[k][j];
    expect += ca * rb;
  }
  if (total != expect) bench_fail(EXIT_CHECK_MATRIX, "matrix sum", (uint32_t)(total ^ expect));
}

/* D = C * B in wrapping 32-bit arithmetic. */
static void mat_mul32(void) {
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      uint32_t s = 0;
      for (int k = 0; k < MN; k++) s += (uint32_t)mc[i][k] * (uint32_t)(int32_t)mb[k][j];
      md[i][j] = s;
    }
}

NOINLINE uint32_t k_matrix(uint32_t seed) {
  uint32_t rs = (seed ^ 0x5bd1e995u) | 1;
  uint16_t crc = 0;

  mat_fill(&rs);
  mat_mul16();
  mat_check();
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) crc = crc16_u16(crc, (uint16_t)mc[i][j]);

  /* A += v; y = A x, with x a column of B. */
  int16_t v = (int16_t)(rng_next(&rs) & 0xff);
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) ma[i][j] = (int16_t)(ma[i][j] + v);
  for (int j = 0; j < MN; j++) vx[j] = mb[j][(seed >> 3) % MN];
  for (int i = 0; i < MN; i++) {
    int32_t s = 0;
    for (int j = 0; j < MN; j++) s += ma[i][j] * vx[j];
    vy[i] = s;
  }

  mat_mul32();
  /* Bit fields and sign tests over D. */
  uint32_t fields = 0, positive = 0, maxv = 0;
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      uint32_t d = md[i][j];
      fields += (d >> 5) & 0x7f;
      fields ^= (d >> 19) & 0x1ff;
      if ((int32_t)d > 0) positive++;
      if (d > maxv) maxv = d;
    }
  for (int i = 0; i < MN; i++) crc = crc16_u32(crc, (uint32_t)vy[i]);
  crc = crc16_u32(crc, fields);
  crc = crc16_u32(crc, positive);
  crc = crc16_u32(crc, maxv);
  return ((uint32_t)crc << 16) | (fields & 0xffff);
}
