/*
 * fakeleds.c: the kernel's side of a fake LED class tree, for tests.
 *
 * A tree of plain files (tests/fakeleds/fakeleds.sh led ...) looks like
 * /sys/class/leds, but a plain file does not react to writes. Preloaded into
 * the real, unmodified ledd binary (LD_PRELOAD=libfakeleds.so,
 * FAKE_LEDS_ROOT=the tree's root, exactly the sysfs_root of ledd's config),
 * this library plays the kernel's part, synchronously, inside the write()
 * that asks for it (shared/notes/kernel-leds.md):
 *
 *  - `trigger`: a name the LED does not list gives EINVAL and changes
 *    nothing; otherwise the old trigger's files go (delay_on/delay_off for
 *    timer, pattern/repeat for pattern, ...), the LED goes off, the new
 *    trigger's files appear with the kernel's defaults (timer: 500/500),
 *    and the file lists every trigger with the active one in brackets.
 *    Writing the active trigger again resets it, as the kernel does.
 *  - `brightness`: 0 removes the trigger; other values are clamped to
 *    max_brightness.
 *  - other attributes (delay_on, pattern, ...) are stored as written.
 *  - opening for write never creates a file (sysfs has no O_CREAT).
 *
 * Each attribute file is replaced whole (written aside, then renamed), as a
 * sysfs attribute takes a write whole: a SIGKILL never leaves a torn file.
 * New trigger files get mode FAKE_LEDS_NEW_MODE (octal, default 0644) and
 * the writer's owner: a test of the permission retry sets 0444 to stand for
 * "root's until udev hands them over".
 *
 * Only open/open64/openat/openat64, dup/dup2/dup3, write and close are wrapped; files
 * outside FAKE_LEDS_ROOT are untouched. Meant for single-threaded writers
 * (ledd's event loop); nothing of this is in the ledd package. It uses no
 * malloc and no stdio, so that its own footprint in ledd's memory (which the
 * benchmark measures) stays a few pages.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h> /* rename() only: no stdio stream is used */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FDS 65536
#define SLOTS 32
/* Small buffers, so that the fake kernel's stack and data stay a few pages of
 * ledd's memory: an attribute line, and a path under FAKE_LEDS_ROOT, longer
 * than these is refused (EINVAL, ENAMETOOLONG), never handled half-way. */
#define LINE 512
#define PATH 512

enum attr { NONE = 0, TRIGGER, BRIGHTNESS, OTHER, TOO_LONG };
struct tracked {
	enum attr attr; /* NONE: a free slot */
	int refs;       /* descriptors (dup) that point to it */
	char dir[PATH];
	char name[64];
};
static struct tracked slots[SLOTS];
static unsigned char slot_of[MAX_FDS]; /* 0: not tracked, else slot + 1 */

static struct tracked *tracked(int fd)
{
	return fd >= 0 && fd < MAX_FDS && slot_of[fd] ? &slots[slot_of[fd] - 1] : NULL;
}

static void untrack(int fd)
{
	struct tracked *t = tracked(fd);
	if (!t)
		return;
	slot_of[fd] = 0;
	if (--t->refs == 0)
		t->attr = NONE;
}

/* A + B + C into OUT (PATH bytes), or -1 when too long. */
static int join(char *out, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	if (la + lb + lc >= PATH)
		return -1;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc + 1);
	return 0;
}

/* Decimal digits of N into OUT (at least 24 bytes). */
static void decimal(unsigned long n, char *out)
{
	char digits[24];
	int i = 0, j = 0;
	do
		digits[i++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (i > 0)
		out[j++] = digits[--i];
	out[j] = '\0';
}

/* TEXT as a number in BASE; -1 when it is not one. */
static long number(const char *text, int base)
{
	long n = 0;
	if (!*text)
		return -1;
	for (; *text; text++) {
		if (*text < '0' || *text >= '0' + base || n > 1000000000L)
			return -1;
		n = n * base + (*text - '0');
	}
	return n;
}

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

__attribute__((constructor)) static void init(void)
{
	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_openat64 = dlsym(RTLD_NEXT, "openat64");
	real_write = dlsym(RTLD_NEXT, "write");
	real_close = dlsym(RTLD_NEXT, "close");
	real_dup = dlsym(RTLD_NEXT, "dup");
	real_dup2 = dlsym(RTLD_NEXT, "dup2");
	real_dup3 = dlsym(RTLD_NEXT, "dup3");
}

/* The attribute PATH names under FAKE_LEDS_ROOT (ROOT/DEVICE/ATTR), or NONE;
 * DIR gets ROOT/DEVICE. */
static enum attr classify(const char *path, char *dir)
{
	const char *root = getenv("FAKE_LEDS_ROOT");
	size_t n;
	const char *rest, *slash;
	if (!root || !*root || !path)
		return NONE;
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) != 0 || path[n] != '/')
		return NONE;
	rest = path + n + 1;
	slash = strchr(rest, '/');
	if (!slash || slash == rest || strchr(slash + 1, '/'))
		return NONE;
	if ((size_t)(slash - path) >= PATH || strlen(slash + 1) >= sizeof slots[0].name)
		return TOO_LONG;
	memcpy(dir, path, slash - path);
	dir[slash - path] = '\0';
	if (strcmp(slash + 1, "trigger") == 0)
		return TRIGGER;
	if (strcmp(slash + 1, "brightness") == 0)
		return BRIGHTNESS;
	return OTHER;
}

