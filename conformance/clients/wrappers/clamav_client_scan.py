#!/usr/bin/env python3
"""Scans one file with PyPI `clamav-client` (pip install clamav-client) for the
conformance harness, through its documented high-level API.

Reports what the library says; it does not fix the library's bugs.
`ClamdScanner({"address": "HOST:PORT", "stream": True}).scan(path)` returns a ScanResult:
`passed` is True when the scan completed with no virus (state OK), False for a virus
(state FOUND) or another error, None when the scan was not performed.

Exit 0 clean, 1 infected, 2 error (clamdscan's convention).
Usage: clamav_client_scan.py HOST PORT FILE
"""
import sys

TIMEOUT_SECS = 5.0

try:
    from clamav_client.scanner import ClamdScanner
except ImportError:
    print("ERROR: the python `clamav-client` package is not installed (pip install clamav-client)")
    sys.exit(2)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        scanner = ClamdScanner(
            {"backend": "clamd", "address": "%s:%s" % (host, port),
             "timeout": TIMEOUT_SECS, "stream": True}
        )
        result = scanner.scan(path)
    except Exception as e:  # construction errors (the scan itself reports its own)
        print("ERROR: %s: %s" % (type(e).__name__, e))
        sys.exit(2)
    if result.passed is True:
        print("%s: OK" % path)
        sys.exit(0)
    if result.passed is False and result.state == "FOUND":
        print("%s: %s FOUND" % (path, result.details))
        sys.exit(1)
    print("ERROR: state %s, details %s, err %r" % (result.state, result.details, result.err))
    sys.exit(2)


if __name__ == "__main__":
    main()
