#!/usr/bin/env python3
"""Provider benchmark (issue #4): how long the netns provider takes to

  1. create a VNet with two subnets, an NSG and a NAT gateway (topology),
  2. boot one VM to a connected agent (apply -> the relay lists the node),
  3. boot N VMs (default 100) in one workspace in a single apply, and
  4. tear everything down.

Needs root (real namespaces).  Bounded: at most --vms VMs, each phase has a
deadline, and everything is torn down at the end, also on failure.  Run:

  sudo python3 bench/provider/bench_provider.py --build build/release

It reuses the integration tests' document builder (tests/integration).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))


def now():
    return time.monotonic()


class Bench:
    def __init__(self, build, vms, rounds):
        self.build = os.path.abspath(build)
        self.prov = os.path.join(self.build, "src/control/scc-prov")
        self.sccd_bin = os.path.join(self.build, "src/control/sccd")
        self.sccctl = os.path.join(self.build, "src/cli/sccctl")
        self.agent = os.path.join(self.build, "src/agent/scc-agent")
        self.n, self.rounds = vms, rounds
        self.dir = tempfile.mkdtemp(prefix="scc-bench-prov-")
        self.prefix = "sccb%d" % os.getpid()
        self.state = os.path.join(self.dir, "prov")
        self.sccd = None
        self.ca = None
        from provlib import Doc, Plan  # noqa: E402 (the tests' document builder)
        self.Doc, self.Plan = Doc, Plan

    # ---- plumbing ----

    def run_prov(self, cmd, doc=None):
        argv = [self.prov, cmd]
        if doc is not None:
            path = os.path.join(self.dir, "doc.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            argv.append(path)
        argv += ["--prefix", self.prefix, "--state-dir", self.state, "--agent", self.agent,
                 "--provider", "netns"] + (["--ca", self.ca] if self.ca else [])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("scc-prov %s: %s" % (cmd, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def workspace(self):
        plan = self.Plan(os.getpid())
        doc = self.Doc(plan)
        nsg = doc.databricks_nsg("nsg")
        nat = doc.nat("nat", [plan.public()])
        doc.vnet("ws-vnet", ["10.179.0.0/16"], [
            {"name": "public-subnet", "prefix": "10.179.0.0/18", "network_security_group": nsg,
             "nat_gateway": nat},
            {"name": "private-subnet", "prefix": "10.179.64.0/18", "network_security_group": nsg,
             "nat_gateway": nat}])
        return plan, doc

    def start_sccd(self, plan):
        data = os.path.join(self.dir, "d")
        log = open(os.path.join(self.dir, "sccd.log"), "ab")
        self.sccd = subprocess.Popen(
            [self.sccd_bin, "--data-dir", data, "--relay-listen", "%s:443" % plan.relay,
             "--api-listen", "127.0.0.1:0", "--metrics-listen", ""],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ep = os.path.join(data, "endpoints.json")
        deadline = now() + 15
        while not os.path.exists(ep):
            if now() > deadline or self.sccd.poll() is not None:
                raise RuntimeError("sccd did not start (see %s/sccd.log)" % self.dir)
            time.sleep(0.02)
        with open(ep) as f:
            self.ca = json.load(f)["ca"]
        self.data = data

    def token(self, node):
        return subprocess.run([self.sccctl, "--data-dir", self.data, "token", "create",
                               "--workspace", "bench", "--cluster", "c", "--node", node,
                               "--ttl", "30m"], capture_output=True, text=True,
                              check=True).stdout.strip()

    def connected(self):
        r = subprocess.run([self.sccctl, "--data-dir", self.data, "--output", "json", "nodes"],
                           capture_output=True, text=True)
        return {n["node"]: n for n in json.loads(r.stdout or "[]")}

    def wait_connected(self, names, deadline_s):
        deadline = now() + deadline_s
        while True:
            have = self.connected()
            if all(n in have for n in names):
                return have
            if now() > deadline:
                raise RuntimeError("only %d of %d nodes connected" % (
                    sum(n in have for n in names), len(names)))
            time.sleep(0.005)

    # ---- phases ----

    def topology(self):
        """Median time to create VNet + 2 subnets + NSG + NAT from nothing."""
        times = []
        for _ in range(self.rounds):
            plan, doc = self.workspace()
            t = now()
            self.run_prov("apply", doc.d)
            times.append(now() - t)
            self.run_prov("teardown")
        return times

    def one_vm(self, plan, doc):
        """Median time from apply (one more VM) to the relay listing it."""
        times = []
        for i in range(self.rounds):
            name = "one%d" % i
            vid = doc.vm(name, doc.subnet_id("ws-vnet", "private-subnet"),
                         "10.179.64.%d" % (10 + i), self.token(name))
            t = now()
            self.run_prov("apply", doc.d)
            self.wait_connected([name], 30)
            times.append(now() - t)
            doc.drop_vm(vid)
            self.run_prov("apply", doc.d)
        return times

    def many_vms(self, plan, doc):
        names = ["vm%d" % i for i in range(self.n)]
        for i, name in enumerate(names):
            doc.vm(name, doc.subnet_id("ws-vnet", "private-subnet"),
                   "10.179.%d.%d" % (65 + i // 250, 4 + i % 250), self.token(name))
        t = now()
        self.run_prov("apply", doc.d)
        t_apply = now() - t
        self.wait_connected(names, 120)
        t_conn = now() - t
        t = now()
        self.run_prov("apply", doc.d)
        t_noop = now() - t
        rss = self.agent_rss()
        return t_apply, t_conn, t_noop, rss

    def agent_rss(self):
        total, n = 0, 0
        for pid in os.listdir("/proc"):
            try:
                if not pid.isdigit() or os.readlink("/proc/%s/exe" % pid) != self.agent:
                    continue
                with open("/proc/%s/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            n += 1
            except OSError:
                pass
        return total / max(n, 1) / 1024.0

    def close(self):
        try:
            t = now()
            self.run_prov("teardown")
            self.t_teardown = now() - t
        finally:
            if self.sccd and self.sccd.poll() is None:
                self.sccd.terminate()
                self.sccd.wait(10)
            shutil.rmtree(self.dir, ignore_errors=True)


def ms(v):
    return "%.1f ms" % (v * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--vms", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("the netns provider needs root")
    if not 1 <= a.vms <= 250:
        sys.exit("--vms must be 1-250 (one /24's worth in the private subnet)")
    b = Bench(a.build, a.vms, a.rounds)
    try:
        topo = b.topology()
        plan, doc = b.workspace()
        b.run_prov("apply", doc.d)
        b.start_sccd(plan)
        one = b.one_vm(plan, doc)
        t_apply, t_conn, t_noop, rss = b.many_vms(plan, doc)
    finally:
        b.close()
    print("VNet + 2 subnets + NSG + NAT gateway, from nothing: median %s (min %s, max %s, n=%d)"
          % (ms(statistics.median(topo)), ms(min(topo)), ms(max(topo)), len(topo)))
    print("one VM, apply to agent connected:                  median %s (min %s, max %s, n=%d)"
          % (ms(statistics.median(one)), ms(min(one)), ms(max(one)), len(one)))
    print("%d VMs in one apply: apply %s, all connected %s (%s per VM), re-apply (no-op) %s"
          % (a.vms, ms(t_apply), ms(t_conn), ms(t_conn / a.vms), ms(t_noop)))
    print("agent RSS, mean over %d agents: %.1f MiB; teardown of everything: %s"
          % (a.vms, rss, ms(b.t_teardown)))


if __name__ == "__main__":
    main()
