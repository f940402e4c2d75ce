/*
 * paravm-atomics: threads hammer shared counters with RISC-V atomic instructions
 * and check that no update was lost.
 *
 *   paravm-atomics MODE [THREADS=4] [ITERS=1000000]
 *
 * Each of THREADS threads adds 1 to each counter of MODE, ITERS times. Thread i is pinned
 * to the i-th CPU the process may use (modulo their number), so that with THREADS >= CPUs
 * every CPU takes part and the threads really run at the same time:
 *   amo     amoadd.w on a 32-bit counter, amoadd.d on a 64-bit counter
 *   lrsc    lr.w/sc.w and lr.d/sc.d retry loops on a 32-bit and a 64-bit counter
 *   ticket  a plain 64-bit load/add/store inside a ticket spinlock (amoadd.w to
 *           take a ticket, fence r,rw after the wait, fence rw,w before the hand-over)
 *   plain   a plain 64-bit load/add/store and nothing else: the negative control,
 *           which loses updates when threads really run at the same time
 *   all     amo, lrsc and ticket in turn
 *
 * Output: one line per counter,
 *   paravm-atomics amo.w total=4000000 expected=4000000 ok        (or LOST)
 * then one line per mode with the threads, CPUs, iterations and wall time (and, for
 * lrsc, how many sc failed and were retried). A ticket lock with more threads than CPUs
 * is slow by nature: each hand-over to a thread that is not running waits for the
 * scheduler (a waiter yields its CPU after a few spins).
 * Exit status: 0 when every counter is exact, 1 otherwise (or when threads cannot
 * be started), 2 for usage errors.
 *
 * The instructions under test are written in inline assembly so that the compiler
 * cannot choose others. Built static by scripts/build-guests.mjs with
 * riscv64-linux-gnu-gcc -static -O2 -pthread; installed as /usr/bin/paravm-atomics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME "paravm-atomics"
#define MAX_THREADS 64
/* Spins on a ticket before the waiter gives its CPU away: with more threads than
 * CPUs the next ticket's owner may not be running. */
#define SPINS_BEFORE_YIELD 100

/* Counters on cache lines of their own. */
struct counters {
	_Alignas(64) uint32_t w;
	_Alignas(64) uint64_t d;
	_Alignas(64) uint32_t ticket_next;
	_Alignas(64) uint32_t ticket_serving;
	_Alignas(64) uint64_t plain;
};

static struct counters c;
static unsigned long iters;
static pthread_barrier_t start;
/* The CPUs this process may run on, in order. */
static int cpus[CPU_SETSIZE];
static int ncpus;

/* ---- the instructions under test ------------------------------------------------ */

static inline void amoadd_w(uint32_t *p, uint32_t v)
{
	__asm__ volatile("amoadd.w zero, %1, %0" : "+A"(*p) : "r"(v) : "memory");
}

static inline void amoadd_d(uint64_t *p, uint64_t v)
{
	__asm__ volatile("amoadd.d zero, %1, %0" : "+A"(*p) : "r"(v) : "memory");
}

/* Add v with an lr/sc loop; returns how many sc failed. */
static inline unsigned long lrsc_add_w(uint32_t *p, uint32_t v)
{
	unsigned long fails = 0;
	uint32_t old, sum, rc;

	__asm__ volatile(
		"1:	lr.w	%[old], %[mem]\n"
		"	addw	%[sum], %[old], %[v]\n"
		"	sc.w	%[rc], %[sum], %[mem]\n"
		"	beqz	%[rc], 2f\n"
		"	addi	%[fails], %[fails], 1\n"
		"	j	1b\n"
		"2:\n"
		: [old] "=&r"(old), [sum] "=&r"(sum), [rc] "=&r"(rc), [fails] "+r"(fails), [mem] "+A"(*p)
		: [v] "r"(v)
		: "memory");
	return fails;
}

