/*
 * maplevm-tracer: runs a program under ptrace with address-space randomisation off and
 * reports every memory-management system call, with what a model needs to replay it.
 *
 * Built on first use by maplevm.trace.ptrace (gcc -O2) and driven by it:
 *
 *     maplevm-tracer [-f] [-s] -o EVENTS -- PROGRAM ARGS...
 *
 * -f follows child processes; -s reads smaps (with VmFlags) before every memory call
 * instead of maps plus a PAGEMAP_SCAN of the anonymous pages (several times cheaper; smaps is
 * still read at exec, fork and exit).
 *
 * Only the system calls of interest stop the program: a seccomp filter (installed in the
 * child just before execve, inherited by every descendant) returns SECCOMP_RET_TRACE for
 * them and SECCOMP_RET_ALLOW for everything else, so a program that mostly reads, writes
 * and computes runs at nearly full speed.  At the seccomp stop (syscall entry) the tracer
 * reads the arguments; it resumes with PTRACE_SYSCALL to see the return value at the
 * syscall-exit stop.
 *
 * Ordering: all threads of an address space share one mm, and the kernel serialises
 * mmap/munmap/mprotect/... on mmap_lock.  The tracer lets at most one thread per mm be
 * inside such a call: a second thread arriving at a memory syscall stays stopped until the
 * first one's exit stop.  The order of the events is therefore the order the kernel applied
 * them.
 *
 * Page faults are invisible here, yet whether a VMA has anonymous pages (an anon_vma)
 * decides later merges.  Before each memory syscall the tracer reads the mm's VMAs
 * (/proc/TID/maps and a PAGEMAP_SCAN ioctl for the anonymous pages, or /proc/TID/smaps) and
 * reports what changed since the previous reading of the same mm (maps lines, the
 * "has anonymous pages" bit, VmFlags when read): the effect of the previous call plus any
 * faults since.
 *
 * Events (one per line; integers in lowercase hex, negative ones with a leading '-'):
 *   V <version>
 *   O <0|1>                                     1: open files are told apart (kcmp) and
 *                                               closes are not traced; 0: closes traced
 *   R <tid>                                     the root process (before its first exec)
 *   T <tid> <parent> <clone-flags>              a new task (thread or process)
 *   E <tid> <former-tid>                        execve succeeded; blobs follow
 *   B <tid> <name> <nbytes>\n<bytes>\n          a blob: smaps, stat, limits, personality,
 *                                               status, exe, fds (after E); forksmaps (a
 *                                               new process's address space, before it runs)
 *   S <tid> <nr> <a0> .. <a5> <ret>             a completed system call (a close in an
 *                                               unshared file table: at its entry)
 *   I <tid> <fd> <dev> <ino> <size> <st_mode> <open-flags> <fs-magic> <ofd> <path>
 *                                               what an fd refers to (before an mmap of
 *                                               an fd, before a dup; opens do not stop);
 *                                               ofd: which open file it is (equal ids: the
 *                                               same struct file), -1 when unknown
 *   C <tid> <fd>                                fd is not open (at an mmap or dup of it)
 *   A <tid> <hex bytes>                         a string argument (prctl PR_SET_VMA name)
 *   D <tid> <count>\n(-<start> | +<anon> <maps line>)*count
 *                                               maps changes since the last D of this mm
 *   Z <tid>                                     the address space's final state was just
 *                                               reported (the process is exiting)
 *   X <tid> e|s <code>                          a task ended: exit status or signal
 *   W <text>                                    a warning
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_VERSION 2

/* Our own copy of the PTRACE_GET_SYSCALL_INFO structure (Linux 5.3+), so that the build
 * does not depend on the C library's headers knowing it. */
#define MV_GET_SYSCALL_INFO 0x420e
#define MV_INFO_NONE 0
#define MV_INFO_ENTRY 1
#define MV_INFO_EXIT 2
#define MV_INFO_SECCOMP 3
struct mv_syscall_info {
	uint8_t op;
	uint8_t pad[3];
	uint32_t arch;
	uint64_t ip, sp;
	union {
		struct {
			uint64_t nr, args[6];
		} entry;
		struct {
			int64_t rval;
			uint8_t is_error;
		} exit;
		struct {
			uint64_t nr, args[6];
			uint32_t ret_data;
		} seccomp;
	};
};

/* x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
enum {
	NR_close = 3, NR_open = 2, NR_mmap = 9, NR_mprotect = 10, NR_munmap = 11, NR_brk = 12,
	NR_mremap = 25, NR_madvise = 28, NR_shmat = 30, NR_dup = 32, NR_dup2 = 33,
	NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_execve = 59, NR_shmdt = 67, NR_fcntl = 72,
	NR_creat = 85, NR_mlock = 149, NR_munlock = 150, NR_mlockall = 151, NR_munlockall = 152,
	NR_prctl = 157, NR_remap_file_pages = 216, NR_exit_group = 231, NR_openat = 257,
	NR_dup3 = 292, NR_memfd_create = 319, NR_execveat = 322, NR_mlock2 = 325,
	NR_pkey_mprotect = 329, NR_clone3 = 435, NR_close_range = 436, NR_openat2 = 437,
	NR_mseal = 462,
};
#define MV_PR_SET_VMA 0x53564d41
#define MV_F_DUPFD 0
#define MV_F_DUPFD_CLOEXEC 1030
#define MV_CLONE_VM 0x100
#define MV_CLONE_FILES 0x400
#define MV_CLONE_VFORK 0x4000
#define MV_CLONE_THREAD 0x10000
#define MV_MAP_ANONYMOUS 0x20
#define MV_MAP_FIXED 0x10
#define MV_MREMAP_FIXED 2
#define MV_MADV_FREE 8
#define MV_MADV_COLD 20
#define MV_MADV_PAGEOUT 21

/* System calls that stop the program.  Everything else runs untraced.  Opens are not
 * among them: a descriptor matters to a replay only once it is mapped (or duplicated), and
 * it is reported then (I before the mmap or dup).  Which open file (struct file) it is
 * decides merges, and a number can be closed and reused for the same path: the tracer
 * holds a duplicate of every open file it has reported (pidfd_getfd) and compares a
 * reported descriptor with them (kcmp KCMP_FILE), so closes need not stop the program.
 * Where pidfd_getfd or kcmp is missing (Linux < 5.6, no CONFIG_KCMP) closes are traced
 * instead, and a number mapped again is the same open file exactly when no close,
 * close_range or dup onto it came in between. */
