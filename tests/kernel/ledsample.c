/*
 * ledsample: measure how the kernel drives an LED by sampling its sysfs
 * `brightness` file.
 *
 * Built on the host with `gcc -static -O2` and run inside the qemu guest.
 * A busybox shell loop is far too slow under TCG (each fork costs
 * milliseconds), so this reads the file with pread() in a loop and stamps
 * every sample with CLOCK_MONOTONIC.
 *
 * usage: ledsample [-i INTERVAL_US] [-r] BRIGHTNESS_FILE SECONDS
 *   INTERVAL_US: pause between samples (default 1000). A pause keeps the single
 *   guest CPU available to ledd while we sample (restart scenario).
 *   -r: also print runs=LEVEL:MS,... , every complete on (1) or off (0) run
 *   between two toggles, in order (Morse timing).
 *
 * Prints one line (key=value, machine readable):
 *   samples=N toggles=N rises=N freq=HZ duty=PERCENT maxgap_ms=MS
 *   maxsamplegap_ms=MS secs=S
 * freq:  (rises - 1) / (time of last rise - time of first rise)
 * duty:  time on / time between first and last rise, in percent
 * maxgap_ms: longest time without a toggle, including the time from the start
 *   to the first toggle and from the last toggle to the end (so a LED that
 *   stops blinking shows up as a long gap).
 * maxsamplegap_ms: longest time between two samples (our resolution).
 * Exit status: 0 when sampling worked, 2 on usage or I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_level(int fd, const char *path)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "ledsample: read %s: %s\n", path,
			n < 0 ? strerror(errno) : "empty");
		exit(2);
	}
	buf[n] = '\0';
	return atoi(buf);
}

int main(int argc, char **argv)
{
	long interval_us = 1000;
	int opt, print_runs = 0;
	while ((opt = getopt(argc, argv, "i:r")) != -1) {
		if (opt == 'i') {
			interval_us = strtol(optarg, NULL, 10);
		} else if (opt == 'r') {
			print_runs = 1;
		} else {
			fprintf(stderr, "usage: ledsample [-i US] [-r] FILE SECONDS\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: ledsample [-i US] [-r] FILE SECONDS\n");
		return 2;
	}
	/* Toggle times and the level each one entered, for -r. */
	enum { MAX_RUNS = 4096 };
	static double toggle_at[MAX_RUNS];
	static int toggle_level[MAX_RUNS];
	long kept = 0;
	const char *path = argv[optind];
	double secs = strtod(argv[optind + 1], NULL);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "ledsample: open %s: %s\n", path, strerror(errno));
		return 2;
	}

	struct timespec pause = { interval_us / 1000000, (interval_us % 1000000) * 1000 };
	double start = now(), end = start + secs;
	double prev_sample = start, max_sample_gap = 0.0;
	double last_toggle = start, max_gap = 0.0;
	double first_rise = -1.0, last_rise = -1.0;
	double on_since = -1.0, on_time = 0.0; /* on-time counted from first rise */
	long samples = 0, toggles = 0, rises = 0;
	double on_time_at_last_rise = 0.0;

	int level = read_level(fd, path) > 0;
	samples++;
	for (;;) {
		if (interval_us > 0)
			nanosleep(&pause, NULL);
		int cur = read_level(fd, path) > 0;
		double t = now();
		samples++;
		if (t - prev_sample > max_sample_gap)
			max_sample_gap = t - prev_sample;
		prev_sample = t;
		if (cur != level) {
			if (kept < MAX_RUNS) {
				toggle_at[kept] = t;
				toggle_level[kept] = cur;
				kept++;
			}
			toggles++;
			if (t - last_toggle > max_gap)
				max_gap = t - last_toggle;
			last_toggle = t;
			if (cur) {
				rises++;
				if (first_rise < 0)
					first_rise = t;
				last_rise = t;
				on_since = t;
				on_time_at_last_rise = on_time;
			} else if (on_since >= 0) {
				on_time += t - on_since;
				on_since = -1.0;
			}
			level = cur;
		}
		if (t >= end)
			break;
	}
	double t_end = now();
	if (t_end - last_toggle > max_gap)
		max_gap = t_end - last_toggle;

	double freq = 0.0, duty = 0.0;
	if (rises >= 2 && last_rise > first_rise) {
		freq = (double)(rises - 1) / (last_rise - first_rise);
		duty = 100.0 * on_time_at_last_rise / (last_rise - first_rise);
	}
	printf("samples=%ld toggles=%ld rises=%ld freq=%.3f duty=%.1f "
	       "maxgap_ms=%.0f maxsamplegap_ms=%.1f secs=%.2f\n",
	       samples, toggles, rises, freq, duty, max_gap * 1000.0,
	       max_sample_gap * 1000.0, t_end - start);
	if (print_runs) {
		printf("runs=");
		for (long i = 1; i < kept; i++)
			printf("%s%d:%.0f", i > 1 ? "," : "", toggle_level[i - 1],
			       (toggle_at[i] - toggle_at[i - 1]) * 1000.0);
		printf("\n");
	}
	return 0;
}
