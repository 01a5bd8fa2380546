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
from library_scan import main, require

TIMEOUT_SECS = 5.0

scanner = require("clamav_client.scanner", "clamav-client")


def scan(host, port, path):
    # construction errors raise; the scan itself reports its own in the result
    return scanner.ClamdScanner(
        {"backend": "clamd", "address": "%s:%s" % (host, port),
         "timeout": TIMEOUT_SECS, "stream": True}
    ).scan(path)


def judge(result):
    if result.passed is True:
        return "OK", None
    if result.passed is False and result.state == "FOUND":
        return "FOUND", result.details
    return "ERROR", "state %s, details %s, err %r" % (result.state, result.details, result.err)


if __name__ == "__main__":
    main(scan, judge)