static const int traced_nrs[] = {
	NR_mmap, NR_mprotect, NR_munmap, NR_brk, NR_mremap, NR_madvise, NR_shmat, NR_shmdt,
	NR_mlock, NR_munlock, NR_mlockall, NR_munlockall, NR_mlock2, NR_pkey_mprotect,
	NR_remap_file_pages, NR_mseal, NR_close, NR_close_range, NR_dup, NR_dup2, NR_dup3,
	NR_clone, NR_clone3, NR_fork, NR_vfork, NR_execve, NR_execveat, NR_exit_group,
};

enum sys_class { C_OTHER, C_MM, C_FD, C_CLONE, C_EXEC, C_EXIT };

static enum sys_class classify(long nr)
{
	switch (nr) {
	case NR_mmap: case NR_mprotect: case NR_munmap: case NR_brk: case NR_mremap:
	case NR_madvise: case NR_shmat: case NR_shmdt: case NR_mlock: case NR_munlock:
	case NR_mlockall: case NR_munlockall: case NR_mlock2: case NR_pkey_mprotect:
	case NR_remap_file_pages: case NR_mseal: case NR_prctl:
		return C_MM;
	case NR_open: case NR_openat: case NR_creat: case NR_openat2: case NR_memfd_create:
	case NR_close: case NR_close_range: case NR_dup: case NR_dup2: case NR_dup3:
	case NR_fcntl:
		return C_FD;
	case NR_clone: case NR_clone3: case NR_fork: case NR_vfork:
		return C_CLONE;
	case NR_execve: case NR_execveat:
		return C_EXEC;
	case NR_exit_group:
		return C_EXIT;
	}
	return C_OTHER;
}

static int opens_fd(long nr)
{
	return nr == NR_open || nr == NR_openat || nr == NR_creat || nr == NR_openat2 ||
	       nr == NR_memfd_create;
}

/* ------------------------------------------------------------------------------------ */
/* Output */

static FILE *out;

static void die(const char *what)
{
	fprintf(stderr, "maplevm-tracer: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void put_num(long long v)
{
	if (v < 0)
		fprintf(out, " -%llx", (unsigned long long)-(unsigned long long)v);
	else
		fprintf(out, " %llx", (unsigned long long)v);
}

static void put_blob(pid_t tid, const char *name, const char *data, size_t len)
{
	fprintf(out, "B %x %s %zx\n", tid, name, len);
	fwrite(data, 1, len, out);
	fputc('\n', out);
}

/* Reads a whole (proc) file into a reusable buffer; returns its length or -1. */
static char *rbuf;
static size_t rcap;

static ssize_t read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		if (rcap - len < 65536) {
			rcap = rcap ? rcap * 2 : 1 << 20;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf)
				die("out of memory");
		}
		ssize_t n = read(fd, rbuf + len, rcap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	rbuf[len] = '\0';
	return (ssize_t)len;
}

static void blob_file(pid_t tid, const char *name, const char *what)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", tid, what);
	ssize_t n = read_file(path);
	put_blob(tid, name, n > 0 ? rbuf : "", n > 0 ? (size_t)n : 0);
}

/* ------------------------------------------------------------------------------------ */
/* Address spaces: the last smaps seen, for deltas, and the one-syscall-at-a-time gate. */

struct entry {
	unsigned long start, end;
	int anon;
	char *line;       /* points into the mm's text buffer */
	char vmflags[128]; /* "" when unknown (a maps reading) */
};

struct mmstate {
	int used;
	int followed;
	int ntasks;
	pid_t busy;         /* the task inside a memory syscall, or 0 */
	pid_t *waiting;     /* tasks stopped at a memory syscall's entry, FIFO */
	int nwaiting, capwaiting;
	char *text;         /* the last maps/smaps text (lines NUL-terminated in place) */
	size_t textcap;
	struct entry *ents;
	int nents, capents;
	/* the next reading is made here, then swapped with text/ents (no allocation per call) */
	char *spare;
	size_t sparecap;
	struct entry *spents;
	int capspents;
	/* /proc/PID/{maps,smaps,pagemap} opened once per mm and read from offset 0 each time:
	 * such a descriptor belongs to the mm it was opened on (proc_mem_open), whichever of its
	 * threads opened it or lives on; -1 until opened */
	int fd_maps, fd_smaps, fd_pagemap;
	/* the ranges where a call may have removed anonymous pages from a VMA whose maps line
	 * stays the same (madvise, MAP_FIXED, mremap, munmap) since the last page-table scan:
	 * the next one covers the VMAs meeting them */
	unsigned long dirty_lo[8], dirty_hi[8];
	int ndirty;
	/* a call whose effect on pages is not known to stay in a range ran: scan every VMA */
	int scan_all;
	/* MADV_FREE or MADV_PAGEOUT was used: pages may go at any time, always scan all */
	int pages_volatile;
};

static struct mmstate *mms;
static int nmms;
static int opt_smaps;       /* -s: smaps (with VmFlags) before every memory call */
static int pagemap_scan_ok = 1;

static int new_mm(int followed)
{
	mms = realloc(mms, sizeof *mms * (size_t)(nmms + 1));
	if (!mms)
		die("out of memory");
	memset(&mms[nmms], 0, sizeof *mms);
	mms[nmms].used = 1;
	mms[nmms].followed = followed;
	mms[nmms].fd_maps = mms[nmms].fd_smaps = mms[nmms].fd_pagemap = -1;
	mms[nmms].scan_all = 1;
	return nmms++;
}

static void gc_held(void);
static int nheld;

/* The mm is gone (its last task exited or exec'd): its descriptors are closed, and the
 * open files only it mapped are let go. */
static void mm_close_fds(struct mmstate *m)
{
	int *fds[] = {&m->fd_maps, &m->fd_smaps, &m->fd_pagemap};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	free(m->spare);
	free(m->spents);
	m->spare = NULL;
	m->spents = NULL;
	m->sparecap = 0;
	m->capspents = 0;
	if (nheld)
		gc_held();
}