/* Opening for write: no O_TRUNC (the write replaces the file whole), no O_CREAT. */
static int wrap_open(int fd_or_minus, const char *path, int flags, mode_t mode, int at, int large)
{
	char dir[PATH];
	enum attr attr = NONE;
	int fd;
	if ((flags & O_ACCMODE) != O_RDONLY && (!at || fd_or_minus == AT_FDCWD || path[0] == '/'))
		attr = classify(path, dir);
	if (attr == TOO_LONG) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (attr != NONE)
		flags &= ~(O_TRUNC | O_CREAT);
	if (at)
		fd = large ? real_openat64(fd_or_minus, path, flags, mode) : real_openat(fd_or_minus, path, flags, mode);
	else
		fd = large ? real_open64(path, flags, mode) : real_open(path, flags, mode);
	if (fd >= 0 && fd < MAX_FDS) {
		untrack(fd);
		if (attr != NONE) {
			int i;
			for (i = 0; i < SLOTS && slots[i].attr != NONE; i++)
				;
			if (i == SLOTS) { /* never silently plain: refuse */
				real_close(fd);
				errno = ENFILE;
				return -1;
			}
			slots[i].attr = attr;
			slots[i].refs = 1;
			strcpy(slots[i].dir, dir);
			strcpy(slots[i].name, strrchr(path, '/') + 1);
			slot_of[fd] = (unsigned char)(i + 1);
		}
	}
	return fd;
}

#define MODE_ARG(flags, mode)                                                                                \
	do {                                                                                                 \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                                                       \
			va_list ap;                                                                          \
			va_start(ap, flags);                                                                 \
			mode = va_arg(ap, int);                                                              \
			va_end(ap);                                                                          \
		}                                                                                            \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	return wrap_open(-1, path, flags, mode, 0, 0);
}
int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	return wrap_open(-1, path, flags, mode, 0, 1);
}
int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	return wrap_open(dirfd, path, flags, mode, 1, 0);
}
int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	return wrap_open(dirfd, path, flags, mode, 1, 1);
}

int close(int fd)
{
	untrack(fd);
	return real_close(fd);
}

/* A duplicate of a tracked descriptor is tracked too (dd reopens onto stdout). */
static int track_copy(int from, int to)
{
	struct tracked *t = tracked(from);
	if (to < 0 || to >= MAX_FDS || to == from)
		return to;
	untrack(to);
	if (t) {
		t->refs++;
		slot_of[to] = slot_of[from];
	}
	return to;
}
int dup(int fd)
{
	return track_copy(fd, real_dup(fd));
}
int dup2(int fd, int to)
{
	return track_copy(fd, real_dup2(fd, to));
}
int dup3(int fd, int to, int flags)
{
	return track_copy(fd, real_dup3(fd, to, flags));
}

