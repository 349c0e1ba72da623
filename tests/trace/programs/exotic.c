/* Less common memory calls, for the tracer and the replay: locking, advice, guard regions,
 * a MAP_GROWSDOWN stack grown by faults, sealing, shared and memfd mappings, MAP_32BIT,
 * MAP_FIXED_NOREPLACE, mremap DONTUNMAP and shrink, and calls that fail. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define P 4096

int main(void)
{
	char *a = mmap(NULL, 16 * P, RW, ANON, -1, 0);
	memset(a, 1, 16 * P);
	mlock(a + 2 * P, 2 * P);
	munlock(a + 2 * P, 2 * P);
	madvise(a + 4 * P, 2 * P, MADV_DONTFORK);
	madvise(a + 4 * P, 2 * P, MADV_DOFORK);
	madvise(a + 6 * P, P, MADV_WIPEONFORK);
	madvise(a + 8 * P, 4 * P, MADV_DONTNEED);
	madvise(a + 8 * P, 4 * P, MADV_FREE);
	madvise(a + 12 * P, 2 * P, MADV_NOHUGEPAGE);
	madvise(a + 12 * P, 2 * P, MADV_HUGEPAGE);
	madvise(a, 16 * P, 99); /* EINVAL */
	madvise(a + 14 * P, P, 102 /* MADV_GUARD_INSTALL */);

	/* a stack of its own, grown by faults below it (hinted into free space: growth keeps
	 * stack_guard_gap above the next lower mapping) */
	char *g = mmap((void *)0x500000000, 4 * P, RW, ANON | MAP_GROWSDOWN, -1, 0);
	for (int i = 1; i <= 8; i++)
		g[-i * P] = 1;
	mprotect(g, P, PROT_READ | PROT_GROWSDOWN);

	/* shared anonymous memory, a memfd, MAP_32BIT, NOREPLACE */
	char *s = mmap(NULL, 8 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[0] = 1;
	int fd = (int)syscall(SYS_memfd_create, "maplevm", 0);
	ftruncate(fd, 8 * P);
	char *m = mmap(NULL, 8 * P, RW, MAP_SHARED, fd, 0);
	m[0] = 1;
	char *m2 = mmap(m + 8 * P, 4 * P, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	char *lo = mmap(NULL, 4 * P, RW, ANON | MAP_32BIT, -1, 0);
	mmap(a, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0); /* EEXIST */

	/* mremap: keep the old range (DONTUNMAP), shrink in place, grow a shared one */
	char *d = mremap(a + 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	mremap(a, 2 * P, P, 0);
	mremap(s, 8 * P, 16 * P, MREMAP_MAYMOVE);

	/* locking everything, later mappings too */
	mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
	char *l = mmap(NULL, 2 * P, RW, ANON, -1, 0);
	munlockall();

	/* naming (EINVAL without CONFIG_ANON_VMA_NAME), sealing, failures */
	prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, l, 2 * P, "maplevm");
	syscall(462 /* mseal */, l, 2 * P, 0);
	munmap(l, 2 * P); /* EPERM: sealed */
	mprotect(lo, 64 * P, PROT_READ); /* ENOMEM: runs into a hole */
	munmap((void *)0x300000000, P); /* a hole: 0 */
	mmap(NULL, 0, RW, ANON, -1, 0); /* EINVAL */
	printf("%p %p %p %p\n", (void *)d, (void *)m2, (void *)lo, (void *)l);
	return 0;
}
