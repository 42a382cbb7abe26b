/*
 * ledsend: send raw protocol lines to ledd's Unix socket and print the
 * replies, one per line.
 *
 * The real-kernel tests use it next to ledctl so that ledd's own validation
 * is exercised even for orders that ledctl would already refuse before
 * sending (e.g. "blink caps -1"). Built with `gcc -static -O2`.
 *
 * usage: ledsend SOCKET LINE...
 * Exit status: 0 if every reply starts with "ok", 1 if any starts with
 * "err" (or anything else), 3 if the socket cannot be reached, 5 if the
 * connection breaks or no reply comes within 10 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, 1);
		if (n <= 0)
			return -1;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ledsend SOCKET LINE...\n");
		return 2;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "ledsend: socket path too long\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "ledsend: connect %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	int status = 0;
	for (int i = 2; i < argc; i++) {
		char line[8192];
		int n = snprintf(line, sizeof(line), "%s\n", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) || write(fd, line, (size_t)n) != n) {
			fprintf(stderr, "ledsend: write failed\n");
			return 5;
		}
		if (read_line(fd, line, sizeof(line)) < 0) {
			fprintf(stderr, "ledsend: no reply to '%s'\n", argv[i]);
			return 5;
		}
		printf("%s\n", line);
		if (strncmp(line, "ok", 2) != 0)
			status = 1;
	}
	close(fd);
	return status;
}
