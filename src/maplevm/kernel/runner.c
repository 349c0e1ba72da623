/*
 * maplevm-runner: performs memory-management system calls on the live kernel for maplevm.
 *
 * Built by maplevm.kernel.build as a static binary (gcc -static -O2) and driven by
 * maplevm.kernel.runner over stdin/stdout.  Two stages:
 *
 *   maplevm-runner setup [RLIMIT=cur:max ...] [FILE=path ...] [--]
 *       Opens each FILE twice (O_RDWR at fd 3+2i, O_RDONLY at fd 4+2i), applies the rlimits
 *       ("u" = unlimited, "-" = keep), turns on ADDR_NO_RANDOMIZE and re-executes
 *       /proc/self/exe with a fixed argv and an empty environment, so that the stack, mmap_base
 *       and every other part of the layout depend only on this source and the kernel.
 *   maplevm-runner run
 *       The worker.  Reads fixed-size commands from fd 0 and answers each on fd 1.
 *
 * Everything the worker needs lives in static storage allocated before the first command
 * (no malloc, no stdio), so its own footprint never changes between operations.  Syscalls go
 * through inline asm so the raw kernel return value (address, 0 or -errno) is reported.
 *
 * K_FORK forks; the child carries on with the script and the parent waits for it.
 *
 * Wire format (little-endian, all fields int64):
 *   command:  kind, snap, nr, a0..a5, str_arg, str_len, then str_len bytes
 *   response: ret, signo, code, fault_addr, count, then (snap >= SNAP_MAPS) the text of
 *             /proc/self/maps or /proc/self/smaps followed by one NUL byte.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <fcntl.h>

#define PROTOCOL_VERSION 1

enum kind {
	K_SYSCALL = 1,
	K_TOUCH_READ = 2,
	K_TOUCH_WRITE = 3,
	K_SNAPSHOT = 4,
	K_EXIT = 5,
	K_FORK = 6,
};
enum snap { SNAP_NONE = 0, SNAP_COUNT = 1, SNAP_MAPS = 2, SNAP_SMAPS = 3 };

struct command {
	int64_t kind, snap, nr;
	int64_t a[6];
	int64_t str_arg, str_len;
};

struct response {
	int64_t ret, signo, code, fault_addr, count;
};

/* All worker state: static, so it is part of the bss before the initial snapshot. */
static struct command cmd;
static struct response resp;
static char strbuf[4096];
static char iobuf[65536];
static char altstack[65536];
static sigjmp_buf touch_env;
static volatile sig_atomic_t touch_armed;
static volatile int64_t fault_signo, fault_code, fault_addr;

static long raw6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define raw3(n, a, b, c) raw6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void die(const char *msg, const char *detail)
{
	raw3(SYS_write, 2, "maplevm-runner: ", 16);
	raw3(SYS_write, 2, msg, slen(msg));
	if (detail) {
		raw3(SYS_write, 2, ": ", 2);
		raw3(SYS_write, 2, detail, slen(detail));
	}
	raw3(SYS_write, 2, "\n", 1);
	raw6(SYS_exit_group, 2, 0, 0, 0, 0, 0);
	for (;;)
		;
}