/* DIR/NAME's first line, without its newline; "" when missing. */
static void get(const char *dir, const char *name, char *out)
{
	char path[PATH];
	ssize_t n = 0;
	int fd;
	out[0] = '\0';
	if (join(path, dir, "/", name) != 0 || (fd = real_open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, out, LINE - 1);
	real_close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* Replaces (or creates, with mode NEW) DIR/NAME with TEXT and a newline, whole. */
static int put(const char *dir, const char *name, const char *text, int create)
{
	char path[PATH], tmp[PATH];
	struct stat st;
	mode_t mode = 0644;
	const char *env = getenv("FAKE_LEDS_NEW_MODE");
	int fd, ok;
	size_t len = strlen(text);
	char pid[24], base[PATH];
	decimal((unsigned long)getpid(), pid);
	if (join(path, dir, "/", name) != 0 || join(base, dir, "/.fakeleds-", name) != 0 ||
	    join(tmp, base, ".", pid) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	else if (!create)
		return -1;
	else if (env && number(env, 8) >= 0)
		mode = (mode_t)number(env, 8);
	fd = real_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = real_write(fd, text, len) == (ssize_t)len && real_write(fd, "\n", 1) == 1 && fchmod(fd, mode) == 0;
	real_close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void drop(const char *dir, const char *name)
{
	char path[PATH];
	if (join(path, dir, "/", name) == 0)
		unlink(path);
}

/* The files each trigger adds to its LED, with the kernel's initial values. */
static const char *const TIMER[] = {"delay_on", "500", "delay_off", "500", NULL};
static const char *const ONESHOT[] = {"delay_on", "100", "delay_off", "100", "invert", "0", "shot", "", NULL};
static const char *const PATTERN[] = {"pattern", "", "repeat", "-1", NULL};
static const char *const HEARTBEAT[] = {"invert", "0", NULL};
static const char *const *files_of(const char *trigger)
{
	if (strcmp(trigger, "timer") == 0)
		return TIMER;
	if (strcmp(trigger, "oneshot") == 0)
		return ONESHOT;
	if (strcmp(trigger, "pattern") == 0)
		return PATTERN;
	if (strcmp(trigger, "heartbeat") == 0)
		return HEARTBEAT;
	return NULL;
}

/* Whether TRIGGER has the file NAME. */
static int provides(const char *trigger, const char *name)
{
	const char *const *files;
	for (files = files_of(trigger); files && *files; files += 2)
		if (strcmp(files[0], name) == 0)
			return 1;
	return 0;
}

/* Makes WANTED the active trigger of the LED in DIR (kernel led_trigger_set). */
static int set_trigger(const char *dir, const char *wanted)
{
	char line[LINE], copy[LINE], out[LINE], active[LINE] = "";
	char *word, *save;
	const char *const *files;
	int listed = 0;
	size_t used = 0;
	get(dir, "trigger", line);
	strcpy(copy, line);
	for (word = strtok_r(copy, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		size_t n = strlen(word);
		if (n > 2 && word[0] == '[' && word[n - 1] == ']') {
			word[n - 1] = '\0';
			word++;
			strcpy(active, word);
		}
		if (strcmp(word, wanted) == 0)
			listed = 1;
	}
	if (!listed) {
		errno = EINVAL;
		return -1;
	}
	/* In an order that leaves the tree consistent at every step (a SIGKILL
	 * of the writer may come anywhere): the new trigger's files, then the
	 * trigger line, then the old trigger's other files go and the LED goes off. */
	for (files = files_of(wanted); files && *files; files += 2)
		if (put(dir, files[0], files[1], 1) != 0)
			return -1;
	strcpy(copy, line);
	for (word = strtok_r(copy, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		size_t n = strlen(word);
		if (n > 2 && word[0] == '[' && word[n - 1] == ']') {
			word[n - 1] = '\0';
			word++;
		}
		int active_one = strcmp(word, wanted) == 0;
		size_t len = strlen(word);
		if (used + len + 4 >= sizeof out) {
			errno = EINVAL;
			return -1;
		}
		if (used)
			out[used++] = ' ';
		if (active_one)
			out[used++] = '[';
		memcpy(out + used, word, len);
		used += len;
		if (active_one)
			out[used++] = ']';
		out[used] = '\0';
	}
	if (put(dir, "trigger", out, 0) != 0)
		return -1;
	if (*active && strcmp(active, "none") != 0) {
		for (files = files_of(active); files && *files; files += 2)
			if (!provides(wanted, files[0]))
				drop(dir, files[0]);
		if (put(dir, "brightness", "0", 0) != 0)
			return -1;
	}
	return 0;
}

static int set_brightness(const char *dir, const char *value)
{
	char max[LINE], text[24];
	long level = number(value, 10), ceiling;
	if (level < 0) {
		errno = EINVAL;
		return -1;
	}
	if (level == 0 && set_trigger(dir, "none") != 0)
		return -1;
	get(dir, "max_brightness", max);
	ceiling = number(max, 10);
	decimal((unsigned long)(ceiling >= 0 && level > ceiling ? ceiling : level), text);
	return put(dir, "brightness", text, 0);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	struct tracked *t = tracked(fd);
	char value[LINE];
	size_t n = count;
	int rc;
	if (!t)
		return real_write(fd, buf, count);
	/* sysfs takes one value per write(), at most a page. */
	if (n >= sizeof value) {
		errno = EINVAL;
		return -1;
	}
	memcpy(value, buf, n);
	value[n] = '\0';
	value[strcspn(value, "\n")] = '\0';
	if (t->attr == TRIGGER)
		rc = set_trigger(t->dir, value);
	else if (t->attr == BRIGHTNESS)
		rc = set_brightness(t->dir, value);
	else
		rc = put(t->dir, t->name, value, 0);
	return rc == 0 ? (ssize_t)count : -1;
}
