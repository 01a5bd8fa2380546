#!/usr/bin/env python3
"""A small clamd INSTREAM client for the conformance harness's own tests.

Default mode is a correct client (IDSESSION + zINSTREAM, 4-byte big-endian chunks, zero
terminator, END; exit 0 clean / 1 infected / 2 error, fail closed).  The --defect flags
turn it into one of the deliberately broken clients the harness must catch:

  clean-on-error     reports clean whenever the daemon errors, closes or cannot be reached
  no-terminator      never sends the zero-length chunk (half-closes instead)
  unprefixed         sends legacy commands without the z/n prefix
  ignore-size-limit  treats `INSTREAM size limit exceeded` as clean
  no-end             leaves IDSESSION without END

Usage: clamd_client.py [--defect NAME] [--chunk N] [--timeout S] HOST:PORT FILE
"""
import argparse
import socket
import struct
import sys


def fail(msg, clean_on_error):
    if clean_on_error:
        print("OK (assumed)")
        sys.exit(0)
    print("ERROR: " + msg)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--defect", default="")
    ap.add_argument("--chunk", type=int, default=8192)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--no-session", action="store_true")
    ap.add_argument("addr")
    ap.add_argument("file")
    a = ap.parse_args()
    coe = a.defect == "clean-on-error"
    host, _, port = a.addr.rpartition(":")
    data = open(a.file, "rb").read()
    try:
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
    except OSError as e:
        fail("connect: %s" % e, coe)
    s.settimeout(a.timeout)
    session = not a.no_session and a.defect != "unprefixed"
    out = b""
    try:
        if a.defect == "unprefixed":
            s.sendall(b"INSTREAM\n")
        else:
            if session:
                s.sendall(b"zIDSESSION\0")
            s.sendall(b"zINSTREAM\0")
        for i in range(0, len(data), a.chunk):
            part = data[i:i + a.chunk]
            s.sendall(struct.pack(">I", len(part)) + part)
        if a.defect == "no-terminator":
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(b"\0\0\0\0")
    except OSError:
        pass  # the daemon may have answered and closed (size limit): read the reply
    try:
        while not out.endswith(b"\0") and not out.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            out += b
    except OSError as e:
        if not out:
            fail("read: %s" % e, coe)
    if session and a.defect != "no-end":
        try:
            s.sendall(b"zEND\0")
        except OSError:
            pass
    s.close()
    reply = out.rstrip(b"\0\n").decode("utf-8", "replace")
    if reply.split(": ", 1)[0].isdigit():
        reply = reply.split(": ", 1)[1]
    if reply.endswith(" FOUND"):
        print(a.file + ": " + reply)
        sys.exit(1)
    if reply == "stream: OK":
        print(a.file + ": OK")
        sys.exit(0)
    if a.defect == "ignore-size-limit" and "size limit" in reply:
        print(a.file + ": OK")
        sys.exit(0)
    fail("daemon replied %r" % reply, coe)


if __name__ == "__main__":
    main()
