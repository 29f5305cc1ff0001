"""Harness for scc's integration tests: real sccd, scc-agent and sccctl
processes on loopback, each test in its own temporary directory.

Everything a test starts is registered here and killed in tearDown, even
when the test fails, and the temporary directory goes with it.
"""
import filecmp
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("SCC_BUILD", os.path.join(os.path.dirname(__file__), "../../build/debug"))
SCCD = os.path.join(BUILD, "src/control/sccd")
AGENT = os.path.join(BUILD, "src/agent/scc-agent")
SCCCTL = os.path.join(BUILD, "src/cli/sccctl")
BENCH = os.path.join(BUILD, "bench/sccbench")


def npm_ci(path):
    """The packages path/package-lock.json pins, in path/node_modules.
    scripts/setup.sh --test installs them; a developer without them gets
    them here (which needs the network).  Raises AssertionError if npm fails."""
    stamp = os.path.join(path, "node_modules", ".scc-installed-lock")
    lock = os.path.join(path, "package-lock.json")
    if os.path.exists(stamp) and filecmp.cmp(stamp, lock, shallow=False):
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=path, capture_output=True,
                       timeout=280)
    if r.returncode != 0:
        raise AssertionError("npm ci failed:\n" + r.stdout.decode() + r.stderr.decode())
    shutil.copyfile(lock, stamp)


def node_test(case, src, script, env, timeout=180):
    """Run `node --test script` in src; case fails unless every test passed."""
    r = subprocess.run(["node", "--test", script], cwd=src, env=env, capture_output=True,
                       timeout=timeout)
    out = r.stdout.decode() + r.stderr.decode()
    print(out[-6000:])
    case.assertEqual(r.returncode, 0, out)
    case.assertIn("# fail 0", out)


def sanitized_build():
    """True for an AddressSanitizer/UBSan build (its runtime has calls and memory of its own)."""
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        return "SCC_SANITIZE:BOOL=ON" in f.read()


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A started process whose output goes to a log file we can grep."""

    def __init__(self, argv, log, env=None, cwd=None):
        self.argv = argv
        self.log = log
        self.logf = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  env=env, cwd=cwd, start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=10.0):
        return wait_for(lambda: needle in self.text(), timeout, what="%r in %s" % (needle, self.log))

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGKILL, timeout=10):
        if self.alive():
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        if not self.logf.closed:
            self.logf.close()

    def stop(self):
        """SIGTERM, so sanitizers get to report at exit; SIGKILL after 5 s."""
        self.kill(signal.SIGTERM, timeout=5)

    def sanitizer_report(self):
        text = self.text()
        for needle in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            i = text.find(needle)
            if i >= 0:
                return text[max(0, i - 200):i + 3000]
        return None


class SccTest(unittest.TestCase):
    """Base class: a temporary directory, process bookkeeping, helpers."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scc-it-")
        self.procs = []
        self.cleanups_done = False

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        reports = [(p.log, p.sanitizer_report()) for p in self.procs]
        reports = [(log, r) for log, r in reports if r]
        if os.environ.get("SCC_KEEP_TMP") or (hasattr(self, "_outcome") and not self._ok()):
            print("\n--- logs of %s kept in %s" % (self.id(), self.dir))
            for name in sorted(os.listdir(self.dir)):
                if name.endswith(".log"):
                    with open(os.path.join(self.dir, name), "rb") as f:
                        tail = f.read()[-3000:].decode("utf-8", "replace")
                    print("--- %s (tail)\n%s" % (name, tail))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            self.fail("sanitizer report in %s:\n%s" % reports[0])

    def _ok(self):
        result = getattr(self._outcome, "result", None)
        if result is None:
            return True
        errors = getattr(result, "errors", []) + getattr(result, "failures", [])
        return not any(t is self for t, _ in errors)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, name, argv, env=None):
        p = Proc(argv, self.path(name + ".log"), env=env)
        self.procs.append(p)
        return p

    # ---- sccd ----

    def sccd(self, data="d", name="sccd", extra=(), relay_port=0, wait=True):
        """Start sccd with its relay on 127.0.0.2:<port> and everything
        else on free loopback ports; returns the Proc with .data set."""
        data_dir = self.path(data)
        argv = [SCCD, "--data-dir", data_dir, "--relay-listen", "127.0.0.2:%d" % relay_port,
                "--api-listen", "127.0.0.1:%d" % free_port(),
                "--metrics-listen", "127.0.0.1:0"] + list(extra)
        ep = os.path.join(data_dir, "endpoints.json")
        if os.path.exists(ep):
            os.unlink(ep)
        p = self.start(name, argv)
        p.data = data_dir
        if wait:
            wait_for(lambda: os.path.exists(ep) or not p.alive(), 15, what="sccd to start")
            self.assertTrue(p.alive(), "sccd exited:\n" + p.text())
            with open(ep) as f:
                p.endpoints = json.load(f)
        return p

    def sccctl(self, sccd, *args, check=True, timeout=60, input=None):
        r = subprocess.run([SCCCTL, "--data-dir", sccd.data] + list(args), capture_output=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError("sccctl %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout.decode(), r.stderr.decode()))
        return r

    def token(self, sccd, ws="ws1", cluster="c1", node="n1", ttl=None):
        args = ["token", "create", "--workspace", ws, "--cluster", cluster, "--node", node]
        if ttl:
            args += ["--ttl", ttl]
        return self.sccctl(sccd, *args).stdout.decode().strip()

    def agent(self, sccd, token=None, name="agent", state=None, extra=(), wait_up=True, env=None):
        state = state or self.path(name + "-state")
        argv = [AGENT, "--relay", sccd.endpoints["relay"], "--ca", sccd.endpoints["ca"],
                "--state-dir", state] + list(extra)
        if token:
            argv += ["--join-token", token]
        p = self.start(name, argv, env=env)
        p.state = state
        if wait_up:
            p.wait_log("tunnel up", 15)
        return p

    def nodes(self, sccd):
        r = self.sccctl(sccd, "--output", "json", "nodes")
        return json.loads(r.stdout)