static int read_full(void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		long n = raw3(SYS_read, 0, p, len);
		if (n == -4) /* EINTR */
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void write_full(const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		long n = raw3(SYS_write, 1, p, len);
		if (n == -4)
			continue;
		if (n <= 0)
			raw6(SYS_exit_group, 3, 0, 0, 0, 0, 0);
		p += n;
		len -= (size_t)n;
	}
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Parses a decimal number, "u" (unlimited) or "-" (keep); returns 0 on success. */
static int parse_limit(const char **sp, uint64_t *out, int *keep)
{
	const char *s = *sp;
	uint64_t v = 0;
	*keep = 0;
	if (*s == 'u') {
		*out = RLIM_INFINITY;
		*sp = s + 1;
		return 0;
	}
	if (*s == '-') {
		*keep = 1;
		*sp = s + 1;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*out = v;
	*sp = s;
	return 0;
}

static int rlimit_resource(const char *name, size_t n)
{
	static const struct {
		const char *name;
		int res;
	} table[] = {
		{"STACK", RLIMIT_STACK},
		{"AS", RLIMIT_AS},
		{"MEMLOCK", RLIMIT_MEMLOCK},
		{"DATA", RLIMIT_DATA},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t k = slen(table[i].name);
		if (k == n) {
			size_t j = 0;
			while (j < n && name[j] == table[i].name[j])
				j++;
			if (j == n)
				return table[i].res;
		}
	}
	return -1;
}

static void apply_rlimit(const char *arg)
{
	const char *eq = arg;
	while (*eq && *eq != '=')
		eq++;
	int res = rlimit_resource(arg, (size_t)(eq - arg));
	if (res < 0 || !*eq)
		die("bad rlimit argument", arg);
	struct rlimit old, lim;
	if (raw6(SYS_prlimit64, 0, res, 0, (long)&old, 0, 0) < 0)
		die("prlimit64 (get) failed", arg);
	const char *s = eq + 1;
	int keep;
	uint64_t v;
	if (parse_limit(&s, &v, &keep) || *s != ':')
		die("bad rlimit value (want cur:max)", arg);
	lim.rlim_cur = keep ? old.rlim_cur : v;
	s++;
	if (parse_limit(&s, &v, &keep) || *s)
		die("bad rlimit value (want cur:max)", arg);
	lim.rlim_max = keep ? old.rlim_max : v;
	long r = raw6(SYS_prlimit64, 0, res, (long)&lim, 0, 0, 0);
	if (r < 0)
		die("setrlimit refused (raising a hard limit needs CAP_SYS_RESOURCE)", arg);
}

static void open_file(const char *path, int index)
{
	static const int modes[2] = {O_RDWR, O_RDONLY};
	for (int k = 0; k < 2; k++) {
		long fd = raw3(SYS_open, path, modes[k], 0);
		if (fd < 0)
			die("cannot open scratch file", path);
		long want = 3 + 2 * index + k;
		if (fd != want) {
			if (raw3(SYS_dup2, fd, want, 0) != want)
				die("dup2 failed", path);
			raw3(SYS_close, fd, 0, 0);
		}
	}
}

static int setup(int argc, char **argv)
{
	int nfiles = 0;
	/* Files first: their fds must be the lowest free ones, 3 and up. */
	for (int i = 2; i < argc; i++)
		if (argv[i][0] == '/' || (argv[i][0] == '.' && argv[i][1] == '/'))
			open_file(argv[i], nfiles++);
	for (int i = 2; i < argc; i++)
		if (!(argv[i][0] == '/' || (argv[i][0] == '.' && argv[i][1] == '/')))
			apply_rlimit(argv[i]);
	long pers = raw3(SYS_personality, 0xffffffffL, 0, 0);
	if (pers < 0 || raw3(SYS_personality, (unsigned long)pers | ADDR_NO_RANDOMIZE, 0, 0) < 0)
		die("personality(ADDR_NO_RANDOMIZE) failed", 0);
	static char *const child_argv[] = {"maplevm-runner", "run", 0};
	static char *const child_envp[] = {0};
	long r = raw3(SYS_execve, "/proc/self/exe", child_argv, child_envp);
	(void)r;
	die("re-exec of /proc/self/exe failed", 0);
	return 2;
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (!touch_armed) {
		/* A fault outside a touch is a bug in the worker (or the script unmapped it). */
		struct sigaction dfl = {0};
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, 0);
		return;
	}
	fault_signo = sig;
	fault_code = info->si_code;
	fault_addr = (int64_t)(uintptr_t)info->si_addr;
	siglongjmp(touch_env, 1);
}

static void install_handlers(void)
{
	stack_t ss = {0};
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	if (sigaltstack(&ss, 0))
		die("sigaltstack failed", 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, 0) || sigaction(SIGBUS, &sa, 0))
		die("sigaction failed", 0);
}

