/* paravm cpu bench: 64-bit arithmetic — multiply (low and high halves), signed and
 * unsigned divide/remainder, rotates, bit counting, gcd, modular exponentiation and
 * integer square roots, with self-checks that do not depend on stored answers. */
#include "bench.h"

#define ARITH_ROUNDS 256

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, unsigned r) {
  r &= 63;
  return r ? (x << r) | (x >> (64 - r)) : x;
}

static unsigned popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* base^e mod m for m < 2^32: every product fits in 64 bits. */
static uint64_t powmod32(uint64_t base, uint64_t e, uint64_t m) {
  uint64_t r = 1;
  base %= m;
  while (e) {
    if (e & 1) r = (r * base) % m;
    base = (base * base) % m;
    e >>= 1;
  }
  return r;
}

static uint64_t isqrt64(uint64_t n) {
  if (n < 2) return n;
  unsigned bits = 0;
  for (uint64_t t = n; t; t >>= 1) bits++;
  uint64_t x = 1ull << ((bits + 1) / 2); /* x*x >= 2^bits > n: start above the root */
  for (;;) {
    uint64_t y = (x + n / x) >> 1;
    if (y >= x) break;
    x = y;
  }
  /* Newton from above lands on floor(sqrt(n)); these only guard that claim. */
  while (x > 0xffffffffull || x * x > n) x--;
  while (x < 0xffffffffull && (x + 1) * (x + 1) <= n) x++;
  return x;
}

NOINLINE uint32_t k_arith64(uint32_t seed) {
  uint64_t s = ((uint64_t)seed << 32) ^ 0x0123456789abcdefull;
  uint64_t acc = seed;

  for (int i = 0; i < ARITH_ROUNDS; i++) {
    uint64_t a = splitmix64(&s);
    uint64_t b = (a >> 17) | 1;
    acc += a * b;
    acc ^= (uint64_t)(((unsigned __int128)a * b) >> 64);
    acc += (uint64_t)(((__int128)(int64_t)a * (int64_t)acc) >> 64);
    uint64_t d = (b >> (i & 31)) | 3;
    uint64_t q = a / d, r = a % d;
    if (q * d + r != a || r >= d) bench_fail(EXIT_CHECK_ARITH, "divu/remu", (uint32_t)i);
    acc += q ^ r;
    int64_t sa = (int64_t)a, sd = (int64_t)(d >> 1) * ((i & 1) ? -1 : 1) - (i & 2);
    if (sd == 0 || sd == -1) sd = 7; /* no INT64_MIN / -1 */
    int64_t sq = sa / sd, sr = sa % sd;
    if (sq * sd + sr != sa) bench_fail(EXIT_CHECK_ARITH, "div/rem", (uint32_t)i);
    acc ^= (uint64_t)sq + (uint64_t)sr;
    int32_t w = (int32_t)a, wd = (int32_t)(d | 1) >> (i & 7);
    if (wd == 0 || wd == -1) wd = -3;
    acc += (uint64_t)(int64_t)(w / wd) ^ (uint64_t)(int64_t)(w % wd); /* divw/remw */
    acc = rotl64(acc, (unsigned)i * 7u) + popcount64(a);
    acc -= (uint64_t)((int64_t)acc >> (i & 63));
  }

  uint64_t g = 0;
  for (int i = 0; i < 8; i++) {
    uint64_t x = splitmix64(&s) >> (11 + i * 3), y = splitmix64(&s) >> (11 + i * 5);
    uint64_t k = (x % 1021) + 1;
    uint64_t gx = gcd64(x * k + k, y * k + k); /* k divides both */
    if (gx % k != 0) bench_fail(EXIT_CHECK_ARITH, "gcd", (uint32_t)i);
    g += gx;
  }

  /* Fermat: a^(p-1) = 1 mod p for the prime p = 2^32 - 5. */
  const uint64_t p = 4294967291ull;
  uint64_t pw = 0;
  for (int i = 0; i < 6; i++) {
    uint64_t base = (splitmix64(&s) % (p - 2)) + 2;
    if (powmod32(base, p - 1, p) != 1) bench_fail(EXIT_CHECK_ARITH, "powmod", (uint32_t)base);
    pw = pw * 31 + powmod32(base, (seed | 1) + (uint64_t)i, p);
  }

  uint64_t sq = 0;
  for (int i = 0; i < 6; i++) {
    uint64_t n = splitmix64(&s) >> (i * 9);
    uint64_t r = isqrt64(n);
    if (r > 0xffffffffull || r * r > n || (r < 0xffffffffull && (r + 1) * (r + 1) <= n))
      bench_fail(EXIT_CHECK_ARITH, "isqrt", (uint32_t)i);
    sq ^= r << (i & 15);
  }

  uint64_t all = acc ^ rotl64(g, 13) ^ rotl64(pw, 29) ^ rotl64(sq, 41);
  return (uint32_t)all ^ (uint32_t)(all >> 32);
}
