#!/usr/bin/env python3
"""Provider benchmark through sccd's API (issue #4): what a user waits for
when sccd itself makes the resources real (--provider netns).

  1. a VNet with two subnets, an NSG and a NAT gateway (with its public IP),
     PUT through the management API, until the provider reports them applied
     (rounds: deleted and created again);
  2. one node: POST createNodes, until the relay lists its agent (through
     the NAT gateway), then deleteNodes (rounds);
  3. N nodes (default 100) in one workspace with one createNodes: until the
     operation ends and until all N agents are connected; then
     deleteNodes of all of them until their namespaces are gone; then sccd
     stops with --provider-cleanup.

Needs root.  Bounded: at most 100 nodes, each phase has a deadline, and sccd
removes everything when it stops (a fallback `scc-prov teardown` runs
after it), also on failure.  Run:

  sudo python3 bench/provider/bench_wire.py --build build/release
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

V_NET, V_DBX, V_RES = "2024-07-01", "2023-02-01", "2025-03-01"


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def now():
    return time.monotonic()


def wait(pred, deadline_s, what):
    deadline = now() + deadline_s
    while True:
        v = pred()
        if v:
            return v
        if now() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.005)


class Bench:
    def __init__(self, build, n, rounds):
        self.build = os.path.abspath(build)
        self.n, self.rounds = n, rounds
        self.dir = tempfile.mkdtemp(prefix="scc-bench-wire-")
        self.data = os.path.join(self.dir, "d")
        self.prefix = "sccw%d" % os.getpid()
        self.sccd = None

    def bin(self, rel):
        return os.path.join(self.build, "src", rel)

    # ---- sccd and its API ----

    def start(self):
        log = open(os.path.join(self.dir, "sccd.log"), "ab")
        self.sccd = subprocess.Popen(
            [self.bin("control/sccd"), "--data-dir", self.data, "--provider", "netns",
             "--provider-prefix", self.prefix, "--public-api-ip", "198.51.100.240",
             "--public-relay-ip", "198.51.100.241", "--relay-listen", "127.0.0.2:0",
             "--api-listen", "127.0.0.1:%d" % free_port(), "--metrics-listen", "",
             "--lro-delay", "0",
             "--lro-retry-after", "0", "--provider-cleanup"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ep = os.path.join(self.data, "endpoints.json")
        wait(lambda: os.path.exists(ep) or self.sccd.poll() is not None, 15, "sccd to start")
        if self.sccd.poll() is not None:
            raise RuntimeError("sccd did not start (see %s/sccd.log)" % self.dir)
        from test_arm_lib import Api  # noqa: E402 (the tests' HTTPS client)

        class D:
            pass
        d = D()
        d.data = self.data
        with open(ep) as f:
            d.endpoints = json.load(f)
        self.api = Api(d)
        with open(os.path.join(self.data, "subscription")) as f:
            self.sub = f.read().strip()
        self.rg = "/subscriptions/%s/resourceGroups/rg1" % self.sub

    def call(self, method, path, body=None, version=V_DBX, ok=(200, 201, 202, 204)):
        r = self.api.call(method, path, body, version=version)
        if r.status not in ok:
            raise RuntimeError("%s %s: %r" % (method, path, r))
        return r

    def net(self, typ, name, props, **extra):
        self.call("PUT", "%s/providers/Microsoft.Network/%s/%s" % (self.rg, typ, name),
                  dict({"location": "eastus", "properties": props}, **extra), V_NET)

    def namespaces(self):
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [l.split()[0] for l in out.splitlines() if l.startswith(self.prefix + "-")]

    def connected(self):
        r = subprocess.run([self.bin("cli/sccctl"), "--data-dir", self.data, "--output", "json",
                            "nodes"], capture_output=True, text=True)
        return {n["node"] for n in json.loads(r.stdout or "[]")}

    # ---- phases ----

    def vnet(self):
        """PUT NSG, public IP, NAT gateway and VNet (two /24 subnets): until the
        provider reports both applied."""
        nid = lambda t, n: "%s/providers/Microsoft.Network/%s/%s" % (self.rg, t, n)  # noqa: E731
        t = now()
        self.net("networkSecurityGroups", "nsg", {})
        self.net("publicIPAddresses", "nat-ip", {"publicIPAllocationMethod": "Static"},
                 sku={"name": "Standard"})
        self.net("natGateways", "nat", {"publicIpAddresses": [{"id": nid("publicIPAddresses",
                                                                         "nat-ip")}]},
                 sku={"name": "Standard"})
        props = {"networkSecurityGroup": {"id": nid("networkSecurityGroups", "nsg")},
                 "natGateway": {"id": nid("natGateways", "nat")},
                 "delegations": [{"name": "dbx", "properties": {
                     "serviceName": "Microsoft.Databricks/workspaces"}}]}
        self.net("virtualNetworks", "vnet", {
            "addressSpace": {"addressPrefixes": ["10.179.0.0/16"]},
            "subnets": [{"name": n, "properties": dict(props, addressPrefix=p)}
                        for n, p in (("public", "10.179.0.0/24"), ("private", "10.179.1.0/24"))]})
        ids = [nid("virtualNetworks", "vnet"), nid("natGateways", "nat")]
        wait(lambda: all(self.status().get(i, {}).get("state") == "Succeeded" for i in ids), 30,
             "the VNet and NAT gateway applied")
        return now() - t

    def status(self):
        """The provider's statuses (its status job waits behind an apply in flight)."""
        r = subprocess.run([self.bin("cli/sccctl"), "--data-dir", self.data, "--output", "json",
                            "provider", "status"], capture_output=True, text=True)
        return json.loads(r.stdout or "{}").get("resources", {})

    def vnet_rounds(self):
        times = []
        for _ in range(self.rounds):
            times.append(self.vnet())
            for t, n in (("virtualNetworks", "vnet"), ("natGateways", "nat"),
                         ("publicIPAddresses", "nat-ip"), ("networkSecurityGroups", "nsg")):
                self.call("DELETE", "%s/providers/Microsoft.Network/%s/%s" % (self.rg, t, n),
                          version=V_NET)
            wait(lambda: len(self.namespaces()) == 1 and
                 not any(i.startswith("/") for i in self.status()), 30,
                 "the VNet's namespaces gone")
        return times

    def workspace(self):
        self.call("POST", "/subscriptions/%s/providers/Microsoft.ManagedIdentity/register"
                  % self.sub, version=V_RES)
        self.vnet()
        p = {"enableNoPublicIp": True,
             "customVirtualNetworkId": "%s/providers/Microsoft.Network/virtualNetworks/vnet"
                                       % self.rg,
             "customPublicSubnetName": "public", "customPrivateSubnetName": "private"}
        r = self.call("PUT", self.rg + "/providers/Microsoft.Databricks/workspaces/ws1", {
            "location": "eastus", "properties": {"parameters": {k: {"value": v}
                                                                for k, v in p.items()}}})
        if self.api.wait(r, 60).json["status"] != "Succeeded":
            raise RuntimeError("the workspace did not come up")

    def nodes(self, action, body, deadline_s):
        r = self.call("POST", self.rg + "/providers/Microsoft.Databricks/workspaces/ws1/" + action,
                      body)
        names = [v["name"] for v in r.json["value"]]
        if r.status == 202 and self.api.wait(r, deadline_s).json["status"] != "Succeeded":
            raise RuntimeError("%s failed" % action)
        return names

    def one_vm(self):
        times = []
        for _ in range(self.rounds):
            t = now()
            name = self.nodes("createNodes", {"count": 1}, 30)[0]
            wait(lambda: name in self.connected(), 30, "the node connected")
            times.append(now() - t)
            self.nodes("deleteNodes", {"all": True}, 30)
        return times

    def many(self):
        t = now()
        names = set(self.nodes("createNodes", {"count": self.n}, 300))
        t_op = now() - t
        wait(lambda: names <= self.connected(), 300, "all nodes connected")
        t_conn = now() - t
        t = now()
        self.nodes("deleteNodes", {"all": True}, 300)
        wait(lambda: not any("-vm-" in n for n in self.namespaces()), 60, "the VMs gone")
        return t_op, t_conn, now() - t

    def close(self):
        self.t_stop = None
        if self.sccd and self.sccd.poll() is None:
            t = now()
            self.sccd.terminate()
            self.sccd.wait(60)
            self.t_stop = now() - t
        subprocess.run([self.bin("control/scc-prov"), "teardown", "--prefix", self.prefix,
                        "--state-dir", os.path.join(self.data, "provider")],
                       capture_output=True)
        left = self.namespaces()
        shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise RuntimeError("left behind: %s" % left)


