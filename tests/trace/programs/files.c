/* Open-file identity, which decides merges of file mappings: the same file reopened under
 * the same descriptor number is another struct file (no merge), the same open file mapped
 * twice or through a dup is one (merge), a closed descriptor gives EBADF.  Closes are not
 * traced when the tracer compares open files with kcmp; this program checks it does so
 * correctly.  Usage: files PATH (a file of at least 4 pages). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096L

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char *base = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return 1;
	/* 1. reopened under the same number: two VMAs */
	int fd = open(argv[1], O_RDONLY);
	mmap(base, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	close(fd);
	int again = open(argv[1], O_RDONLY);
	mmap(base + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, again, PAGE);
	/* 2. the same open file twice: one VMA */
	mmap(base + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, again, 0);
	mmap(base + 9 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, again, PAGE);
	/* 3. a duplicate (another number, the same open file): merges with it */
	int dup1 = dup(again);
	mmap(base + 10 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, dup1, 2 * PAGE);
	/* 4. the number of a closed descriptor: EBADF */
	close(again);
	close(dup1);
	void *bad = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, again, 0);
	/* 5. reopened, closed, reopened again under the same number, mapped after 2.'s */
	int third = open(argv[1], O_RDONLY);
	close(third);
	third = open(argv[1], O_RDONLY);
	mmap(base + 11 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, third, 3 * PAGE);
	printf("%d %d %d %d\n", fd == again, bad == MAP_FAILED, dup1 != again, third == fd);
	return 0;
}
