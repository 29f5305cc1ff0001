"""Helpers for the provider's integration tests (test_provider.py).

ProvTest drives the real provider through `scc-prov` against a real sccd
and real agents.  Everything a test creates carries a per-run prefix
(scct<pid>) and per-run addresses, so parallel runs and the real default
prefix "scc" never collide.  tearDown removes it all with `scc-prov
teardown`, kills what the test started in namespaces, and fails the test
if any namespace, link or nft table of the prefix survives.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from scc import BUILD, SCCD, AGENT, SCCCTL, SccTest, free_port, wait_for  # noqa: E402

PROV = os.path.join(BUILD, "src/control/scc-prov")
ROOT = os.geteuid() == 0
PROVIDER = os.environ.get("SCC_PROVIDER") or ("netns" if ROOT else "process")
if PROVIDER == "netns" and not ROOT:
    PROVIDER = "process"  # the netns provider needs root; say so in every skip
NOT_ISOLATED = ("the process provider runs nodes as plain local processes: nothing is isolated"
                + ("" if ROOT else " (not root: the netns provider needs namespaces, veths and "
                                   "nftables)"))


def needs_isolation(fn):
    """Skip a test that probes isolation when the provider cannot give it."""
    return unittest.skipIf(PROVIDER != "netns", NOT_ISOLATED)(fn)


def tool(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


class Plan:
    """Per-run addresses: the host side of a run (control plane IPs and the
    /32 routes to public IPs) must not overlap another run's."""

    def __init__(self, k):
        self.k = k % 15
        self.api = "198.51.100.%d" % (100 + 2 * self.k)
        self.relay = "198.51.100.%d" % (101 + 2 * self.k)
        self._next = 2

    def public(self):
        """The next public IP of this run, from 203.0.113.0/24."""
        ip = "203.0.113.%d" % (16 * self.k + self._next)
        self._next += 1
        assert self._next <= 15, "out of public IPs for this run"
        return ip