def ms(v):
    return "%.0f ms" % (v * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("the netns provider needs root")
    if not 1 <= a.nodes <= 100:
        sys.exit("--nodes must be 1-100 (what one createNodes takes)")
    b = Bench(a.build, a.nodes, a.rounds)
    try:
        b.start()
        b.call("PUT", b.rg, {"location": "eastus"}, V_RES)
        vnet = b.vnet_rounds()
        b.workspace()
        one = b.one_vm()
        t_op, t_conn, t_del = b.many()
    finally:
        b.close()
    print("VNet + 2 subnets + NSG + NAT gateway via the API, to applied: median %s "
          "(min %s, max %s, n=%d)" % (ms(statistics.median(vnet)), ms(min(vnet)), ms(max(vnet)),
                                      len(vnet)))
    print("one node, createNodes to agent connected: median %s (min %s, max %s, n=%d)"
          % (ms(statistics.median(one)), ms(min(one)), ms(max(one)), len(one)))
    print("%d nodes in one createNodes: operation Succeeded %s, all connected %s (%s per node); "
          "deleteNodes to namespaces gone %s" % (a.nodes, ms(t_op), ms(t_conn),
                                                 ms(t_conn / a.nodes), ms(t_del)))
    print("sccd stop with --provider-cleanup: %s" % (ms(b.t_stop) if b.t_stop else "-"))


if __name__ == "__main__":
    main()
