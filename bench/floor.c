/*
 * The physical floor of an order's round trip, for bench/run.py (issue 11).
 *
 *     ledd-floor SOCKET_PATH
 *
 * A bare non-blocking server on a Unix stream socket: one thread, one epoll
 * (level-triggered), accept4 on the listener, and for a client one read() per
 * readiness and one write() answering every complete line read with a fixed
 * short reply (`ok floor`), so the load generator's `ok` check holds. It does
 * nothing else: no parsing, no credentials, no timers, no allocation after
 * start-up. ledd does the same socket work plus its own, so the ratio
 * ledd / floor is what ledd's own path costs on top of the kernel's.
 *
 * Built by run.py with `gcc -O2`; stops on SIGTERM (default action).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 65536
#define BUF 4096
#define REPLY "ok floor\n"

/* Bytes of an unfinished line per client fd (a line split across reads). */
static unsigned short partial[MAX_FD];

static void die(const char *what)
{
    perror(what);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
        return 2;
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);
    unlink(argv[1]);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 1024) < 0) die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");

    static char buf[BUF];
    static char out[BUF * sizeof REPLY];
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0) continue;             /* EAGAIN, or out of fds */
                if (c >= MAX_FD) { close(c); continue; }
                partial[c] = 0;
                struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) close(c);
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                close(fd);                       /* also leaves the epoll set */
                continue;
            }
            if (got < 0) continue;
            size_t lines = 0, tail = partial[fd];
            for (ssize_t k = 0; k < got; k++) {
                if (buf[k] == '\n') { lines++; tail = 0; } else if (tail < 65535) tail++;
            }
            partial[fd] = (unsigned short)tail;
            if (lines == 0) continue;
            size_t len = 0;
            for (size_t k = 0; k < lines; k++) {
                memcpy(out + len, REPLY, sizeof REPLY - 1);
                len += sizeof REPLY - 1;
            }
            /* One write; a reply the socket cannot take at once is dropped
             * (never with the load generator, which reads every reply). */
            if (write(fd, out, len) < 0 && errno != EAGAIN) close(fd);
        }
    }
}