class Doc:
    """A desired-state document (docs/internals/provider.md) built up by a
    test.  Ids look like ARM ids."""

    RG = "/subscriptions/s/resourceGroups/rg/providers"

    def __init__(self, plan, extra_hosts=("198.51.100.30",)):
        self.plan = plan
        self.d = {
            "version": 1,
            "control_plane": {"api": {"public_ip": plan.api, "port": 443},
                              "relay": {"public_ip": plan.relay, "port": 443}},
            "service_tags": {"AzureDatabricks": [plan.api + "/32", plan.relay + "/32"],
                             "Storage": ["198.51.100.21/32"], "Sql": ["198.51.100.20/32"],
                             "EventHub": ["198.51.100.22/32"]},
            "internet": {"hosts": list(extra_hosts)},
            "vnets": [], "network_security_groups": [], "nat_gateways": [],
            "route_tables": [], "firewalls": [], "load_balancers": [], "vms": [],
        }

    def id(self, kind, name):
        return "%s/Microsoft.Network/%s/%s" % (self.RG, kind, name)

    def vnet(self, name, prefixes, subnets, **extra):
        vid = self.id("virtualNetworks", name)
        subs = []
        for s in subnets:
            s = dict(s)
            s["id"] = vid + "/subnets/" + s.pop("name")
            subs.append(s)
        self.d["vnets"].append(dict({"id": vid, "address_prefixes": prefixes, "subnets": subs},
                                    **extra))
        return vid

    def subnet_id(self, vnet, name):
        return self.id("virtualNetworks", vnet) + "/subnets/" + name

    def nsg(self, name, rules):
        nid = self.id("networkSecurityGroups", name)
        self.d["network_security_groups"].append({"id": nid, "rules": rules})
        return nid

    def databricks_nsg(self, name, scc=True):
        """The rules network-compat.md §3 lists for VNet injection."""
        r = [rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-inbound",
                  100, "Inbound", "*", "VirtualNetwork", "VirtualNetwork", "*")]
        if not scc:
            r += [rule("Microsoft.Databricks-workspaces_UseOnly_databricks-control-plane-to-"
                       "worker-ssh", 101, "Inbound", "Tcp", "AzureDatabricks", "VirtualNetwork",
                       "22"),
                  rule("Microsoft.Databricks-workspaces_UseOnly_databricks-control-plane-to-"
                       "worker-proxy", 102, "Inbound", "Tcp", "AzureDatabricks", "VirtualNetwork",
                       "5557")]
        r += [rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-databricks-"
                   "webapp", 100, "Outbound", "Tcp", "VirtualNetwork", "AzureDatabricks",
                   ["443", "3306", "8443-8451"]),
              rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-sql", 101,
                   "Outbound", "Tcp", "VirtualNetwork", "Sql", "3306"),
              rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-storage", 102,
                   "Outbound", "Tcp", "VirtualNetwork", "Storage", "443"),
              rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-outbound",
                   103, "Outbound", "*", "VirtualNetwork", "VirtualNetwork", "*"),
              rule("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-eventhub", 104,
                   "Outbound", "Tcp", "VirtualNetwork", "EventHub", "9093")]
        return self.nsg(name, r)

    def nat(self, name, ips, idle=4):
        gid = self.id("natGateways", name)
        self.d["nat_gateways"].append({"id": gid, "public_ips": ips, "idle_timeout_minutes": idle})
        return gid

    def route_table(self, name, routes):
        rid = self.id("routeTables", name)
        self.d["route_tables"].append({"id": rid, "routes": routes})
        return rid

    def firewall(self, name, subnet, private_ip, public_ip, net=(), app=()):
        fid = self.id("azureFirewalls", name)
        self.d["firewalls"].append({"id": fid, "subnet": subnet, "private_ip": private_ip,
                                    "public_ip": public_ip,
                                    "network_rule_collections": list(net),
                                    "application_rule_collections": list(app)})
        return fid

    def lb(self, name, frontend, ports, vms):
        lid = self.id("loadBalancers", name)
        self.d["load_balancers"].append({"id": lid, "frontend_ips": [frontend], "outbound_rules": [
            {"name": "out", "allocated_outbound_ports": ports, "idle_timeout_minutes": 4,
             "backend_vms": list(vms)}]})
        return lid

    def vm(self, name, subnet, private_ip, token, public_ip=None, mode="scc"):
        vid = "/subscriptions/s/resourceGroups/mrg/providers/Microsoft.Compute/virtualMachines/" \
              + name
        self.d["vms"].append({"id": vid, "subnet": subnet, "private_ip": private_ip,
                              "public_ip": public_ip, "mode": mode,
                              "agent": {"join_token": token,
                                        "relay": "%s:443" % self.plan.relay,
                                        "legacy_listen_port": 5557}})
        return vid

    def drop_vm(self, vid):
        self.d["vms"] = [v for v in self.d["vms"] if v["id"] != vid]


def rule(name, prio, direction, proto, src, dst, dports, access="Allow"):
    as_list = (lambda v: v if isinstance(v, list) else [v])
    return {"name": name, "priority": prio, "direction": direction, "access": access,
            "protocol": proto, "source": as_list(src), "source_ports": ["*"],
            "destination": as_list(dst), "destination_ports": as_list(dports)}


# A TCP server that answers every connection with the peer address it saw,
# then echoes; run inside a namespace with `python3 -c`.
ECHO_SERVER = r"""
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(256)
print("listening", flush=True)
def serve(c, a):
    try:
        c.sendall(("peer %s:%d\n" % a).encode())
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
    except OSError: pass
    finally: c.close()
while True:
    c, a = s.accept()
    threading.Thread(target=serve, args=(c, a), daemon=True).start()
"""

# Connect from inside a namespace; print "ok PEER" or "fail ERROR".
CLIENT = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print("ok", s.recv(200).decode().strip())
except OSError as e:
    print("fail", e)
