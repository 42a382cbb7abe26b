#!/usr/bin/env python3
"""Baseline for bench/run.py: the design ledd replaces, written for this benchmark.

A TCP server on 127.0.0.1, one order per connection ("clignote <freq>" or
"eteindre"), and a Python thread that toggles a fake GPIO pin (a file) with
time.sleep at the ordered rate. It is deliberately plain and typical of
that design, not tuned: it is what ledd's figures are compared with.

usage: baseline_server.py PORT_FILE PIN_FILE
  binds an ephemeral port, writes it to PORT_FILE once listening.
"""
import os
import socketserver
import sys
import threading
import time

PIN_FILE = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"


class Blinker:
    """One thread per blink order; a new order stops the previous thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = None

    def _run(self, half_period, stop):
        level = 0
        while not stop.is_set():
            level ^= 1
            with open(PIN_FILE, "w") as pin:  # the "GPIO" write
                pin.write(f"{level}\n")
            time.sleep(half_period)

    def blink(self, freq):
        with self.lock:
            self.off_locked()
            stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(0.5 / freq, stop), daemon=True)
            self.stop = stop
            thread.start()

    def off_locked(self):
        if self.stop is not None:
            self.stop.set()
            self.stop = None

    def off(self):
        with self.lock:
            self.off_locked()
            with open(PIN_FILE, "w") as pin:
                pin.write("0\n")


BLINKER = Blinker()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        words = self.rfile.readline(4096).decode("utf-8", "replace").split()
        if len(words) == 2 and words[0] == "clignote":
            try:
                freq = float(words[1])
            except ValueError:
                freq = 0.0
            if 0.001 <= freq <= 500:
                BLINKER.blink(freq)
                reply = f"ok clignote {freq:g}\n"
            else:
                reply = "err frequence\n"
        elif words == ["eteindre"]:
            BLINKER.off()
            reply = "ok eteindre\n"
        else:
            reply = "err ordre inconnu\n"
        self.wfile.write(reply.encode())


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    port_file = sys.argv[1]
    with Server(("127.0.0.1", 0), Handler) as server:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(tmp, port_file)
        server.serve_forever()


if __name__ == "__main__":
    main()
