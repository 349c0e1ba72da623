/* A program with known memory calls, for the live tracer tests: anonymous mappings that
 * split and merge, mremap, a file mapping, MAP_FIXED, a stack grown by faults, a thread and
 * a forked child. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void *thread(void *arg)
{
	(void)arg;
	char *p = mmap(NULL, 3 * 4096, RW, ANON, -1, 0);
	p[0] = 1;
	munmap(p, 3 * 4096);
	return NULL;
}

/* Touches 256 KiB of stack: the kernel grows [stack] by faults, which no syscall shows. */
static int deep(int n)
{
	volatile char buf[64 * 1024];
	buf[0] = (char)n;
	buf[sizeof buf - 1] = 1;
	return n ? deep(n - 1) + buf[0] : buf[sizeof buf - 1];
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char *a = mmap(NULL, 4 * 4096, RW, ANON, -1, 0);
	a[0] = 1;
	mprotect(a + 4096, 4096, PROT_READ);
	mprotect(a + 4096, 4096, RW);
	char *b = mremap(a, 4 * 4096, 64 * 4096, MREMAP_MAYMOVE);
	int fd = open(argv[1], O_RDONLY);
	char *f = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	munmap(f, 8192);
	deep(3);
	mmap((void *)0x200000000, 4096, RW, ANON | MAP_FIXED, -1, 0);
	pthread_t t;
	pthread_create(&t, NULL, thread, NULL);
	pthread_join(t, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char *c = mmap(NULL, 4096, RW, ANON, -1, 0);
		c[0] = 2;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	munmap(b, 64 * 4096);
	puts("ok");
	return 0;
}