static inline unsigned long lrsc_add_d(uint64_t *p, uint64_t v)
{
	unsigned long fails = 0;
	uint64_t old, sum, rc;

	__asm__ volatile(
		"1:	lr.d	%[old], %[mem]\n"
		"	add	%[sum], %[old], %[v]\n"
		"	sc.d	%[rc], %[sum], %[mem]\n"
		"	beqz	%[rc], 2f\n"
		"	addi	%[fails], %[fails], 1\n"
		"	j	1b\n"
		"2:\n"
		: [old] "=&r"(old), [sum] "=&r"(sum), [rc] "=&r"(rc), [fails] "+r"(fails), [mem] "+A"(*p)
		: [v] "r"(v)
		: "memory");
	return fails;
}

/* ld, addi, sd: not atomic. */
static inline void plain_inc(uint64_t *p)
{
	uint64_t t;

	__asm__ volatile(
		"ld	%[t], %[mem]\n"
		"addi	%[t], %[t], 1\n"
		"sd	%[t], %[mem]\n"
		: [t] "=&r"(t), [mem] "+m"(*p)
		:
		: "memory");
}

static inline uint32_t load_w(const uint32_t *p)
{
	uint32_t v;

	__asm__ volatile("lw %0, %1" : "=r"(v) : "m"(*p) : "memory");
	return v;
}

static inline void store_w(uint32_t *p, uint32_t v)
{
	__asm__ volatile("sw %1, %0" : "=m"(*p) : "r"(v) : "memory");
}

static void ticket_lock(void)
{
	uint32_t mine;
	unsigned spins = 0;

	__asm__ volatile("amoadd.w %0, %2, %1" : "=r"(mine), "+A"(c.ticket_next) : "r"(1) : "memory");
	while (load_w(&c.ticket_serving) != mine) {
		if (++spins == SPINS_BEFORE_YIELD) {
			spins = 0;
			sched_yield();
		}
	}
	/* acquire: nothing of the critical section moves above the wait */
	__asm__ volatile("fence r, rw" ::: "memory");
}

static void ticket_unlock(void)
{
	/* release: the critical section is visible before the next owner's ticket */
	__asm__ volatile("fence rw, w" ::: "memory");
	store_w(&c.ticket_serving, load_w(&c.ticket_serving) + 1);
}

/* ---- the threads ------------------------------------------------------------------ */

enum mode { AMO, LRSC, TICKET, PLAIN };

static const char *const mode_names[] = { "amo", "lrsc", "ticket", "plain" };

struct worker {
	pthread_t thread;
	enum mode mode;
	int cpu;
	unsigned long sc_fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned long i, fails = 0;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(w->cpu, &one);
	/* not fatal: the counters are checked all the same */
	if (sched_setaffinity(0, sizeof(one), &one) != 0)
		fprintf(stderr, NAME ": cannot pin a thread to CPU %d: %s\n", w->cpu, strerror(errno));
	pthread_barrier_wait(&start);
	switch (w->mode) {
	case AMO:
		for (i = 0; i < iters; i++) {
			amoadd_w(&c.w, 1);
			amoadd_d(&c.d, 1);
		}
		break;
	case LRSC:
		for (i = 0; i < iters; i++) {
			fails += lrsc_add_w(&c.w, 1);
			fails += lrsc_add_d(&c.d, 1);
		}
		break;
	case TICKET:
		for (i = 0; i < iters; i++) {
			ticket_lock();
			plain_inc(&c.plain);
			ticket_unlock();
		}
		break;
	case PLAIN:
		for (i = 0; i < iters; i++)
			plain_inc(&c.plain);
		break;
	}
	w->sc_fails = fails;
	return NULL;
}

