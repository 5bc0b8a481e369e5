"""`make install` into a scratch DESTDIR: the installed binary starts with the
installed config file (its port overridden) and serves; the man page passes
`mandoc -Tlint` and documents every flag of --help; the systemd unit passes
`systemd-analyze verify` and runs the installed binary with the installed
config."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import Conn
from servers import HOST, REPO, free_port, xdpcached_bin

PREFIX = "/usr/local"


@pytest.fixture(scope="module")
def destdir():
    root = Path(tempfile.mkdtemp(prefix="xdpcached-destdir-"))
    build = os.path.relpath(os.path.dirname(xdpcached_bin()), REPO)
    try:
        subprocess.run(["make", "-s", "install", f"DESTDIR={root}", f"PREFIX={PREFIX}",
                        f"BUILD={build}"], cwd=REPO, check=True, capture_output=True, timeout=600)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_installed_files(destdir):
    for path in (f"{PREFIX}/bin/xdpcached", f"{PREFIX}/share/man/man1/xdpcached.1",
                 "etc/systemd/system/xdpcached.service", "etc/xdpcached.conf"):
        assert (destdir / path.lstrip("/")).is_file(), path
    assert os.access(destdir / f"{PREFIX.lstrip('/')}/bin/xdpcached", os.X_OK)
    unit = (destdir / "etc/systemd/system/xdpcached.service").read_text()
    assert f"ExecStart={PREFIX}/bin/xdpcached --config-file=/etc/xdpcached.conf\n" in unit
    assert "@" not in unit.split("[Unit]", 1)[1]


def test_installed_binary_serves_with_installed_config(destdir):
    port = free_port()
    binary = destdir / f"{PREFIX.lstrip('/')}/bin/xdpcached"
    config = destdir / "etc/xdpcached.conf"
    proc = subprocess.Popen([str(binary), f"--config-file={config}", "-p", str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                conn = Conn(port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "the installed daemon did not start"
                time.sleep(0.02)
        with conn as c:
            assert c.set(b"installed", b"yes") == b"STORED"
            assert c.get(b"installed") == b"yes"
            settings = c.stats(b"settings")
            # from the config file: -m 64 -l 127.0.0.1 -c 1024 -t 4
            assert settings["inter"] == HOST
            assert settings["maxconns"] == "1024"
            assert settings["num_threads"] == "4"
            assert settings["tcpport"] == str(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


@pytest.mark.skipif(shutil.which("mandoc") is None, reason="mandoc not installed (scripts/install-deps.sh)")
def test_man_page_lints_clean(destdir):
    page = destdir / f"{PREFIX.lstrip('/')}/share/man/man1/xdpcached.1"
    # -W warning: style notes about the machine's own mandoc.db (outdated
    # cross-reference index) are not the page's
    lint = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(page)], capture_output=True,
                          text=True, timeout=30)
    assert lint.returncode == 0 and lint.stdout + lint.stderr == "", lint.stdout + lint.stderr


def test_man_page_documents_every_flag():
    help_text = subprocess.run([xdpcached_bin(), "-h"], capture_output=True, text=True,
                               timeout=10, check=True).stdout
    page = (REPO / "dist/xdpcached.1").read_text()
    long_flags = set(re.findall(r"--([a-z][a-z-]+)", help_text))
    short_flags = set(re.findall(r"^-([A-Za-z])[, ]", help_text, re.M))
    assert len(long_flags) > 30 and len(short_flags) > 20
    missing = sorted(f"--{f}" for f in long_flags if f"Fl -{f}" not in page)
    missing += sorted(f"-{f}" for f in short_flags if not re.search(rf"Fl {f}\b", page))
    assert not missing, f"flags in --help but not in dist/xdpcached.1: {missing}"
    for option in re.findall(r"^   - ([a-z_]+)", help_text, re.M):
        assert f"Cm {option}" in page or f" {option}" in page, option


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies(destdir):
    # verify resolves the unit's dependencies (sysinit.target, ...) and its
    # ExecStart inside --root: give the scratch root the system's units
    units = destdir / "lib/systemd/system"
    if not units.exists():
        shutil.copytree("/lib/systemd/system", units, symlinks=True)
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={destdir}",
                             str(destdir / "etc/systemd/system/xdpcached.service")],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", \
        verify.stdout + verify.stderr
    man = subprocess.run(["man", "-w", "xdpcached"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "MANPATH": str(destdir / f"{PREFIX.lstrip('/')}/share/man")})
    assert man.returncode == 0, "Documentation=man:xdpcached(1) is not found"