/* The mm's descriptor for /proc/TID/WHAT, opened on first use. */
static int mm_fd(struct mmstate *m, int *fd, pid_t tid, const char *what)
{
	if (*fd < 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/%s", tid, what);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	(void)m;
	return *fd;
}

/* Reads a whole proc file from offset 0 into *buf (grown as needed, NUL-terminated);
 * returns its length or -1. */
static ssize_t pread_all(int fd, char **buf, size_t *cap)
{
	size_t len = 0;
	for (;;) {
		if (*cap - len < 65536) {
			*cap = *cap ? *cap * 2 : 1 << 18;
			*buf = realloc(*buf, *cap);
			if (!*buf)
				die("out of memory");
		}
		ssize_t n = pread(fd, *buf + len, *cap - len - 1, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(*buf)[len] = '\0';
	return (ssize_t)len;
}

/* Parses maps or smaps text (modified in place) into *ents (grown as needed); returns
 * their number. */
static int parse_vmas(char *text, struct entry **ents_io, int *cap_io)
{
	int cap = *cap_io, n = 0;
	struct entry *ents = *ents_io;
	if (cap == 0) {
		cap = 64;
		ents = malloc(sizeof *ents * (size_t)cap);
		if (!ents)
			die("out of memory");
	}
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		char c = *p;
		/* VMA header lines start with a lowercase hex digit; smaps keys are capitalised. */
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			if (n == cap) {
				cap *= 2;
				ents = realloc(ents, sizeof *ents * (size_t)cap);
				if (!ents)
					die("out of memory");
			}
			char *dash;
			ents[n].start = strtoul(p, &dash, 16);
			ents[n].end = strtoul(dash + 1, NULL, 16);
			ents[n].anon = 0;
			ents[n].line = p;
			ents[n].vmflags[0] = '\0';
			n++;
		} else if (n > 0 && strncmp(p, "Anonymous:", 10) == 0) {
			ents[n - 1].anon = strtoul(p + 10, NULL, 10) > 0;
		} else if (n > 0 && strncmp(p, "VmFlags:", 8) == 0) {
			char *v = p + 8;
			while (*v == ' ')
				v++;
			size_t len = strlen(v);
			while (len > 0 && v[len - 1] == ' ')
				v[--len] = '\0';
			snprintf(ents[n - 1].vmflags, sizeof ents[n - 1].vmflags, "%s", v);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	*ents_io = ents;
	*cap_io = cap;
	return n;
}

/* PAGEMAP_SCAN (Linux 6.7+), declared here: older C library headers lack it. */
struct mv_page_region {
	uint64_t start, end, categories;
};
struct mv_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define MV_PAGEMAP_SCAN _IOWR('f', 16, struct mv_pm_scan_arg)
#define MV_PAGE_IS_FILE (1 << 2)
#define MV_PAGE_IS_PRESENT (1 << 3)
#define MV_PAGE_IS_SWAPPED (1 << 4)
#define MV_PAGE_IS_PFNZERO (1 << 5)
#define MV_TASK_SIZE 0x7ffffffff000UL

/* Marks the entries [i, n) holding anonymous pages in [from, to) (what smaps counts as
 * "Anonymous": present or swapped pages that are not file pages, zero page excluded) with
 * one page-table walk.  Returns -1 when the kernel cannot do it. */
static int scan_range(int fd, struct entry *ents, int i, int n, uint64_t from, uint64_t to)
{
	static struct mv_page_region regs[1024];
	while (from < to) {
		struct mv_pm_scan_arg arg;
		memset(&arg, 0, sizeof arg);
		arg.size = sizeof arg;
		arg.start = from;
		arg.end = to;
		arg.vec = (uint64_t)(uintptr_t)regs;
		arg.vec_len = sizeof regs / sizeof regs[0];
		arg.category_inverted = MV_PAGE_IS_FILE | MV_PAGE_IS_PFNZERO;
		arg.category_mask = MV_PAGE_IS_FILE | MV_PAGE_IS_PFNZERO;
		arg.category_anyof_mask = MV_PAGE_IS_PRESENT | MV_PAGE_IS_SWAPPED;
		arg.return_mask = MV_PAGE_IS_PRESENT | MV_PAGE_IS_SWAPPED;
		long got = ioctl(fd, MV_PAGEMAP_SCAN, &arg);
		if (got < 0)
			return -1;
		for (long r = 0; r < got; r++) {
			while (i < n && ents[i].start < regs[r].end) {
				/* entry i starts before the region's end: it overlaps if it ends after
				 * the region starts */
				if (ents[i].end > regs[r].start)
					ents[i].anon = 1;
				if (ents[i].end > regs[r].end)
					break; /* the entry goes on past this region */
				i++;
			}
		}
		if (arg.walk_end <= from || got < (long)arg.vec_len)
			break;
		from = arg.walk_end;
	}
	return 0;
}

static int in_dirty(const struct mmstate *m, const struct entry *e)
{
	for (int d = 0; d < m->ndirty; d++)
		if (e->start < m->dirty_hi[d] && m->dirty_lo[d] < e->end)
			return 1;
	return 0;
}

static int writable(const struct entry *e)
{
	const char *perms = strchr(e->line, ' ');
	return perms && perms[1] && perms[2] == 'w';
}

/* Which VMAs hold anonymous pages, scanning only those whose answer may have changed since
 * the last reading `old`:
 *  - a VMA whose maps line changed (or is new) is scanned;
 *  - an unchanged VMA that had anonymous pages still has them, unless it meets the range of
 *    a call that can remove pages without changing the lines around (dirty: madvise,
 *    MAP_FIXED, mremap, munmap), a call of unknown reach ran (scan_all: shmat, shmdt,
 *    remap_file_pages) or pages may be reclaimed behind our back (MADV_FREE, MADV_COLD,
 *    MADV_PAGEOUT): page faults only add pages;
 *  - an unchanged VMA without anonymous pages that is not writable cannot get any: a fault
 *    in it either fails or maps file pages or the zero page (only a FOLL_FORCE write, i.e.
 *    a debugger, could COW it, and we are its only ptracer);
 *  - every other VMA (writable, no pages last time) is scanned.
 * Consecutive VMAs to scan share one PAGEMAP_SCAN. */
static int scan_anon(int fd, struct mmstate *m, struct entry *ents, int n)
{
	int all = m->scan_all || m->pages_volatile;
	int i = 0, k = 0;
	while (k < n) {
		/* find the next entry to scan, copying known answers */
		struct entry *b = &ents[k];
		if (b->start >= MV_TASK_SIZE) { /* [vsyscall]: no VMA, never anonymous */
			k++;
			continue;
		}
		if (!all) {
			while (i < m->nents && m->ents[i].start < b->start)
				i++;
			struct entry *a = i < m->nents ? &m->ents[i] : NULL;
			if (a && a->start == b->start && strcmp(a->line, b->line) == 0 &&
			    (a->anon || !writable(b)) && !in_dirty(m, b)) {
				b->anon = a->anon;
				k++;
				continue;
			}
		}
		/* a run of entries to scan: [k, e) */
		int e = k + 1;
		if (all) {
			e = n;
			while (e > k && ents[e - 1].start >= MV_TASK_SIZE)
				e--;
		} else {
			int ii = i;
			while (e < n && ents[e].start < MV_TASK_SIZE) {
				while (ii < m->nents && m->ents[ii].start < ents[e].start)
					ii++;
				struct entry *a = ii < m->nents ? &m->ents[ii] : NULL;
				if (a && a->start == ents[e].start && strcmp(a->line, ents[e].line) == 0 &&
				    (a->anon || !writable(&ents[e])) && !in_dirty(m, &ents[e]))
					break;
				e++;
			}
		}
		if (scan_range(fd, ents, k, e, ents[k].start, ents[e - 1].end) < 0)
			return -1;
		k = e;
	}
	m->scan_all = 0;
	m->ndirty = 0;
	return 0;
}

/* Reads tid's VMAs into the mm's spare buffers: smaps (VmFlags and anon pages) when asked
 * or needed, else maps plus a PAGEMAP_SCAN for the anonymous pages, several times cheaper. */
static int read_vmas(pid_t tid, struct mmstate *m, int full)
{
	int smaps = full || opt_smaps || !pagemap_scan_ok;
	int *fdp = smaps ? &m->fd_smaps : &m->fd_maps;
	const char *what = smaps ? "smaps" : "maps";
	ssize_t n = -1;
	for (int attempt = 0; attempt < 2 && n < 0; attempt++) {
		int fd = mm_fd(m, fdp, tid, what);
		if (fd >= 0)
			n = pread_all(fd, &m->spare, &m->sparecap);
		if (n < 0 && *fdp >= 0) {
			/* opened on a task that is gone, say: open it again on this one */
			close(*fdp);
			*fdp = -1;
		}
	}
	if (n < 0) {
		fprintf(out, "W cannot read /proc/%d/%s: %s\n", tid, what, strerror(errno));
		return -1;
	}
	int count = parse_vmas(m->spare, &m->spents, &m->capspents);
	if (!smaps) {
		int pfd = mm_fd(m, &m->fd_pagemap, tid, "pagemap");
		if (pfd < 0 || scan_anon(pfd, m, m->spents, count) < 0) {
			/* no PAGEMAP_SCAN here (Linux < 6.7): smaps from now on */
			pagemap_scan_ok = 0;
			return read_vmas(tid, m, 1);
		}
	} else {
		m->scan_all = 0; /* smaps counted the pages */
		m->ndirty = 0;
	}
	return count;
}

/* Takes a new reading of tid's mm and reports what changed since the last one.  A maps
 * reading knows no VmFlags: an entry then compares on its line and anon bit, and keeps the
 * flags last seen, so that the next smaps reading reports exactly the flags that changed. */
static void snapshot_delta(pid_t tid, int mmi, int full)
{
	struct mmstate *m = &mms[mmi];
	int nents = read_vmas(tid, m, full);
	if (nents < 0)
		return;
	struct entry *ents = m->spents;
	int known = nents > 0 && (full || opt_smaps || !pagemap_scan_ok);
	/* Count first, so the D line can say how many changes follow.  A change is a
	 * removal "-START" or an addition "+ANON LINE" followed by "=VMFLAGS". */
	int changes = 0;
	for (int pass = 0; pass < 2; pass++) {
		int i = 0, j = 0;
		if (pass == 1)
			fprintf(out, "D %x %x\n", tid, changes);
		while (i < m->nents || j < nents) {
			struct entry *a = i < m->nents ? &m->ents[i] : NULL;
			struct entry *b = j < nents ? &ents[j] : NULL;
			if (a && b && a->start == b->start) {
				int same = a->anon == b->anon && strcmp(a->line, b->line) == 0;
				if (same && !known)
					memcpy(b->vmflags, a->vmflags, sizeof b->vmflags);
				else if (same)
					same = strcmp(a->vmflags, b->vmflags) == 0;
				if (!same) {
					if (pass)
						fprintf(out, "-%lx\n+%d %s\n=%s\n", a->start, b->anon,
							b->line, b->vmflags);
					changes += 2;
				}
				i++, j++;
			} else if (a && (!b || a->start < b->start)) {
				if (pass)
					fprintf(out, "-%lx\n", a->start);
				changes++;
				i++;
			} else {
				if (pass)
					fprintf(out, "+%d %s\n=%s\n", b->anon, b->line, b->vmflags);
				changes++;
				j++;
			}
		}
	}
	/* the new reading becomes the baseline; the old buffers are reused for the next one */
	char *t = m->text;
	size_t tc = m->textcap;
	struct entry *e = m->ents;
	int ec = m->capents;
	m->text = m->spare;
	m->textcap = m->sparecap;
	m->ents = ents;
	m->capents = m->capspents;
	m->nents = nents;
	m->spare = t;
	m->sparecap = tc;
	m->spents = e;
	m->capspents = ec;
}

/* Sets an mm's baseline from smaps text without reporting a delta. */
static void set_baseline(int mmi, const char *smaps, size_t len)
{
	struct mmstate *m = &mms[mmi];
	if (m->textcap < len + 1) {
		free(m->text);
		m->textcap = len + 1;
		m->text = malloc(m->textcap);
		if (!m->text)
			die("out of memory");
	}
	memcpy(m->text, smaps, len);
	m->text[len] = '\0';
	m->nents = parse_vmas(m->text, &m->ents, &m->capents);
	m->scan_all = 0;
	m->ndirty = 0;
}

/* ------------------------------------------------------------------------------------ */
/* Tasks */

struct task {
	pid_t tid, tgid;
	int used;
	int mm;             /* index into mms, -1 before the root's first exec */
	int started;        /* its first stop (an auto-attached child's SIGSTOP) was seen */
	int linked;         /* the parent's clone event was seen */
	int in_sys;         /* resumed with PTRACE_SYSCALL, exit stop pending */
	int holds_mm;       /* mm index it holds busy, or -1 */
	int group_exit;     /* it called exit_group */
	int files_shared;   /* its file table is (or was) shared with another task */
	long nr;
	unsigned long args[6];
	unsigned long clone_flags;
};

static struct task *tasks;
static int ntasks, captasks;
static int opt_follow;
static pid_t root_tgid;

static struct task *find_task(pid_t tid)
{
	for (int i = 0; i < ntasks; i++)
		if (tasks[i].used && tasks[i].tid == tid)
			return &tasks[i];
	return NULL;
}

static struct task *add_task(pid_t tid)
{
	int slot = -1;
	for (int i = 0; i < ntasks; i++)
		if (!tasks[i].used) {
			slot = i;
			break;
		}
	if (slot < 0) {
		if (ntasks == captasks) {
			captasks = captasks ? captasks * 2 : 64;
			tasks = realloc(tasks, sizeof *tasks * (size_t)captasks);
			if (!tasks)
				die("out of memory");
		}
		slot = ntasks++;
	}
	struct task *t = &tasks[slot];
	memset(t, 0, sizeof *t);
	t->used = 1;
	t->tid = t->tgid = tid;
	t->mm = -1;
	t->holds_mm = -1;
	return t;
}

static int followed(const struct task *t)
{
	return t->mm >= 0 && mms[t->mm].followed;
}

static void resume(struct task *t, int sig)
{
	long req = t->in_sys ? PTRACE_SYSCALL : PTRACE_CONT;
	if (ptrace(req, t->tid, 0, (void *)(long)sig) < 0 && errno != ESRCH)
		fprintf(out, "W resume %d: %s\n", t->tid, strerror(errno));
}

static int read_mem(pid_t tid, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)addr, len};
	return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

static const char *fs_path(pid_t tid, int fd, char *buf, size_t size)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/%d/fd/%d", tid, fd);
	ssize_t n = readlink(link, buf, size - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

/* Is fd open in tid's file table? */
static int fd_is_open(pid_t tid, unsigned long fd)
{
	char link[64];
	struct stat st;
	if (fd > 0x7fffffff)
		return 0;
	snprintf(link, sizeof link, "/proc/%d/fd/%lu", tid, fd);
	return fstatat(AT_FDCWD, link, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Open-file identity.  Each open file reported gets an id and the tracer keeps a
 * duplicate of it; a descriptor reported later is compared (kcmp) with the kept ones of
 * the same inode.  A duplicate is let go once no followed address space maps its inode
 * (gc_held): from then on nothing the model holds can merge with it, so a later report
 * of the same open file may as well be a new one, and the tracer does not keep files
 * (flock locks, deleted files' blocks) alive that the program has finished with. */
#define MV_KCMP_FILE 0
#define MV_PIDFD_THREAD 0x80 /* O_EXCL */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_kcmp
#define SYS_kcmp 312
#endif

static int identity_ok; /* pidfd_getfd and kcmp work: closes need not be traced */

struct held {
	dev_t dev;
	ino_t ino;
	int hfd;     /* our duplicate */
	long id;
	char key[48]; /* "MAJ:MIN INODE " as maps shows it */
};
static struct held *held;
static int capheld;
static long next_ofd = 1;
static int gc_due;

static int same_file(pid_t tid, int fd, int hfd)
{
	return syscall(SYS_kcmp, (long)getpid(), (long)tid, MV_KCMP_FILE, (long)hfd, (long)fd) == 0;
}

/* Can this kernel tell open files apart for us?  Tried on our own descriptors. */
static int probe_identity(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 0;
	int ok = 0;
	int pfd = (int)syscall(SYS_pidfd_open, (long)getpid(), 0L);
	if (pfd >= 0) {
		int d = (int)syscall(SYS_pidfd_getfd, (long)pfd, (long)p[0], 0L);
		if (d >= 0) {
			ok = same_file(getpid(), p[0], d) && !same_file(getpid(), p[1], d);
			close(d);
		}
		close(pfd);
	}
	close(p[0]);
	close(p[1]);
	return ok;
}

/* The id of the open file behind tid's fd (which stat gave st), or -1. */
static long ofd_id(pid_t tid, int fd, const struct stat *st)
{
	if (!identity_ok)
		return -1;
	for (int i = 0; i < nheld; i++)
		if (held[i].dev == st->st_dev && held[i].ino == st->st_ino &&
		    same_file(tid, fd, held[i].hfd))
			return held[i].id;
	int pfd = (int)syscall(SYS_pidfd_open, (long)tid, (long)MV_PIDFD_THREAD);
	if (pfd < 0)
		pfd = (int)syscall(SYS_pidfd_open, (long)tid, 0L);
	if (pfd < 0)
		return -1;
	int h = (int)syscall(SYS_pidfd_getfd, (long)pfd, (long)fd, 0L);
	close(pfd);
	if (h < 0)
		return -1;
	if (nheld == capheld) {
		capheld = capheld ? capheld * 2 : 32;
		held = realloc(held, sizeof *held * (size_t)capheld);
		if (!held)
			die("out of memory");
	}
	struct held *e = &held[nheld++];
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->hfd = h;
	e->id = next_ofd++;
	snprintf(e->key, sizeof e->key, " %02x:%02x %llu ", major(st->st_dev), minor(st->st_dev),
		 (unsigned long long)st->st_ino);
	return e->id;
}

/* Lets go of the duplicates whose inode no followed address space maps any more. */
static void gc_held(void)
{
	gc_due = 0;
	for (int i = 0; i < nheld;) {
		int mapped = 0;
		for (int m = 0; m < nmms && !mapped; m++) {
			if (!mms[m].used || !mms[m].followed || mms[m].ntasks <= 0)
				continue;
			for (int j = 0; j < mms[m].nents && !mapped; j++)
				mapped = strstr(mms[m].ents[j].line, held[i].key) != NULL;
		}
		if (mapped) {
			i++;
			continue;
		}
		close(held[i].hfd);
		held[i] = held[--nheld];
	}
}

/* Reports what fd refers to in tid's file table (I event), or that it is not open (C). */
static void report_fd(pid_t tid, int fd)
{
	char link[64], path[4096], info[64];
	struct stat st;
	struct statfs sf;
	snprintf(link, sizeof link, "/proc/%d/fd/%d", tid, fd);
	if (stat(link, &st) < 0) {
		if (errno == ENOENT && fd >= 0)
			fprintf(out, "C %x %x\n", tid, fd);
		return;
	}
	/* the filesystem type, once per device */
	static struct {
		dev_t dev;
		long type;
	} fstypes[64];
	static int nfstypes;
	long fstype = -1;
	for (int i = 0; i < nfstypes; i++)
		if (fstypes[i].dev == st.st_dev)
			fstype = fstypes[i].type;
	if (fstype < 0) {
		fstype = statfs(link, &sf) < 0 ? 0 : (long)sf.f_type;
		if (nfstypes < 64) {
			fstypes[nfstypes].dev = st.st_dev;
			fstypes[nfstypes++].type = fstype;
		}
	}
	fs_path(tid, fd, path, sizeof path);
	/* open flags (octal) from fdinfo: the access mode decides what mmap allows */
	long flags = -1;
	snprintf(info, sizeof info, "/proc/%d/fdinfo/%d", tid, fd);
	if (read_file(info) > 0) {
		char *f = strstr(rbuf, "flags:");
		if (f)
			flags = strtol(f + 6, NULL, 8);
	}
	for (char *p = path; *p; p++)
		if (*p == '\n')
			*p = '?';
	long id = ofd_id(tid, fd, &st);
	fprintf(out, "I %x %x %02x:%02x %llx %llx %x %lx %lx", tid, fd, major(st.st_dev),
		minor(st.st_dev), (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
		st.st_mode, flags, (unsigned long)fstype);
	put_num(id);
	fprintf(out, " %s\n", path);
}

/* ------------------------------------------------------------------------------------ */
/* The per-mm gate: one memory syscall at a time */

static void begin_mm_syscall(struct task *t);

static void release_mm(struct task *t)
{
	if (t->holds_mm < 0)
		return;
	struct mmstate *m = &mms[t->holds_mm];
	t->holds_mm = -1;
	m->busy = 0;
	while (m->nwaiting > 0 && !m->busy) {
		pid_t next = m->waiting[0];
		memmove(m->waiting, m->waiting + 1, sizeof *m->waiting * (size_t)--m->nwaiting);
		struct task *w = find_task(next);
		if (w)
			begin_mm_syscall(w);
	}
}

static void enqueue(struct mmstate *m, pid_t tid)
{
	if (m->nwaiting == m->capwaiting) {
		m->capwaiting = m->capwaiting ? m->capwaiting * 2 : 8;
		m->waiting = realloc(m->waiting, sizeof *m->waiting * (size_t)m->capwaiting);
		if (!m->waiting)
			die("out of memory");
	}
	m->waiting[m->nwaiting++] = tid;
}

static void forget_waiting(pid_t tid)
{
	for (int k = 0; k < nmms; k++) {
		struct mmstate *m = &mms[k];
		for (int i = 0; i < m->nwaiting; i++)
			if (m->waiting[i] == tid) {
				memmove(m->waiting + i, m->waiting + i + 1,
					sizeof *m->waiting * (size_t)(m->nwaiting - i - 1));
				m->nwaiting--;
				i--;
			}
	}
}

/* Where can the call remove anonymous pages from its mm?  See scan_anon.  Nowhere: mmap
 * without MAP_FIXED (it maps into a hole or fails), mprotect, mlock, munlock, mseal, naming,
 * fork (the parent keeps its pages), exec (a new mm, or a failure), brk (shrinking unmaps
 * the end of the heap VMA, whose line then changes).  munmap removes or cuts every VMA it
 * meets (their lines change) but is noted too; madvise, MAP_FIXED (a replacement can have
 * the same line) and mremap (MREMAP_DONTUNMAP keeps the old VMA; MREMAP_FIXED replaces what
 * was at the new address) only in their ranges. */
static void add_dirty(struct mmstate *m, unsigned long start, unsigned long len)
{
	unsigned long lo = start & ~4095UL, hi = start + len;
	if (hi < start || hi > ~4095UL)
		hi = ~0UL;
	else
		hi = (hi + 4095) & ~4095UL;
	if (m->ndirty == (int)(sizeof m->dirty_lo / sizeof m->dirty_lo[0])) {
		m->scan_all = 1;
		return;
	}
	m->dirty_lo[m->ndirty] = lo;
	m->dirty_hi[m->ndirty++] = hi;
}

static void note_page_removal(struct mmstate *m, const struct task *t)
{
	const unsigned long *a = t->args;
	switch (t->nr) {
	case NR_mmap:
		if (a[3] & MV_MAP_FIXED) {
			add_dirty(m, a[0], a[1]);
			gc_due = 1; /* file VMAs may go: look at the next reading */
		}
		return;
	case NR_munmap:
		gc_due = 1;
		add_dirty(m, a[0], a[1]);
		return;
	case NR_madvise:
		add_dirty(m, a[0], a[1]);
		return;
	case NR_mremap:
		gc_due = 1;
		add_dirty(m, a[0], a[1]);
		if (a[3] & MV_MREMAP_FIXED)
			add_dirty(m, a[4], a[2]);
		return;
	case NR_brk: case NR_mprotect: case NR_pkey_mprotect: case NR_mlock: case NR_mlock2:
	case NR_munlock: case NR_mlockall: case NR_munlockall: case NR_mseal: case NR_prctl:
	case NR_clone: case NR_clone3: case NR_fork: case NR_vfork: case NR_execve:
	case NR_execveat:
		return;
	}
	m->scan_all = 1;
}

/* The thread holds its mm now: read the state the call starts from, then let it run. */
static void begin_mm_syscall(struct task *t)
{
	struct mmstate *m = &mms[t->mm];
	m->busy = t->tid;
	t->holds_mm = t->mm;
	/* brk(0) only asks: no snapshot needed for it. */
	if (!(t->nr == NR_brk && t->args[0] == 0))
		snapshot_delta(t->tid, t->mm, t->nr == NR_execve || t->nr == NR_execveat);
	if (gc_due && nheld)
		gc_held();
	m = &mms[t->mm];
	note_page_removal(m, t);
	if (t->nr == NR_madvise && (t->args[2] == MV_MADV_FREE || t->args[2] == MV_MADV_COLD ||
				    t->args[2] == MV_MADV_PAGEOUT))
		m->pages_volatile = 1;
	if (t->nr == NR_mmap && !(t->args[3] & MV_MAP_ANONYMOUS) && (int)t->args[4] >= 0)
		report_fd(t->tid, (int)t->args[4]);
	if (t->nr == NR_prctl && t->args[4]) {
		char name[96];
		memset(name, 0, sizeof name);
		/* the name is at most 80 bytes; read byte-wise up to a page boundary safely */
		for (size_t i = 0; i + 1 < sizeof name; i++)
			if (read_mem(t->tid, t->args[4] + i, name + i, 1) < 0 || !name[i])
				break;
		fputs("A ", out);
		fprintf(out, "%x ", t->tid);
		for (size_t i = 0; name[i]; i++)
			fprintf(out, "%02x", (unsigned char)name[i]);
		fputc('\n', out);
	}
	t->in_sys = 1;
	resume(t, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Stops */

static void put_syscall(const struct task *t, long ret)
{
	fprintf(out, "S %x %lx", t->tid, t->nr);
	for (int i = 0; i < 6; i++)
		put_num((long long)t->args[i]);
	put_num(ret);
	fputc('\n', out);
}

static void on_seccomp(struct task *t)
{
	struct mv_syscall_info info;
	if (ptrace(MV_GET_SYSCALL_INFO, t->tid, sizeof info, &info) < 0) {
		resume(t, 0);
		return;
	}
	if (info.op != MV_INFO_SECCOMP || !followed(t)) {
		resume(t, 0);
		return;
	}
	t->nr = (long)info.seccomp.nr;
	memcpy(t->args, info.seccomp.args, sizeof t->args);
	enum sys_class c = classify(t->nr);
	if (c == C_EXIT) {
		t->group_exit = 1;
		resume(t, 0);
		return;
	}
	if (c == C_CLONE) {
		unsigned long flags = 0;
		if (t->nr == NR_clone)
			flags = t->args[0];
		else if (t->nr == NR_clone3)
			read_mem(t->tid, t->args[0], &flags, sizeof flags);
		else if (t->nr == NR_vfork)
			flags = MV_CLONE_VM | MV_CLONE_VFORK | SIGCHLD;
		else
			flags = SIGCHLD;
		t->clone_flags = flags;
		/* A new address space copies this one: it must see a settled mm. */
		if (!(flags & MV_CLONE_VM))
			c = C_MM;
	}
	if (c == C_EXEC)
		c = C_MM; /* report the old mm's last state before it goes */
	if (t->nr == NR_close && !t->files_shared) {
		/* No other task uses this file table, so close(fd) fails (EBADF) exactly when fd
		 * is not open now; any other error still closes it.  Reported at entry: no stop
		 * at its exit. */
		put_syscall(t, fd_is_open(t->tid, t->args[0] & 0xffffffffUL) ? 0 : -EBADF);
		resume(t, 0);
		return;
	}
	if (c == C_FD && t->nr != NR_close && t->nr != NR_close_range)
		report_fd(t->tid, (int)t->args[0]); /* the descriptor a dup copies */
	if (c == C_MM) {
		struct mmstate *m = &mms[t->mm];
		if (m->busy && m->busy != t->tid) {
			enqueue(m, t->tid);
			return; /* stays stopped until the mm is free */
		}
		begin_mm_syscall(t);
		return;
	}
	t->in_sys = 1;
	resume(t, 0);
}

static void on_syscall_exit(struct task *t)
{
	struct mv_syscall_info info;
	if (ptrace(MV_GET_SYSCALL_INFO, t->tid, sizeof info, &info) < 0 ||
	    info.op != MV_INFO_EXIT) {
		/* not the exit stop we expected (e.g. an exec replaced the thread) */
		t->in_sys = 0;
		release_mm(t);
		resume(t, 0);
		return;
	}
	long ret = info.exit.rval;
	t->in_sys = 0;
	enum sys_class c = classify(t->nr);
	if (followed(t) && c != C_EXEC) {
		put_syscall(t, ret);
		if (opens_fd(t->nr) && ret >= 0) /* (opens are no longer stopped: see traced_nrs) */
			report_fd(t->tid, (int)ret);
	}
	release_mm(t);
	resume(t, 0);
}

/* An auto-attached child's first stop, once we know its parent. */
static void child_ready(struct task *c)
{
	if (followed(c) && mms[c->mm].ntasks == 1 && c->tgid == c->tid) {
		/* a new address space (fork): its state before it runs a single instruction */
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/smaps", c->tid);
		ssize_t n = read_file(path);
		if (n >= 0) {
			put_blob(c->tid, "forksmaps", rbuf, (size_t)n);
			set_baseline(c->mm, rbuf, (size_t)n);
		}
	}
	resume(c, 0);
}

static void on_clone_event(struct task *t)
{
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg);
	pid_t ctid = (pid_t)msg;
	struct task *c = find_task(ctid);
	if (!c)
		c = add_task(ctid);
	unsigned long flags = t->clone_flags;
	c->linked = 1;
	c->tgid = (flags & MV_CLONE_THREAD) ? t->tgid : ctid;
	if (flags & MV_CLONE_FILES)
		t->files_shared = c->files_shared = 1;
	if (t->mm < 0) {
		c->mm = -1;
	} else if (flags & MV_CLONE_VM) {
		c->mm = t->mm;
	} else {
		c->mm = new_mm(opt_follow && followed(t));
	}
	if (c->mm >= 0)
		mms[c->mm].ntasks++;
	if (followed(t) || followed(c)) {
		fprintf(out, "T %x %x %lx\n", ctid, t->tid, flags);
	}
	if (c->started)
		child_ready(c);
	resume(t, 0);
}

static void on_exec(struct task *t)
{
	unsigned long former = 0;
	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former);
	if ((pid_t)former != t->tid) {
		/* A non-leader thread exec'd and took over the leader's tid. */
		struct task *f = find_task((pid_t)former);
		if (f) {
			t->mm = f->mm;
			t->nr = f->nr;
			t->in_sys = f->in_sys;
			t->holds_mm = f->holds_mm;
			f->used = 0;
		}
	}
	int old = t->mm;
	if (old >= 0) {
		if (t->holds_mm == old)
			release_mm(t);
		if (--mms[old].ntasks <= 0)
			mm_close_fds(&mms[old]);
	}
	int follow = opt_follow ? (old < 0 || mms[old].followed) : t->tgid == root_tgid;
	t->files_shared = 0; /* exec unshared the file table (and killed the other threads) */
	t->mm = new_mm(follow);
	mms[t->mm].ntasks = 1;
	if (follow) {
		fprintf(out, "E %x %lx\n", t->tid, former);
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/smaps", t->tid);
		ssize_t n = read_file(path);
		if (n >= 0) {
			put_blob(t->tid, "smaps", rbuf, (size_t)n);
			set_baseline(t->mm, rbuf, (size_t)n);
		}
		blob_file(t->tid, "stat", "stat");
		blob_file(t->tid, "limits", "limits");
		blob_file(t->tid, "personality", "personality");
		blob_file(t->tid, "status", "status");
		char exe[4096];
		snprintf(path, sizeof path, "/proc/%d/exe", t->tid);
		ssize_t k = readlink(path, exe, sizeof exe - 1);
		exe[k > 0 ? k : 0] = '\0';
		put_blob(t->tid, "exe", exe, strlen(exe));
		/* which descriptors survived exec (close-on-exec ones are gone) */
		char fds[16384];
		size_t len = 0;
		snprintf(path, sizeof path, "/proc/%d/fd", t->tid);
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d)) && len + 16 < sizeof fds)
				if (e->d_name[0] != '.')
					len += (size_t)snprintf(fds + len, sizeof fds - len, "%s ",
								e->d_name);
			closedir(d);
		}
		put_blob(t->tid, "fds", fds, len);
	}
	resume(t, 0);
}

/* Does another process (a vfork child, say) still use this task's mm? */
static int mm_shared_with_other_process(const struct task *t)
{
	for (int i = 0; i < ntasks; i++)
		if (tasks[i].used && tasks[i].mm == t->mm && tasks[i].tgid != t->tgid)
			return 1;
	return 0;
}

static void on_exit_event(struct task *t)
{
	if (followed(t) && !mm_shared_with_other_process(t) &&
	    (t->group_exit || mms[t->mm].ntasks <= 1)) {
		snapshot_delta(t->tid, t->mm, 1);
		fprintf(out, "Z %x\n", t->tid);
	}
	resume(t, 0);
}

static void on_gone(struct task *t, int status)
{
	if (t->mm >= 0 && mms[t->mm].followed) {
		if (WIFEXITED(status))
			fprintf(out, "X %x e %x\n", t->tid, WEXITSTATUS(status));
		else
			fprintf(out, "X %x s %x\n", t->tid, WTERMSIG(status));
	}
	forget_waiting(t->tid);
	release_mm(t);
	if (t->mm >= 0 && --mms[t->mm].ntasks <= 0)
		mm_close_fds(&mms[t->mm]);
	t->used = 0;
}

/* ------------------------------------------------------------------------------------ */
/* Waiting for the next stop */

/* The program stops at every memory call and the tracer answers; each stop wakes the tracer,
 * and on a virtual machine waking a halted CPU costs tens of microseconds (an IPI the
 * hypervisor delivers), several times what the tracer then does.  So the tracer polls for
 * up to SPIN_NS before it sleeps: a program between two close memory calls stops again
 * within microseconds.  Adaptive: after 8 waits in a row that outlast the poll, it sleeps at
 * once, until a sleep turns out short again, so a program that computes between its calls
 * costs at most 8 polls.  sched_yield() lets the program run if it shares our CPU. */
#define SPIN_NS 100000L

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

static pid_t wait_event(int *status)
{
	static int spinning = 1, misses;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (spinning) {
		for (;;) {
			pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
			if (tid != 0) {
				misses = 0;
				return tid;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (elapsed_ns(&t0, &t1) > SPIN_NS)
				break;
			sched_yield();
		}
	}
	pid_t tid = waitpid(-1, status, __WALL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (elapsed_ns(&t0, &t1) > SPIN_NS) {
		if (++misses >= 8)
			spinning = 0;
	} else {
		spinning = 1;
		misses = 0;
	}
	return tid;
}

/* ------------------------------------------------------------------------------------ */
/* The child: randomisation off, the seccomp filter, exec */

static void install_filter(void)
{
	struct sock_filter prog[96];
	int n = 0;
	int nrs[sizeof traced_nrs / sizeof traced_nrs[0]];
	int k = 0;
	for (size_t i = 0; i < sizeof traced_nrs / sizeof traced_nrs[0]; i++)
		if (!identity_ok || (traced_nrs[i] != NR_close && traced_nrs[i] != NR_close_range))
			nrs[k++] = traced_nrs[i];
	/* layout: 3 header, k checks, 7 for prctl/fcntl, ALLOW, TRACE */
	int allow = 3 + k + 7, trace = allow + 1;
#define AT(i) ((unsigned char)((i) - (n + 1)))
	prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, arch));
	n++;
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
					       AT(allow));
	n++;
	prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, nr));
	n++;
	for (int i = 0; i < k; i++) {
		prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						       (unsigned)nrs[i], AT(trace), 0);
		n++;
	}
	/* prctl: only PR_SET_VMA */
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_prctl, 0, 2);
	n++;
	prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, args[0]));
	n++;
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MV_PR_SET_VMA,
					       AT(trace), AT(allow));
	n++;
	/* fcntl: only F_DUPFD and F_DUPFD_CLOEXEC */
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_fcntl, 0, AT(allow));
	n++;
	prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, args[1]));
	n++;
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MV_F_DUPFD, AT(trace), 0);
	n++;
	prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MV_F_DUPFD_CLOEXEC,
					       AT(trace), AT(allow));
	n++;
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
#undef AT
	struct sock_fprog fprog = {(unsigned short)n, prog};
	/* Root may install a filter without no_new_privs; others must set it first. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0) {
			perror("maplevm-tracer: seccomp filter");
			_exit(126);
		}
	}
}

static void run_child(char **argv)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (personality(0xffffffff) < 0 ||
	    personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE) < 0) {
		perror("maplevm-tracer: personality(ADDR_NO_RANDOMIZE)");
		_exit(126);
	}
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) {
		perror("maplevm-tracer: PTRACE_TRACEME");
		_exit(126);
	}
	raise(SIGSTOP);
	install_filter();
	execvp(argv[0], argv);
	fprintf(stderr, "maplevm-tracer: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	const char *outpath = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			opt_follow = 1;
		else if (strcmp(argv[i], "-s") == 0)
			opt_smaps = 1;
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			outpath = argv[++i];
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else
			break;
	}
	if (!outpath || i >= argc) {
		fprintf(stderr, "usage: maplevm-tracer [-f] [-s] -o EVENTS -- PROGRAM ARGS...\n");
		return 2;
	}
	out = fopen(outpath, "we");
	if (!out)
		die(outpath);
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	fprintf(out, "V %x\n", EVENTS_VERSION);
	identity_ok = probe_identity();
	fprintf(out, "O %x\n", identity_ok);

	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		run_child(argv + i);
	/* The duplicates of mapped files count against our descriptor limit: raise it to the
	 * hard limit, now that the child has its own (unchanged) limits. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	int status;
	if (waitpid(child, &status, __WALL) < 0 || !WIFSTOPPED(status))
		die("the child did not stop");
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
		    PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
		    PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
	if (ptrace(PTRACE_SETOPTIONS, child, 0, (void *)opts) < 0)
		die("PTRACE_SETOPTIONS");
	root_tgid = child;
	struct task *root = add_task(child);
	root->started = root->linked = 1;
	fprintf(out, "R %x\n", child);
	resume(root, 0);

	int exit_code = 0;
	for (;;) {
		pid_t tid = wait_event(&status);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			die("waitpid");
		}
		struct task *t = find_task(tid);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (tid == root_tgid)
				exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status);
			if (t)
				on_gone(t, status);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status);
		int event = (unsigned)status >> 16;
		if (!t) {
			/* a new child reported before its parent's clone event */
			t = add_task(tid);
			t->started = 1;
			continue;
		}
		if (!t->started) {
			t->started = 1;
			if (t->linked)
				child_ready(t);
			continue;
		}
		if (sig == (SIGTRAP | 0x80)) {
			on_syscall_exit(t);
			continue;
		}
		if (sig == SIGTRAP && event) {
			switch (event) {
			case PTRACE_EVENT_SECCOMP:
				on_seccomp(t);
				break;
			case PTRACE_EVENT_FORK:
			case PTRACE_EVENT_VFORK:
			case PTRACE_EVENT_CLONE:
				on_clone_event(t);
				break;
			case PTRACE_EVENT_EXEC:
				on_exec(t);
				break;
			case PTRACE_EVENT_EXIT:
				on_exit_event(t);
				break;
			default:
				resume(t, 0);
			}
			continue;
		}
		/* A signal-delivery stop: pass the signal on.  A group stop (GETSIGINFO fails)
		 * is resumed without a signal, so job control is not supported while traced. */
		siginfo_t si;
		if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0)
			sig = 0;
		resume(t, sig);
	}
	fclose(out);
	return exit_code;
}
