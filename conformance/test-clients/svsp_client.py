#!/usr/bin/env python3
"""A small SVSP client for the conformance harness's own tests.

Default: a correct client (waits for READY, SCAN/FILE with an id, reads until the
request's terminal line, QUIT; exit 0 clean / 1 infected / 2 error, fail closed).

  --defect needs-queued   waits for QUEUED before reading results (hangs when the server
                          leaves QUEUED out, svsp.md SVSP-CLIENT-8)
  --defect clean-on-error reports clean when the request ends with an errno line
  --defect no-wait-ready  sends its command before READY arrives

Usage: svsp_client.py [--defect NAME] [--timeout S] HOST:PORT FILE
"""
import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--defect", default="")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("addr")
    ap.add_argument("file")
    a = ap.parse_args()
    host, _, port = a.addr.rpartition(":")
    timeout = None if a.defect == "needs-queued" else a.timeout
    try:
        s = socket.create_connection((host, int(port)), timeout=a.timeout)
    except OSError as e:
        print("ERROR: connect: %s" % e)
        sys.exit(2)
    s.settimeout(timeout)
    f = s.makefile("rb")

    def line():
        l = f.readline()
        # SVSP-CLIENT-12: a line ends at LF; a fragment cut by a close is no line at all
        if not l.endswith(b"\n"):
            raise EOFError("connection closed" + (" mid-line" if l else ""))
        return l.rstrip(b"\r\n").decode("utf-8", "replace")

    try:
        if a.defect == "no-wait-ready":
            s.sendall(b"1 SCAN/FILE " + a.file.encode() + b"\r\n")
            greeting = line()
        else:
            greeting = line()
            if greeting.upper() != "READY":
                print("ERROR: refused: " + greeting)
                sys.exit(2)
            s.sendall(b"1 SCAN/FILE " + a.file.encode() + b"\r\n")
        if a.defect == "needs-queued":
            while True:
                l = line()
                if l.upper().startswith("1 QUEUED"):
                    break
        infected = 0
        verdict = None
        while verdict is None:
            l = line()
            parts = l.split(" ", 2)
            if parts[0] != "1" or len(parts) < 2:
                continue
            kw = parts[1].upper()
            if kw == "INFECTED":
                infected += 1
            elif kw == "DONE":
                verdict = "infected" if infected else "clean"
            elif kw.startswith("E") and kw.isalpha() and kw.isupper():
                verdict = "clean" if a.defect == "clean-on-error" else "error:" + l
        s.sendall(b"QUIT\r\n")
        try:
            line()
        except (EOFError, OSError):
            pass
    except (EOFError, OSError) as e:
        print("ERROR: %s" % e)
        sys.exit(2)
    if verdict == "clean":
        print(a.file + ": OK")
        sys.exit(0)
    if verdict == "infected":
        print(a.file + ": INFECTED")
        sys.exit(1)
    print("ERROR: " + verdict)
    sys.exit(2)


if __name__ == "__main__":
    main()