static int report(const char *counter, uint64_t total, uint64_t expected)
{
	int ok = total == expected;

	printf(NAME " %s total=%llu expected=%llu %s\n", counter, (unsigned long long)total,
	       (unsigned long long)expected, ok ? "ok" : "LOST");
	return ok;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run one mode; 0 when every counter is exact, 1 otherwise. */
static int run(enum mode mode, unsigned nthreads)
{
	struct worker workers[MAX_THREADS];
	uint64_t expected = (uint64_t)nthreads * iters;
	unsigned long fails = 0;
	unsigned i;
	int ok = 1, err;
	double t0, secs;

	memset(&c, 0, sizeof(c));
	err = pthread_barrier_init(&start, NULL, nthreads + 1);
	if (err) {
		fprintf(stderr, NAME ": pthread_barrier_init: %s\n", strerror(err));
		return 1;
	}
	for (i = 0; i < nthreads; i++) {
		workers[i].mode = mode;
		workers[i].cpu = cpus[i % ncpus];
		workers[i].sc_fails = 0;
		err = pthread_create(&workers[i].thread, NULL, work, &workers[i]);
		if (err) {
			/* the barrier can never open: nothing to clean up but the exit */
			fprintf(stderr, NAME ": pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (i = 0; i < nthreads; i++) {
		pthread_join(workers[i].thread, NULL);
		fails += workers[i].sc_fails;
	}
	secs = now() - t0;
	pthread_barrier_destroy(&start);

	switch (mode) {
	case AMO:
		ok &= report("amo.w", c.w, expected);
		ok &= report("amo.d", c.d, expected);
		break;
	case LRSC:
		ok &= report("lrsc.w", c.w, expected);
		ok &= report("lrsc.d", c.d, expected);
		break;
	case TICKET:
		ok &= report("ticket", c.plain, expected);
		ok &= report("ticket.next", c.ticket_next, expected);
		break;
	case PLAIN:
		ok &= report("plain", c.plain, expected);
		break;
	}
	printf(NAME " %s threads=%u cpus=%d iters=%lu seconds=%.3f", mode_names[mode], nthreads,
	       ncpus < (int)nthreads ? ncpus : (int)nthreads, iters, secs);
	if (mode == LRSC)
		printf(" sc_failures=%lu", fails);
	printf("\n");
	return ok ? 0 : 1;
}

/* Fill cpus[] with the CPUs this process may run on. */
static int find_cpus(void)
{
	cpu_set_t allowed;
	int cpu;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		fprintf(stderr, NAME ": sched_getaffinity: %s\n", strerror(errno));
		return -1;
	}
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[ncpus++] = cpu;
	return ncpus > 0 ? 0 : -1;
}

/* ---- command line ------------------------------------------------------------------ */

static void usage(const char *why)
{
	if (why)
		fprintf(stderr, NAME ": %s\n", why);
	fprintf(stderr,
		"usage: " NAME " amo|lrsc|ticket|plain|all [THREADS=4] [ITERS=1000000]\n"
		"  THREADS 1..%d; THREADS x ITERS at most 4294967295\n",
		MAX_THREADS);
	exit(2);
}

/* A whole number from 1 to max, or a usage error. */
static unsigned long number(const char *what, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;
	char why[128];

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 1 || v > max) {
		snprintf(why, sizeof(why), "%s must be a whole number from 1 to %lu, not '%s'", what, max, s);
		usage(why);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long nthreads = 4;
	int status = 0;
	enum mode m;

	if (argc < 2 || argc > 4)
		usage(argc < 2 ? "no MODE given" : "too many arguments");
	if (argc > 2)
		nthreads = number("THREADS", argv[2], MAX_THREADS);
	iters = argc > 3 ? number("ITERS", argv[3], 0xffffffffUL) : 1000000;
	/* the 32-bit counters must be able to hold the expected total */
	if (nthreads * iters > 0xffffffffUL)
		usage("THREADS x ITERS must be at most 4294967295");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (find_cpus() != 0)
		return 1;

	if (strcmp(argv[1], "all") == 0) {
		for (m = AMO; m <= TICKET; m++)
			status |= run(m, nthreads);
		return status;
	}
	for (m = AMO; m <= PLAIN; m++)
		if (strcmp(argv[1], mode_names[m]) == 0)
			return run(m, nthreads);
	usage("unknown MODE");
	return 2;
}
