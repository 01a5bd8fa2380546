"""What the wrappers around third-party Python clamd libraries share: the import check,
the HOST PORT FILE arguments, and the report in clamdscan's convention (a `FILE: OK` or
`FILE: NAME FOUND` line, else `ERROR: ...`; exit 0 clean, 1 infected, 2 error).

A wrapper reports what its library says, as the library's documentation defines it; it
does not fix the library's bugs.
"""
import importlib
import sys


def error(text):
    """Fails closed: prints `ERROR: text` and exits 2."""
    print("ERROR: " + text)
    sys.exit(2)


def require(module, package):
    """Imports `module`, or names the PyPI `package` to install and exits 2."""
    try:
        return importlib.import_module(module)
    except ImportError:
        error("the python `%s` package is not installed (pip install %s)" % (package, package))


def main(scan, judge):
    """Scans FILE at HOST:PORT (argv) with `scan(host, port, path)` and reports
    `judge(result)`: ("OK", None), ("FOUND", virus name) or ("ERROR", text)."""
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        result = scan(host, port, path)
    except Exception as e:  # the library's own errors, socket errors, parser errors
        error("%s: %s" % (type(e).__name__, e))
    status, text = judge(result)
    if status == "FOUND":
        print("%s: %s FOUND" % (path, text))
        sys.exit(1)
    if status == "OK":
        print("%s: OK" % path)
        sys.exit(0)
    error(text)
