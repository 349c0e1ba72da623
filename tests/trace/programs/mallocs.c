/* Drives glibc malloc across its mmap threshold and realloc into mremap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

int main(void)
{
	enum { N = 64 };
	char *small[N], *big[N];
	size_t sizes[] = {64, 4000, 100000, 127 * 1024, 129 * 1024, 200000, 1 << 20, 3 << 20};
	unsigned sum = 0;
	/* Round 0 runs with glibc's dynamic threshold (frees of mmapped chunks raise it, so
	 * later big blocks come from the heap by brk); later rounds fix it at 128 KiB so big
	 * blocks stay mmapped and their reallocs go through mremap. */
	for (int round = 0; round < 4; round++) {
		if (round == 1)
			mallopt(M_MMAP_THRESHOLD, 128 * 1024);
		for (int i = 0; i < N; i++) {
			size_t sz = sizes[(i + round) % 8];
			small[i] = malloc(sz);
			memset(small[i], i, sz < 8192 ? sz : 8192);
		}
		for (int i = 0; i < N; i += 2)
			free(small[i]);
		/* realloc of mmapped chunks: glibc grows them with mremap(MREMAP_MAYMOVE) */
		for (int i = 0; i < N; i++) {
			big[i] = malloc((size_t)(256 + i) << 10);
			big[i][0] = (char)i;
		}
		for (int i = 0; i < N; i++) {
			big[i] = realloc(big[i], ((size_t)(256 + i) << 10) * (2 + round));
			sum += (unsigned char)big[i][0];
		}
		for (int i = 0; i < N; i += 3)
			big[i] = realloc(big[i], 300 << 10); /* shrink in place */
		for (int i = 1; i < N; i += 2)
			free(small[i]);
		for (int i = 0; i < N; i++)
			free(big[i]);
	}
	printf("%u\n", sum);
	return 0;
}
