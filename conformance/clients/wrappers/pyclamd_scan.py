#!/usr/bin/env python3
"""Scans one file with PyPI `pyclamd` (pip install pyclamd) for the conformance harness.

Reports what the library says, as its documentation defines it; it does not fix the
library's bugs. `ClamdNetworkSocket.scan_stream()` returns None for "no virus found", a
dict {name: ("FOUND", virus)} or {name: ("ERROR", reason)} otherwise, and raises
BufferTooLongError / ConnectionError (and, undocumented, anything its parser trips on).

Exit 0 clean, 1 infected, 2 error (clamdscan's convention).
Usage: pyclamd_scan.py HOST PORT FILE
"""
import sys

TIMEOUT_SECS = 5.0

try:
    import pyclamd
except ImportError:
    print("ERROR: the python `pyclamd` package is not installed (pip install pyclamd)")
    sys.exit(2)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        cd = pyclamd.ClamdNetworkSocket(host=host, port=port, timeout=TIMEOUT_SECS)
        with open(path, "rb") as f:
            result = cd.scan_stream(f)
    except Exception as e:  # the library's own errors, socket errors, parser errors
        print("ERROR: %s: %s" % (type(e).__name__, e))
        sys.exit(2)
    if result is None:  # documented: "None: if no virus found"
        print("%s: OK" % path)
        sys.exit(0)
    statuses = [v[0] for v in result.values()]
    if "FOUND" in statuses:
        print("%s: %s FOUND" % (path, "; ".join(v[1] for v in result.values())))
        sys.exit(1)
    print("ERROR: %r" % (result,))
    sys.exit(2)


if __name__ == "__main__":
    main()
