#!/usr/bin/env python3
"""Scans one file through c-icap's virus_scan service with clamd_mod, as Squid does.

Debian's c-icap (0.5.10) and libc-icap-mod-virus-scan (0.5.5): the script writes a c-icap
config into DIR (ICAP on a free loopback port, the virus_scan service with Debian's
shipped settings, clamd_mod pointed at HOST:PORT over TCP, pid, logs and temp files in
DIR), starts c-icap in the foreground as the current user, waits until it answers an
OPTIONS request, sends FILE as the body of an HTTP response with `c-icap-client` (RESPMOD:
a proxy scans downloads in RESPMOD; c-icap's "vir" mode also works only there) and ends
that c-icap by its pid, always (also when the harness stops this script).

c-icap-client exits 0 whatever the ICAP answer, so its `-v` headers decide:
  204 No Content (unmodified)                  -> clean, exit 0
  200 with X-Infection-Found (the virus page)  -> infected, exit 1
  200 with the object unchanged                -> clean, exit 0
  any other status, or none                    -> error, exit 2
When the scan fails c-icap answers `ICAP/1.0 500 Server error` (seen on the wire), but
c-icap-client 0.5.10 then prints no ICAP headers at all and still exits 0: no status is an
error here.

No timeout is added here: c-icap's own behaviour towards a silent clamd is what is tested.
Usage: c_icap_scan.py HOST PORT FILE DIR
"""
import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time

START_SECS = 5.0


def module_dir():
    """Where clamd_mod.so is (Debian: /usr/lib/<multiarch>/c_icap)."""
    for pattern in ("/usr/lib/*/c_icap", "/usr/lib/c_icap", "/usr/local/lib/c_icap"):
        for d in sorted(glob.glob(pattern)):
            if os.path.exists(os.path.join(d, "clamd_mod.so")):
                return d
    return "/usr/lib/c_icap"

# Debian's /etc/c-icap/c-icap.conf, virus_scan.conf and clamd_mod.conf settings, with the
# paths moved into DIR, one server process and no User/Group (the current user).
CONF = """\
PidFile {dir}/c-icap.pid
CommandsSocket {dir}/c-icap.ctl
Port 127.0.0.1:{icap_port}
StartServers 1
MaxServers 1
ThreadsPerChild 4
MinSpareThreads 1
MaxSpareThreads 4
TmpDir {dir}/tmp
ServerLog {dir}/server.log
AccessLog {dir}/access.log
DebugLevel 1
ModulesDir {lib}
ServicesDir {lib}
TemplateDir /usr/share/c_icap/templates/
TemplateDefaultLanguage en
LoadMagicFile /etc/c-icap/c-icap.magic
Service antivirus_module virus_scan.so
virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE
virus_scan.SendPercentData 5
virus_scan.StartSendPercentDataAfter 2M
virus_scan.MaxObjectSize 5M
Module common clamd_mod.so
clamd_mod.ClamdHost {host}
clamd_mod.ClamdPort {port}
"""

server = None


def stop_server():
    """Ends the c-icap this script started (its monitor process ends its children)."""
    global server
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def on_signal(signum, _frame):
    stop_server()
    sys.exit(2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(path, text):
    """One clamdscan-style line: `<path>: OK`, `<path>: <name> FOUND`, `<path>: ... ERROR`."""
    print("%s: %s" % (path, text))
    sys.stdout.flush()


def client(port, *args):
    return ["c-icap-client", "-i", "127.0.0.1", "-p", str(port), "-s", "virus_scan", *args]


def start(host, port, directory):
    """Starts c-icap; returns its ICAP port once it answers OPTIONS, or None."""
    global server
    icap_port = free_port()
    conf = os.path.join(directory, "c-icap.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(dir=directory, icap_port=icap_port, lib=module_dir(), host=host, port=port))
    with open(os.path.join(directory, "c-icap.out"), "wb") as log:
        server = subprocess.Popen(["c-icap", "-N", "-f", conf], stdout=log, stderr=log)
    deadline = time.monotonic() + START_SECS
    while time.monotonic() < deadline and server.poll() is None:
        probe = subprocess.run(client(icap_port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            return icap_port
        time.sleep(0.05)
    return None


def scan(path, directory, icap_port):
    out = os.path.join(directory, "out")
    run = subprocess.run(
        client(icap_port, "-f", path, "-resp", "http://downloads.test/file", "-o", out, "-v"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    headers = run.stderr.decode("utf-8", "replace")
    sys.stderr.write(headers)
    status = re.search(r"^\s*(ICAP/1\.0 (\d{3}).*)$", headers, re.M)
    # the harness quotes the last lines of a failed run: end with what c-icap answered
    sys.stderr.write("\nc-icap answered: %s\n" % (status.group(1) if status else "nothing"))
    if run.returncode != 0 or not status:
        answer(path, "c-icap-client failed (exit %d) ERROR" % run.returncode)
        return 2
    code = int(status.group(2))
    if code == 204:
        answer(path, "OK")
        return 0
    if code == 200:
        infection = re.search(r"^\s*X-Infection-Found:.*?Threat=([^;]*);", headers, re.M)
        if infection:
            answer(path, "%s FOUND" % infection.group(1))
            return 1
        with open(path, "rb") as a, open(out, "rb") as b:
            if a.read() == b.read():
                answer(path, "OK")
                return 0
        answer(path, "ICAP 200 with a changed object ERROR")
        return 2
    answer(path, "ICAP %d ERROR" % code)
    return 2


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    host, port, path, directory = sys.argv[1:]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)
    try:
        icap_port = start(host, port, directory)
        if icap_port is None:
            answer(path, "c-icap did not start ERROR")
            for name in ("c-icap.out", "server.log"):
                try:
                    with open(os.path.join(directory, name)) as f:
                        sys.stderr.write(f.read())
                except OSError:
                    pass
            return 2
        return scan(path, directory, icap_port)
    finally:
        stop_server()


if __name__ == "__main__":
    sys.exit(main())
