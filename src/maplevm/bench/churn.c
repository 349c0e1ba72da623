/* Many memory calls: mmap/mprotect/munmap/mremap churn (a replay-speed workload). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 25000;
	enum { K = 64 };
	char *p[K] = {0};
	size_t len[K] = {0};
	unsigned seed = 1;
	for (long i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		int k = (seed >> 8) % K;
		if (!p[k]) {
			len[k] = (size_t)(1 + (seed >> 16) % 16) << 12;
			p[k] = mmap(NULL, len[k], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			p[k][0] = 1;
		} else if ((seed >> 20) % 4 == 0) {
			mprotect(p[k], 4096, PROT_READ);
			mprotect(p[k], 4096, PROT_READ | PROT_WRITE);
		} else if ((seed >> 20) % 4 == 1) {
			char *q = mremap(p[k], len[k], len[k] + 8192, MREMAP_MAYMOVE);
			if (q != MAP_FAILED) {
				p[k] = q;
				len[k] += 8192;
			}
		} else {
			munmap(p[k], len[k]);
			p[k] = NULL;
		}
	}
	puts("done");
	return 0;
}
