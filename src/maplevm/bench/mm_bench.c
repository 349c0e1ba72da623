/*
 * maplevm's VMA benchmark on the live kernel: the same workloads the model runs
 * (python -m maplevm.bench mm), timed natively.
 *
 *   mm_bench NVMAS WORKLOAD ITERATIONS SEED
 *
 * Setup: one RW anonymous mapping of NVMAS pages at 0x100000000, every odd page made
 * read-only, which leaves NVMAS VMAs (plus the process's own).  Workloads:
 *   pairs    mmap(NULL, 4096, RW) then munmap it                      (2 syscalls)
 *   mprotect mprotect a random even page read-only (a 3-way merge),
 *            then back to RW (a split into three)                       (2 syscalls)
 *   mixed    mmap 4 pages, mprotect the 2nd read-only, munmap the 1st,
 *            munmap the other three                                     (4 syscalls)
 * Prints one line: "<syscalls> <seconds>".  The random page choice is a 64-bit LCG the
 * Python side reproduces.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BASE 0x100000000UL
#define PAGE 4096UL

static uint64_t lcg;
static uint64_t next_random(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return lcg >> 33;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s NVMAS WORKLOAD ITERATIONS SEED\n", argv[0]);
		return 2;
	}
	unsigned long nvmas = strtoul(argv[1], NULL, 0);
	const char *workload = argv[2];
	long iterations = strtol(argv[3], NULL, 0);
	lcg = strtoull(argv[4], NULL, 0);
	unsigned long pages = nvmas | 1;

	if (mmap((void *)BASE, pages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		perror("mmap setup");
		return 1;
	}
	for (unsigned long i = 1; i < pages; i += 2)
		if (mprotect((void *)(BASE + i * PAGE), PAGE, PROT_READ)) {
			perror("mprotect setup");
			return 1;
		}

	long syscalls = 0;
	double t0 = now();
	if (!strcmp(workload, "pairs")) {
		for (long k = 0; k < iterations; k++) {
			void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(p, PAGE);
		}
		syscalls = 2 * iterations;
	} else if (!strcmp(workload, "mprotect")) {
		unsigned long evens = pages / 2;
		for (long k = 0; k < iterations; k++) {
			unsigned long i = 2 * (1 + next_random() % (evens - 1));
			void *p = (void *)(BASE + i * PAGE);
			mprotect(p, PAGE, PROT_READ);
			mprotect(p, PAGE, PROT_READ | PROT_WRITE);
		}
		syscalls = 2 * iterations;
	} else if (!strcmp(workload, "mixed")) {
		for (long k = 0; k < iterations; k++) {
			char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			mprotect(p + PAGE, PAGE, PROT_READ);
			munmap(p, PAGE);
			munmap(p + PAGE, 3 * PAGE);
		}
		syscalls = 4 * iterations;
	} else {
		fprintf(stderr, "unknown workload %s\n", workload);
		return 2;
	}
	double t1 = now();
	printf("%ld %.9f\n", syscalls, t1 - t0);
	return 0;
}
