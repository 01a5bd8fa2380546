#!/usr/bin/env python3
"""Wrapper that scans one file with the `clamd` package from PyPI (pip install clamd),
so the harness can check that library. Exit 0 clean, 1 infected, 2 error (clamdscan's
convention). Usage: python_clamd.py HOST PORT FILE
"""
import sys

try:
    import clamd
except ImportError:
    print("ERROR: the python `clamd` package is not installed (pip install clamd)")
    sys.exit(2)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        cd = clamd.ClamdNetworkSocket(host=host, port=port, timeout=10)
        with open(path, "rb") as f:
            result = cd.instream(f)
    except Exception as e:  # the library raises its own and socket errors
        print("ERROR: %s: %s" % (type(e).__name__, e))
        sys.exit(2)
    status, name = (result or {}).get("stream", (None, None))
    if status == "FOUND":
        print("%s: %s FOUND" % (path, name))
        sys.exit(1)
    if status == "OK":
        print("%s: OK" % path)
        sys.exit(0)
    print("ERROR: unexpected result %r" % (result,))
    sys.exit(2)


if __name__ == "__main__":
    main()
