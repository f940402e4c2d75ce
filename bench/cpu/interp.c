/* paravm cpu bench: a small register-machine bytecode interpreter — one big switch
 * (a jump table), indirect branches, a call stack. Three programs: Collatz step
 * counts with a histogram, fill + bubble sort + hash, and gcd by subtraction through
 * a subroutine. Results are checked against the same computations done in C. */
#include "bench.h"

enum {
  OP_HALT, OP_LI, OP_MOV, OP_ADD, OP_SUB, OP_MUL, OP_AND, OP_OR, OP_XOR,
  OP_ADDI, OP_ANDI, OP_SHLI, OP_SHRI, OP_LD, OP_ST, OP_JMP,
  OP_BEQ, OP_BNE, OP_BLT, OP_BEQI, OP_BNEI, OP_CALL, OP_RET,
  N_OPS
};

/* a, b, c: register numbers (BEQI/BNEI: c is an 8-bit constant); imm: immediate or target. */
typedef struct {
  uint8_t op, a, b, c;
  int32_t imm;
} vinsn_t;

#define VM_MEM 64
#define VM_FUEL 200000u

static uint32_t vm_mem[VM_MEM];

/* Runs prog with registers r[8]; returns the number of instructions executed, 0 on error. */
static uint32_t vm_run(const vinsn_t *prog, uint32_t nprog, uint32_t r[8]) {
  uint32_t pc = 0, sp = 0, steps = 0;
  uint32_t stack[8];
  for (;;) {
    if (pc >= nprog || ++steps > VM_FUEL) return 0;
    const vinsn_t *in = &prog[pc++];
    switch (in->op) {
      case OP_HALT: return steps;
      case OP_LI: r[in->a] = (uint32_t)in->imm; break;
      case OP_MOV: r[in->a] = r[in->b]; break;
      case OP_ADD: r[in->a] = r[in->b] + r[in->c]; break;
      case OP_SUB: r[in->a] = r[in->b] - r[in->c]; break;
      case OP_MUL: r[in->a] = r[in->b] * r[in->c]; break;
      case OP_AND: r[in->a] = r[in->b] & r[in->c]; break;
      case OP_OR: r[in->a] = r[in->b] | r[in->c]; break;
      case OP_XOR: r[in->a] = r[in->b] ^ r[in->c]; break;
      case OP_ADDI: r[in->a] = r[in->b] + (uint32_t)in->imm; break;
      case OP_ANDI: r[in->a] = r[in->b] & (uint32_t)in->imm; break;
      case OP_SHLI: r[in->a] = r[in->b] << (in->imm & 31); break;
      case OP_SHRI: r[in->a] = r[in->b] >> (in->imm & 31); break;
      case OP_LD: r[in->a] = vm_mem[(r[in->b] + (uint32_t)in->imm) % VM_MEM]; break;
      case OP_ST: vm_mem[(r[in->b] + (uint32_t)in->imm) % VM_MEM] = r[in->a]; break;
      case OP_JMP: pc = (uint32_t)in->imm; break;
      case OP_BEQ: if (r[in->a] == r[in->b]) pc = (uint32_t)in->imm; break;
      case OP_BNE: if (r[in->a] != r[in->b]) pc = (uint32_t)in->imm; break;
      case OP_BLT: if (r[in->a] < r[in->b]) pc = (uint32_t)in->imm; break;
      case OP_BEQI: if (r[in->a] == in->c) pc = (uint32_t)in->imm; break;
      case OP_BNEI: if (r[in->a] != in->c) pc = (uint32_t)in->imm; break;
      case OP_CALL:
        if (sp >= 8) return 0;
        stack[sp++] = pc;
        pc = (uint32_t)in->imm;
        break;
      case OP_RET:
        if (sp == 0) return 0;
        pc = stack[--sp];
        break;
      default: return 0;
    }
  }
}

#define I(op, a, b, c, imm) {OP_##op, a, b, c, imm}

