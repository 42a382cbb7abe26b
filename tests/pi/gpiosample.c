/*
 * gpiosample: watch one BCM2835 GPIO line through /sys/kernel/debug/gpio and
 * report its level statistics. Runs inside the emulated Raspberry Pi
 * (built with aarch64-linux-gnu-gcc -static, no libc needed in the guest).
 *
 *   gpiosample PIN DURATION_MS [INTERVAL_US]
 *
 * PIN is the pin number on the SoC's GPIO controller (17 = header pin 11),
 * not the global Linux GPIO number: the controller's base is read from the
 * "gpiochipN: GPIOs A-B, parent: platform/...gpio" header, so the result
 * does not depend on where the kernel numbers the chip (0 on older kernels,
 * 512 on 6.6+).
 *
 * Output, one line:
 *   SAMPLE pin=17 line=gpio-529 consumer=ledd:green:status dir=out
 *          active_low=0 samples=N high=N rising=N falling=N freq=5.000
 *          duty=50.0 first=lo last=hi
 * freq is measured between the first and the last rising edge (0 when fewer
 * than two), duty is the share of samples seen high (physical level).
 * Exit status: 0 sampled, 1 line not found / not requested, 2 usage.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define DEBUGFS_GPIO "/sys/kernel/debug/gpio"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct line_state {
	int found;
	int high;
	int active_low;
	char name[32];
	char consumer[64];
	char dir[4];
};

/* Parse the whole debugfs file; fill *st for SoC pin `pin`. */
static int read_line(int pin, struct line_state *st)
{
	static char buf[65536];
	int fd = open(DEBUGFS_GPIO, O_RDONLY);
	ssize_t n, len = 0;
	int base = -1;
	char want[32];
	char *line, *save = NULL;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "gpiochip", 8) == 0) {
			/* gpiochip0: GPIOs 512-565, parent: platform/3f200000.gpio, pinctrl-bcm2835: */
			int a, b;
			char *g = strstr(line, "GPIOs ");
			base = -1;
			if (g && sscanf(g, "GPIOs %d-%d", &a, &b) == 2 &&
			    (strstr(line, "pinctrl-bcm2") || strstr(line, "200000.gpio")))
				base = a;
			if (base >= 0)
				snprintf(want, sizeof(want), "gpio-%d ", base + pin);
			continue;
		}
		if (base < 0)
			continue;
		/* " gpio-529 (GPIO17              |ledd:green:status   ) out hi ACTIVE LOW" */
		char *p = line;
		while (*p == ' ')
			p++;
		if (strncmp(p, want, strlen(want)) != 0)
			continue;
		char *bar = strchr(p, '|');
		char *close_paren = bar ? strchr(bar, ')') : NULL;
		if (!bar || !close_paren)
			continue;
		st->found = 1;
		snprintf(st->name, sizeof(st->name), "%.*s", (int)strcspn(p, " "), p);
		int clen = (int)(close_paren - bar - 1);
		while (clen > 0 && bar[clen] == ' ')
			clen--;
		snprintf(st->consumer, sizeof(st->consumer), "%.*s", clen, bar + 1);
		char *rest = close_paren + 1;
		while (*rest == ' ')
			rest++;
		snprintf(st->dir, sizeof(st->dir), "%.3s", rest);
		if (st->dir[2] == ' ')
			st->dir[2] = '\0';
		st->high = strstr(rest, " hi") != NULL;
		st->active_low = strstr(rest, "ACTIVE LOW") != NULL;
		return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: gpiosample PIN DURATION_MS [INTERVAL_US]\n");
		return 2;
	}
	int pin = atoi(argv[1]);
	double duration = atof(argv[2]) / 1000.0;
	long interval_us = argc > 3 ? atol(argv[3]) : 2000;
	struct line_state st, first;
	long samples = 0, highs = 0, rising = 0, falling = 0;
	double t_first_rise = 0, t_last_rise = 0;
	int prev = -1;

	if (read_line(pin, &first) < 0) {
		perror(DEBUGFS_GPIO);
		return 1;
	}
	if (!first.found) {
		printf("SAMPLE pin=%d line=none consumer=none (pin not requested by any driver)\n", pin);
		return 1;
	}
	double t0 = now_s(), t;
	while ((t = now_s()) - t0 < duration) {
		if (read_line(pin, &st) < 0 || !st.found)
			break;
		samples++;
		highs += st.high;
		if (prev == 0 && st.high) {
			rising++;
			if (rising == 1)
				t_first_rise = t;
			t_last_rise = t;
		} else if (prev == 1 && !st.high) {
			falling++;
		}
		prev = st.high;
		usleep(interval_us);
	}
	double freq = rising >= 2 ? (rising - 1) / (t_last_rise - t_first_rise) : 0.0;
	printf("SAMPLE pin=%d line=%s consumer=%s dir=%s active_low=%d samples=%ld high=%ld "
	       "rising=%ld falling=%ld freq=%.3f duty=%.1f first=%s last=%s\n",
	       pin, first.name, first.consumer, first.dir, first.active_low, samples, highs,
	       rising, falling, freq, samples ? 100.0 * highs / samples : 0.0,
	       first.high ? "hi" : "lo", prev == 1 ? "hi" : "lo");
	return 0;
}