static void touch(int64_t addr, int write)
{
	fault_signo = 0;
	fault_code = 0;
	fault_addr = 0;
	if (sigsetjmp(touch_env, 1) == 0) {
		touch_armed = 1;
		volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)addr;
		if (write)
			*p = 1;
		else
			(void)*p;
		touch_armed = 0;
		resp.ret = 0;
	} else {
		touch_armed = 0;
		resp.signo = fault_signo;
		resp.code = fault_code;
		resp.fault_addr = fault_addr;
		/* Convention shared with maplevm.scenario: SIGSEGV -> -EFAULT, SIGBUS -> -EIO. */
		resp.ret = fault_signo == SIGBUS ? -5 : -14;
	}
}

/* Streams a /proc file to the pipe (or counts its lines) through the static buffer. */
static void snapshot(int64_t mode)
{
	if (mode == SNAP_NONE)
		return;
	const char *path = mode == SNAP_SMAPS ? "/proc/self/smaps" : "/proc/self/maps";
	long fd = raw3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		die("cannot open", path);
	int64_t lines = 0;
	for (;;) {
		long n = raw3(SYS_read, fd, iobuf, sizeof(iobuf));
		if (n == -4)
			continue;
		if (n < 0)
			die("read failed", path);
		if (n == 0)
			break;
		if (mode == SNAP_COUNT) {
			for (long i = 0; i < n; i++)
				lines += iobuf[i] == '\n';
		} else {
			write_full(iobuf, (size_t)n);
		}
	}
	raw3(SYS_close, fd, 0, 0);
	resp.count = lines;
}

/*
 * The script continues in the child, which answers on the same pipe (ret 0, fault_addr = its
 * pid); the parent only waits and then exits with the child's status, so exactly one
 * process ever reads commands.
 */
static void do_fork(void)
{
	long pid = raw3(SYS_fork, 0, 0, 0);
	if (pid < 0) {
		resp.ret = pid;
		return;
	}
	if (pid == 0) {
		resp.ret = 0;
		resp.fault_addr = raw3(SYS_getpid, 0, 0, 0);
		return;
	}
	int status = 0;
	while (raw6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0) == -4)
		;
	int code = (status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
	raw6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

static int run(void)
{
	long pers = raw3(SYS_personality, 0xffffffffL, 0, 0);
	if (pers < 0 || !(pers & ADDR_NO_RANDOMIZE))
		die("started without ADDR_NO_RANDOMIZE; start with 'setup'", 0);
	install_handlers();
	for (;;) {
		if (read_full(&cmd, sizeof(cmd)))
			return 0; /* the driver closed the pipe */
		if (cmd.str_len < 0 || cmd.str_len >= (int64_t)sizeof(strbuf))
			die("string argument too long", 0);
		if (cmd.str_len && read_full(strbuf, (size_t)cmd.str_len))
			return 0;
		strbuf[cmd.str_len] = 0;
		resp.ret = resp.signo = resp.code = resp.fault_addr = resp.count = 0;
		switch (cmd.kind) {
		case K_SYSCALL:
			if (cmd.str_arg >= 0 && cmd.str_arg < 6)
				cmd.a[cmd.str_arg] = (int64_t)(uintptr_t)strbuf;
			resp.ret = raw6(cmd.nr, cmd.a[0], cmd.a[1], cmd.a[2], cmd.a[3], cmd.a[4],
					cmd.a[5]);
			break;
		case K_TOUCH_READ:
		case K_TOUCH_WRITE:
			touch(cmd.a[0], cmd.kind == K_TOUCH_WRITE);
			break;
		case K_SNAPSHOT:
			resp.ret = PROTOCOL_VERSION;
			break;
		case K_FORK:
			do_fork();
			break;
		case K_EXIT:
			return 0;
		default:
			die("unknown command kind", 0);
		}
		if (cmd.snap == SNAP_COUNT) {
			snapshot(SNAP_COUNT);
			write_full(&resp, sizeof(resp));
		} else {
			write_full(&resp, sizeof(resp));
			snapshot(cmd.snap);
			if (cmd.snap != SNAP_NONE)
				write_full("", 1);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && streq(argv[1], "setup"))
		return setup(argc, argv);
	if (argc >= 2 && streq(argv[1], "run"))
		return run();
	die("usage: maplevm-runner setup [RES=cur:max ...] [/path/to/file ...]", 0);
	return 2;
}