/* In: r1 = first n, r2 = count. Out: r7 = total steps; vm_mem[steps % 64]++ per n. */
static const vinsn_t prog_collatz[] = {
    /*  0 */ I(LI, 7, 0, 0, 0),
    /*  1 */ I(MOV, 3, 1, 0, 0),    /* next n */
    /*  2 */ I(LI, 4, 0, 0, 0),
    /*  3 */ I(BEQI, 3, 0, 1, 14),  /* loop: n == 1 -> done */
    /*  4 */ I(ANDI, 5, 3, 0, 1),
    /*  5 */ I(BEQI, 5, 0, 0, 11),  /* even */
    /*  6 */ I(SHLI, 6, 3, 0, 1),   /* n = 3n + 1 */
    /*  7 */ I(ADD, 3, 3, 6, 0),
    /*  8 */ I(ADDI, 3, 3, 0, 1),
    /*  9 */ I(ADDI, 4, 4, 0, 1),
    /* 10 */ I(JMP, 0, 0, 0, 3),
    /* 11 */ I(SHRI, 3, 3, 0, 1),   /* n = n / 2 */
    /* 12 */ I(ADDI, 4, 4, 0, 1),
    /* 13 */ I(JMP, 0, 0, 0, 3),
    /* 14 */ I(ADD, 7, 7, 4, 0),    /* done */
    /* 15 */ I(LD, 6, 4, 0, 0),
    /* 16 */ I(ADDI, 6, 6, 0, 1),
    /* 17 */ I(ST, 6, 4, 0, 0),
    /* 18 */ I(ADDI, 1, 1, 0, 1),
    /* 19 */ I(ADDI, 2, 2, 0, -1),
    /* 20 */ I(BNEI, 2, 0, 0, 1),
    /* 21 */ I(HALT, 0, 0, 0, 0),
};

/* In: r1 = n (<= 64), r2 = LCG state. Fills vm_mem[0..n) from an LCG, bubble-sorts it,
 * Out: r7 = hash of the sorted words. */
static const vinsn_t prog_sort[] = {
    /*  0 */ I(LI, 6, 0, 0, 1103515245),
    /*  1 */ I(LI, 3, 0, 0, 0),
    /*  2 */ I(MUL, 2, 2, 6, 0),     /* fill */
    /*  3 */ I(ADDI, 2, 2, 0, 12345),
    /*  4 */ I(SHRI, 5, 2, 0, 16),
    /*  5 */ I(ST, 5, 3, 0, 0),
    /*  6 */ I(ADDI, 3, 3, 0, 1),
    /*  7 */ I(BLT, 3, 1, 0, 2),
    /*  8 */ I(ADDI, 4, 1, 0, -1),   /* end = n - 1 */
    /*  9 */ I(BEQI, 4, 0, 0, 21),   /* outer */
    /* 10 */ I(LI, 3, 0, 0, 0),
    /* 11 */ I(LD, 5, 3, 0, 0),      /* inner */
    /* 12 */ I(LD, 6, 3, 0, 1),
    /* 13 */ I(BLT, 6, 5, 0, 18),    /* out of order -> swap */
    /* 14 */ I(ADDI, 3, 3, 0, 1),    /* next */
    /* 15 */ I(BLT, 3, 4, 0, 11),
    /* 16 */ I(ADDI, 4, 4, 0, -1),
    /* 17 */ I(JMP, 0, 0, 0, 9),
    /* 18 */ I(ST, 6, 3, 0, 0),      /* swap */
    /* 19 */ I(ST, 5, 3, 0, 1),
    /* 20 */ I(JMP, 0, 0, 0, 14),
    /* 21 */ I(LI, 3, 0, 0, 0),      /* hash */
    /* 22 */ I(LI, 7, 0, 0, 5381),
    /* 23 */ I(LD, 5, 3, 0, 0),
    /* 24 */ I(SHLI, 6, 7, 0, 5),
    /* 25 */ I(ADD, 7, 7, 6, 0),
    /* 26 */ I(XOR, 7, 7, 5, 0),
    /* 27 */ I(ADDI, 3, 3, 0, 1),
    /* 28 */ I(BLT, 3, 1, 0, 23),
    /* 29 */ I(HALT, 0, 0, 0, 0),
};