"""


class ProvTest(SccTest):
    """A test with its own prefix, provider state, sccd and cleanup."""

    def setUp(self):
        super().setUp()
        self.prefix = "scct%d" % os.getpid()
        self.state = self.path("prov")
        self.plan = Plan(os.getpid())
        self.doc = Doc(self.plan)
        self.ns_procs = []

    def tearDown(self):
        # Before the base class removes the directory that holds our state
        # (pid files are how teardown finds the agents).
        try:
            self._cleanup()
        finally:
            super().tearDown()

    def _keep_logs(self):
        """Agent and proxy logs live in the state dir, which teardown
        removes; copy them next to the test's other logs first."""
        for sub, name in (("vm", "agent.log"), ("fw", "fwproxy.log")):
            top = os.path.join(self.state, sub)
            for h in (os.listdir(top) if os.path.isdir(top) else []):
                src = os.path.join(top, h, name)
                if os.path.exists(src):
                    shutil.copy(src, self.path("%s-%s-%s" % (sub, h, name)))

    def _cleanup(self):
        for p in reversed(self.ns_procs):
            p.kill()
        self._keep_logs()
        r = self.prov("teardown", check=False)
        left = self.leftovers()
        if left:
            # A second attempt, so the next test starts clean even here.
            self.prov("teardown", check=False)
            self.fail("teardown left %s (teardown said: %s)" % (left, r.stderr))

    # ---- the provider ----

    def prov(self, cmd, *args, check=True, doc=None, timeout=120):
        argv = [PROV, cmd]
        if doc is not None:
            path = self.path("doc-%d.json" % time.monotonic_ns())
            with open(path, "w") as f:
                json.dump(doc, f, indent=1)
            argv.append(path)
        argv += ["--prefix", self.prefix, "--state-dir", self.state, "--agent", AGENT,
                 "--provider", PROVIDER] + list(args)
        if getattr(self, "ca", None):
            argv += ["--ca", self.ca]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("scc-prov %s failed (%d): %s\n%s" % (
                cmd, r.returncode, r.stderr, r.stdout[-4000:]))
        return r

    def apply(self, check=True, knobs=False):
        r = self.prov("apply", *(["--test-knobs"] if knobs else []), check=check,
                      doc=self.doc.d)
        try:
            r.status = json.loads(r.stdout) if r.stdout.strip() else {}
        except ValueError:
            r.status = {}
        return r

    def status(self):
        return json.loads(self.prov("status").stdout)

    def leftovers(self):
        """Namespaces, host links and nft tables of this run still there."""
        if PROVIDER != "netns":
            return []
        left = []
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        left += [l.split()[0] for l in ns.splitlines() if l.startswith(self.prefix + "-")]
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        left += [l.split(":")[1].strip().split("@")[0] for l in links.splitlines()
                 if l.split(":")[1].strip().startswith(self.prefix + "-")]
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        left += [t for t in tables.splitlines() if self.prefix + "_" in t]
        return left

    # ---- namespaces ----

    def ns_of(self, status, rid):
        return status[rid]["namespace"]

    def inet(self):
        return "%s-inet" % self.prefix

    def nsrun(self, ns, argv, timeout=60, check=False):
        full = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                              check=check)

    def nsstart(self, ns, name, argv):
        """A process inside namespace ns, killed at cleanup."""
        full = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        p = self.start(name, full)
        self.ns_procs.append(p)
        return p

    def echo_server(self, ns, ip, port, name="echo"):
        p = self.nsstart(ns, name, [sys.executable, "-c", ECHO_SERVER, ip, str(port)])
        p.wait_log("listening", 10)
        return p

    def connect(self, ns, ip, port, timeout=3.0):
        """From inside ns: (True, "peer A:P") or (False, error)."""
        r = self.nsrun(ns, [sys.executable, "-c", CLIENT, ip, str(port), str(timeout)],
                       timeout=timeout + 30)
        out = r.stdout.strip()
        return out.startswith("ok"), out[3:] if out.startswith("ok") else out + r.stderr

    # ---- the control plane ----

    def start_sccd(self):
        """sccd with its relay on loopback and, for the netns provider, on the
        relay's public IP too (which exists once the topology is applied)."""
        extra = ["--relay-listen", "%s:443" % self.plan.relay] if PROVIDER == "netns" else []
        d = self.sccd(extra=extra)
        self.ca = d.endpoints["ca"]
        if PROVIDER != "netns":
            self.doc.d["control_plane"]["relay"]["local"] = d.endpoints["relay"]
        return d

    def tokens(self, sccd, n, ws="ws1", cluster="c1"):
        return [self.token(sccd, ws=ws, cluster=cluster, node="n%d" % i) for i in range(n)]

    def wait_node(self, sccd, node, timeout=15):
        def look():
            for n in self.nodes(sccd):
                if n.get("node") == node or n.get("identity", "").endswith(node):
                    return n
            return None
        return wait_for(look, timeout, what="node %s connected" % node)

    def node_names(self, sccd):
        return [n.get("identity") or n.get("node") for n in self.nodes(sccd)]
