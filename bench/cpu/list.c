/* paravm cpu bench: linked lists — build (scattered in memory), search, reverse,
 * stable merge sort on two different orders, split/concatenate. Pointer chasing and
 * data-dependent branches. */
#include "bench.h"

#define LIST_N 96
#define LIST_PROBES 24

typedef struct lnode {
  struct lnode *next;
  int32_t key;
  uint16_t seq; /* insertion order: makes every order total and checks stability */
  uint16_t tag;
} lnode_t;

static lnode_t pool[LIST_N];

static lnode_t *list_build(uint32_t *rs) {
  lnode_t *head = 0;
  for (int i = 0; i < LIST_N; i++) {
    lnode_t *n = &pool[(i * 37) % LIST_N]; /* 37 is coprime with 96: a permutation */
    uint32_t r = rng_next(rs);
    n->key = (int32_t)(r & 0x3ff) - 0x200; /* narrow range: duplicates are common */
    n->seq = (uint16_t)i;
    n->tag = (uint16_t)(r >> 16);
    n->next = head;
    head = n;
  }
  return head;
}

static const lnode_t *list_find(const lnode_t *l, int32_t key, int *pos) {
  int i = 0;
  for (; l; l = l->next, i++) {
    if (l->key == key) break;
  }
  *pos = i;
  return l;
}

static lnode_t *list_reverse(lnode_t *l) {
  lnode_t *prev = 0;
  while (l) {
    lnode_t *next = l->next;
    l->next = prev;
    prev = l;
    l = next;
  }
  return prev;
}

static uint32_t mix_tag(uint16_t tag) { return ((uint32_t)tag * 0x45d9f3bu) >> 11; }

/* <0, 0, >0. Mode 0: by key, then seq. Mode 1: by a hash of tag, then seq. */
static int lnode_cmp(const lnode_t *a, const lnode_t *b, int mode) {
  if (mode == 0) {
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
  } else {
    uint32_t ka = mix_tag(a->tag), kb = mix_tag(b->tag);
    if (ka != kb) return ka < kb ? -1 : 1;
  }
  return (int)a->seq - (int)b->seq;
}

/* Bottom-up merge sort of a singly linked list: runs of width 1, 2, 4, ... */
static lnode_t *list_sort(lnode_t *list, int mode) {
  if (!list) return list;
  for (unsigned width = 1;; width <<= 1) {
    lnode_t *p = list, *tail = 0;
    unsigned merges = 0;
    list = 0;
    while (p) {
      merges++;
      lnode_t *q = p;
      unsigned psize = 0, qsize = width;
      while (psize < width && q) {
        psize++;
        q = q->next;
      }
      while (psize > 0 || (qsize > 0 && q)) {
        lnode_t *e;
        if (psize == 0) {
          e = q;
          q = q->next;
          qsize--;
        } else if (qsize == 0 || !q || lnode_cmp(p, q, mode) <= 0) {
          e = p;
          p = p->next;
          psize--;
        } else {
          e = q;
          q = q->next;
          qsize--;
        }
        if (tail)
          tail->next = e;
        else
          list = e;
        tail = e;
      }
      p = q;
    }
    tail->next = 0;
    if (merges <= 1) return list;
  }
}

/* Walks a sorted list: checks order and count, folds (key, seq, tag) into a CRC-16. */
static uint16_t list_check(const lnode_t *l, int mode, uint16_t crc) {
  int n = 0;
  const lnode_t *prev = 0;
  for (; l; prev = l, l = l->next, n++) {
    if (prev && lnode_cmp(prev, l, mode) >= 0) bench_fail(EXIT_CHECK_LIST, "list order", (uint32_t)n);
    crc = crc16_u16(crc, (uint16_t)l->key);
    crc = crc16_u16(crc, (uint16_t)(l->seq ^ l->tag));
  }
  if (n != LIST_N) bench_fail(EXIT_CHECK_LIST, "list length", (uint32_t)n);
  return crc;
}

NOINLINE uint32_t k_list(uint32_t seed) {
  uint32_t rs = seed | 1;
  uint16_t crc = (uint16_t)seed;
  lnode_t *l = list_build(&rs);

  uint32_t found = 0;
  for (int i = 0; i < LIST_PROBES; i++) {
    int32_t key = (int32_t)(rng_next(&rs) & 0x3ff) - 0x200;
    int pos;
    const lnode_t *n = list_find(l, key, &pos);
    if (n) {
      found++;
      crc = crc16_u16(crc, (uint16_t)(pos ^ n->seq));
    } else {
      crc = crc16_u16(crc, (uint16_t)pos);
    }
  }

  l = list_reverse(l);
  {
    const lnode_t *p = l;
    for (int i = 0; i < 8 && p; i++, p = p->next) crc = crc16_u16(crc, (uint16_t)p->key);
  }

  l = list_sort(l, 0);
  crc = list_check(l, 0, crc);

  /* Split: nodes with a negative key move to a second list (order kept), then the
   * two halves are concatenated the other way round and re-sorted by tag. */
  lnode_t *neg = 0, **negt = &neg, *pos = 0, **post = &pos;
  for (lnode_t *p = l; p;) {
    lnode_t *next = p->next;
    if (p->key < 0) {
      *negt = p;
      negt = &p->next;
    } else {
      *post = p;
      post = &p->next;
    }
    p = next;
  }
  *negt = 0;
  *post = neg;
  l = list_sort(pos ? pos : neg, 1);
  crc = list_check(l, 1, crc);

  return ((uint32_t)found << 16) | crc;
}