/* In: r1 = x > 0, r2 = count. Out: r7 = sum of gcd(i, x) for i in 1..count. */
static const vinsn_t prog_gcd[] = {
    /*  0 */ I(LI, 7, 0, 0, 0),
    /*  1 */ I(LI, 3, 0, 0, 1),
    /*  2 */ I(MOV, 4, 3, 0, 0),     /* loop */
    /*  3 */ I(MOV, 5, 1, 0, 0),
    /*  4 */ I(CALL, 0, 0, 0, 10),
    /*  5 */ I(ADD, 7, 7, 4, 0),
    /*  6 */ I(ADDI, 3, 3, 0, 1),
    /*  7 */ I(BLT, 2, 3, 0, 9),
    /*  8 */ I(JMP, 0, 0, 0, 2),
    /*  9 */ I(HALT, 0, 0, 0, 0),
    /* 10 */ I(BEQ, 4, 5, 0, 16),    /* gcd(r4, r5) -> r4 */
    /* 11 */ I(BLT, 4, 5, 0, 14),
    /* 12 */ I(SUB, 4, 4, 5, 0),
    /* 13 */ I(JMP, 0, 0, 0, 10),
    /* 14 */ I(SUB, 5, 5, 4, 0),
    /* 15 */ I(JMP, 0, 0, 0, 10),
    /* 16 */ I(RET, 0, 0, 0, 0),
};

#define NPROG(p) (uint32_t)(sizeof p / sizeof p[0])

static uint32_t c_collatz_steps(uint32_t n) {
  uint32_t s = 0;
  while (n != 1) {
    n = (n & 1) ? 3 * n + 1 : n >> 1;
    s++;
  }
  return s;
}

static uint32_t c_gcd(uint32_t a, uint32_t b) {
  while (b) {
    uint32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

NOINLINE uint32_t k_interp(uint32_t seed) {
  uint32_t r[8];
  uint32_t digest = 0;
  uint16_t crc = 0;

  for (int i = 0; i < VM_MEM; i++) vm_mem[i] = 0;

  /* Collatz */
  for (int i = 0; i < 8; i++) r[i] = 0;
  uint32_t first = 27 + (seed & 255), count = 3;
  r[1] = first;
  r[2] = count;
  uint32_t steps = vm_run(prog_collatz, NPROG(prog_collatz), r);
  uint32_t expect = 0;
  for (uint32_t n = first; n < first + count; n++) expect += c_collatz_steps(n);
  if (steps == 0 || r[7] != expect) bench_fail(EXIT_CHECK_INTERP, "vm collatz", r[7]);
  digest += steps;
  for (int i = 0; i < VM_MEM; i++) crc = crc16_u16(crc, (uint16_t)vm_mem[i]);

  /* Fill + bubble sort */
  for (int i = 0; i < 8; i++) r[i] = 0;
  uint32_t n = 16 + ((seed >> 8) & 7);
  r[1] = n;
  r[2] = seed;
  steps = vm_run(prog_sort, NPROG(prog_sort), r);
  if (steps == 0) bench_fail(EXIT_CHECK_INTERP, "vm sort", 0);
  for (uint32_t i = 1; i < n; i++)
    if (vm_mem[i - 1] > vm_mem[i]) bench_fail(EXIT_CHECK_INTERP, "vm sort order", i);
  digest += steps;
  crc = crc16_u32(crc, r[7]);

  /* gcd through a subroutine */
  for (int i = 0; i < 8; i++) r[i] = 0;
  uint32_t x = 100 + ((seed >> 4) & 127), cnt = 10;
  r[1] = x;
  r[2] = cnt;
  steps = vm_run(prog_gcd, NPROG(prog_gcd), r);
  expect = 0;
  for (uint32_t i = 1; i <= cnt; i++) expect += c_gcd(i, x);
  if (steps == 0 || r[7] != expect) bench_fail(EXIT_CHECK_INTERP, "vm gcd", r[7]);
  digest += steps;
  crc = crc16_u32(crc, r[7]);

  return ((uint32_t)crc << 16) ^ digest;
}
