"""VMs and networks made real by sccd itself (issue #4): the control plane
builds the provider's document from its resources and applies it.

Everything here goes through sccd's API and sccctl, with real namespaces,
nftables, agents and TLS.  As root the provider is netns; with
SCC_PROVIDER=process (or as a normal user) the cases that probe isolation
skip with the reason.  Each test runs its own sccd with a prefix and public
addresses of its own (not test_provider.py's), stops it with
--provider-cleanup and fails if any namespace, link, nft table, host route
or agent of the prefix survives; a fallback `scc-prov teardown` removes
them even then.

Run: cd tests/integration && SCC_BUILD=/path/to/build python3 -m unittest -v test_compute
"""
import atexit
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from provlib import PROVIDER, NOT_ISOLATED, ProvTest, needs_isolation, tool  # noqa: E402
from scc import SCCD, free_port, wait_for  # noqa: E402
from test_arm_lib import Api  # noqa: E402

V_DBX, V_NET, V_RES, V_VM = "2023-02-01", "2024-07-01", "2025-03-01", "2024-07-01"


def _slot():
    """A number 0-24 no other test process on this host holds: its simulated
    public addresses are the host's, so two suites run side by side (ctest
    -j) must not share them.  The lock lasts as long as the process."""
    for i in range(25):
        k = (os.getpid() + i) % 25
        f = open("/tmp/scc-it-slot-%d.lock" % k, "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        atexit.register(f.close)  # the lock goes with the process
        return k
    raise RuntimeError("25 test processes hold every address slot")


K = _slot()
API_IP, RELAY_IP = "198.51.100.%d" % (140 + 2 * K), "198.51.100.%d" % (141 + 2 * K)
PUBLIC_RANGE = "203.0.113.240-203.0.113.254"  # test_provider.py's plans stay below .240
STANDIN = "198.51.100.21"  # the Storage stand-in: every document lists it as an internet host
DBX = "Microsoft.Databricks/workspaces"


def guard_metric(prefix):
    """The metric of the provider's unreachable host routes (ctl_np_guard_metric)."""
    h = 2166136261
    for b in prefix.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return 3000 + h % 20000


class ComputeTest(ProvTest):
    """A test with its own sccd (--provider), resource group and cleanup."""

    def setUp(self):
        super().setUp()
        self.prefix = "sccc%d" % os.getpid()
        self.d = None

    # ---- sccd ----

    def boot_sccd(self, extra=(), name="sccd", relay_port=0):
        flags = ["--provider", PROVIDER, "--provider-prefix", self.prefix, "--public-api-ip",
                 API_IP, "--public-relay-ip", RELAY_IP, "--public-ip-range", PUBLIC_RANGE,
                 "--lro-delay", "0", "--lro-retry-after", "0", "--provider-cleanup"]
        if self.d is not None:
            self.api.close()
        self.d = self.sccd(name=name, extra=flags + list(extra), relay_port=relay_port)
        self.ca = self.d.endpoints["ca"]
        self.state = os.path.join(self.d.data, "provider")
        self.api = Api(self.d)
        with open(os.path.join(self.d.data, "subscription")) as f:
            self.sub = f.read().strip()
        return self.d

    def _cleanup(self):
        for p in reversed(self.ns_procs):
            p.kill()
        if self.d is None:
            return
        self._keep_logs()
        self.api.close()
        self.d.stop()  # SIGTERM: --provider-cleanup removes everything
        left = self.leftovers() + self.host_leftovers()
        if left:
            self.prov("teardown", check=False)  # so the next test starts clean
            self.fail("sccd's cleanup left %s" % left)

    def host_leftovers(self):
        left = []
        if PROVIDER == "netns":
            routes = subprocess.run(["ip", "route", "show", "type", "unreachable"],
                                    capture_output=True, text=True).stdout
            left += [r for r in routes.splitlines()
                     if "metric %d" % guard_metric(self.prefix) in r]
            rules = subprocess.run(["ip", "rule"], capture_output=True, text=True).stdout
            left += [r for r in rules.splitlines()
                     if "lookup %d" % guard_metric(self.prefix) in r]
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        left += [l for l in ps.splitlines() if "scc-agent" in l and self.d.data in l]
        return left

    # ---- the API ----

    def call(self, method, path, body=None, version=V_DBX, expect=None):
        r = self.api.call(method, path.replace("SUB", self.sub), body, version=version)
        if expect is not None:
            self.assertEqual(r.status, expect, r)
        return r

    def rg_id(self, rg="rg1"):
        return "/subscriptions/%s/resourceGroups/%s" % (self.sub, rg)

    def net_id(self, typ, name, rg="rg1"):
        return "%s/providers/Microsoft.Network/%s/%s" % (self.rg_id(rg), typ, name)

    def ws_id(self, ws="ws1", rg="rg1"):
        return "%s/providers/%s/%s" % (self.rg_id(rg), DBX, ws)

    def net(self, typ, name, props, **extra):
        body = dict({"location": "eastus", "properties": props}, **extra)
        r = self.call("PUT", self.net_id(typ, name), body, V_NET)
        self.assertIn(r.status, (200, 201), r)
        return r.json

    def setup_group(self):
        self.call("POST", "/subscriptions/SUB/providers/Microsoft.ManagedIdentity/register",
                  version=V_RES, expect=200)
        self.call("PUT", self.rg_id(), {"location": "eastus"}, V_RES)

    def workspace(self, scc=True, ws="ws1", **params):
        p = {"enableNoPublicIp": {"value": scc}}
        p.update({k: {"value": v} for k, v in params.items()})
        r = self.call("PUT", self.ws_id(ws), {"location": "eastus", "sku": {"name": "premium"},
                                               "properties": {"parameters": p}})
        self.assertIn(r.status, (200, 201), r)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        self.ws = self.call("GET", self.ws_id(ws), expect=200).json
        return self.ws

    def injected(self, nat=True, rt=None, extra_subnets=()):
        """A customer VNet with the two delegated /26 subnets Databricks needs,
        an NSG, and a NAT gateway (or not) and route table (or not) on both."""
        self.net("networkSecurityGroups", "nsg", {})
        props = {"networkSecurityGroup": {"id": self.net_id("networkSecurityGroups", "nsg")},
                 "delegations": [{"name": "dbx", "properties": {
                     "serviceName": "Microsoft.Databricks/workspaces"}}]}
        if nat:
            nat_ip = self.public_ip("nat-ip")
            self.net("natGateways", "nat", {"publicIpAddresses": [{"id": nat_ip}]},
                     sku={"name": "Standard"})
            props["natGateway"] = {"id": self.net_id("natGateways", "nat")}
        if rt:
            props["routeTable"] = {"id": rt}
        subnets = [{"name": n, "properties": dict(props, addressPrefix=p)}
                   for n, p in (("public", "10.179.0.0/26"), ("private", "10.179.0.64/26"))]
        self.net("virtualNetworks", "vnet", {"addressSpace": {"addressPrefixes": ["10.179.0.0/16"]},
                                             "subnets": subnets + list(extra_subnets)})
        return {"customVirtualNetworkId": self.net_id("virtualNetworks", "vnet"),
                "customPublicSubnetName": "public", "customPrivateSubnetName": "private"}

    def public_ip(self, name):
        """A Standard static public IP resource; its id."""
        self.net("publicIPAddresses", name, {"publicIPAllocationMethod": "Static"},
                 sku={"name": "Standard"})
        return self.net_id("publicIPAddresses", name)

    def ip_of(self, pip_id):
        return self.call("GET", pip_id, version=V_NET, expect=200).json["properties"]["ipAddress"]

    # ---- nodes ----

    def create_nodes(self, count=1, ws="ws1", expect="Succeeded", **body):
        body["count"] = count
        r = self.call("POST", self.ws_id(ws) + "/createNodes", body, expect=202)
        self.assertIn("azure-asyncoperation", r.headers)
        st = self.api.wait(r, timeout=60)
        self.assertEqual(st.json["status"], expect, st.json)
        self.op = st.json
        return [v["id"] for v in r.json["value"]]

    def vm(self, vm_id):
        return self.call("GET", vm_id, version=V_VM, expect=200).json

    def host_nic(self, vm_id):
        return self.call("GET", self.vm(vm_id)["properties"]["networkProfile"]["networkInterfaces"]
                         [1]["id"], version=V_NET, expect=200).json

    def node_of(self, vm_id):
        return self.vm(vm_id)["tags"]["scc-node"]

    def pstatus(self):
        r = self.sccctl(self.d, "--output", "json", "provider", "status")
        return json.loads(r.stdout)["resources"]

    def wait_connected(self, vm_id, timeout=20):
        node = self.node_of(vm_id)
        return wait_for(lambda: next((n for n in self.nodes(self.d) if n["name"] == node), None),
                        timeout, what="node %s connected" % node)


class TestNatGateway(ComputeTest):

    def test_node_reaches_relay_through_nat_gateway_and_runs_commands(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)  # managed VNet: the RP adds a NAT gateway
        t0 = time.monotonic()
        vm_id = self.create_nodes()[0]
        node = self.wait_connected(vm_id)
        booted = time.monotonic() - t0
        vm = self.vm(vm_id)
        self.assertEqual(vm["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(vm["properties"]["osProfile"]["computerName"], vm["name"])
        self.assertRegex(vm["name"], "^[0-9a-f]{32}$")
        # The seed's check: the VM's NICs have no public IP address.
        nic = self.host_nic(vm_id)
        self.assertNotIn("publicIPAddress", nic["properties"]["ipConfigurations"][0]["properties"])
        self.assertEqual(nic["properties"]["virtualMachine"]["id"], vm_id)
        # A command runs through the tunnel, on the node.
        r = self.sccctl(self.d, "exec", node["name"], "--", "ip", "-4", "-o", "addr")
        private = nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
        if PROVIDER != "netns":
            self.skipTest(NOT_ISOLATED + ": no NAT gateway between the node and the relay")
        self.assertIn(private + "/18", r.stdout.decode())
        self.assertNotRegex(r.stdout.decode(), r"203\.0\.113\.|198\.51\.100\.")
        # The relay sees the NAT gateway's public IP as the node's address.
        mrg = self.ws["properties"]["managedResourceGroupId"]
        nat_ip = self.ip_of(mrg + "/providers/Microsoft.Network/publicIPAddresses/nat-gw-public-ip")
        self.assertTrue(node["remote_address"].startswith(nat_ip + ":"), (node, nat_ip))
        self.assertIn(nat_ip, self.sccctl(self.d, "nodes").stdout.decode())
        st = self.pstatus()[vm_id]
        self.assertEqual((st["egress"], st["egress_ip"]), ("nat_gateway", nat_ip))
        self.assertLess(booted, 10, "boot to connected took %.1fs" % booted)

    @needs_isolation
    def test_api_and_relay_answer_on_their_public_addresses(self):
        self.boot_sccd()
        ep = self.d.endpoints
        self.assertEqual((ep["public_api"], ep["public_relay"]),
                         ("%s:443" % API_IP, "%s:443" % RELAY_IP))
        code = r"""
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
ctx.set_alpn_protocols([sys.argv[4]])
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5),
                    server_hostname=sys.argv[1])
print("ok", s.version(), s.getpeername()[0])
"""
        # From the simulated internet, with the address checked against the
        # server certificate's SANs.
        for ip, alpn in ((API_IP, "http/1.1"), (RELAY_IP, "scc-tunnel/1")):
            r = self.nsrun(self.inet(), [sys.executable, "-c", code, ip, "443", self.ca, alpn])
            self.assertIn("ok TLSv1.3 " + ip, r.stdout, r.stderr)


class TestFirewall(ComputeTest):

    def fw_rules(self, extra=()):
        rules = [{"name": "relay", "protocols": ["TCP"], "sourceAddresses": ["10.179.0.0/16"],
                  "destinationAddresses": ["AzureDatabricks"], "destinationPorts": ["443"]}]
        return [{"name": "adb", "properties": {"priority": 100, "action": {"type": "Allow"},
                                               "rules": rules + list(extra)}}]

    def firewall(self, extra=()):
        self.net("azureFirewalls", "fw", {
            "ipConfigurations": [{"name": "c", "properties": {
                "subnet": {"id": self.net_id("virtualNetworks", "vnet")
                           + "/subnets/AzureFirewallSubnet"},
                "publicIPAddress": {"id": self.net_id("publicIPAddresses", "fw-ip")}}}],
            "networkRuleCollections": self.fw_rules(extra)})

    @needs_isolation
    def test_firewall_blocks_without_a_rule_and_allows_with_one(self):
        self.boot_sccd()
        self.setup_group()
        self.public_ip("fw-ip")
        self.net("routeTables", "to-fw", {"routes": [{"name": "default", "properties": {
            "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.179.1.4"}}]})
        fw_subnet = {"name": "AzureFirewallSubnet",
                     "properties": {"addressPrefix": "10.179.1.0/26"}}
        params = self.injected(nat=False, rt=self.net_id("routeTables", "to-fw"),
                               extra_subnets=[fw_subnet])
        self.firewall()
        self.workspace(scc=True, **params)
        vm_id = self.create_nodes()[0]
        node = self.wait_connected(vm_id)
        fw_ip = self.ip_of(self.net_id("publicIPAddresses", "fw-ip"))
        self.assertTrue(node["remote_address"].startswith(fw_ip + ":"), (node, fw_ip))
        ns = self.pstatus()[vm_id]["namespace"]
        self.echo_server(self.inet(), STANDIN, 8080)
        ok, why = self.connect(ns, STANDIN, 8080, timeout=2)
        self.assertFalse(ok, why)
        fw_id = self.net_id("azureFirewalls", "fw")
        self.assertGreater(self.pstatus()[fw_id]["counters"]["denied"], 0)
        # An allow rule, through the API: the node gets out, as the firewall.
        self.firewall([{"name": "standin", "protocols": ["TCP"], "sourceAddresses": ["*"],
                        "destinationAddresses": [STANDIN], "destinationPorts": ["8080"]}])
        ok, peer = wait_for(lambda: (lambda r: r if r[0] else None)(
            self.connect(ns, STANDIN, 8080, timeout=2)), 15, what="the allow rule applied")
        self.assertIn(fw_ip, peer)
        # The tunnel survived the change.
        self.assertEqual(self.wait_connected(vm_id)["connected_since"], node["connected_since"])


class TestIsolation(ComputeTest):

    @needs_isolation
    def test_internet_finds_no_open_port_and_no_public_ip_on_scc_nodes(self):
        nmap = tool("nmap")
        if nmap is None:
            self.skipTest("nmap is not installed (scripts/setup.sh --test installs it)")
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        vms = self.create_nodes(count=2)
        for v in vms:
            self.wait_connected(v)
        mrg = self.ws["properties"]["managedResourceGroupId"]
        nat_ip = self.ip_of(mrg + "/providers/Microsoft.Network/publicIPAddresses/nat-gw-public-ip")
        # Host discovery over our public range: only the NAT gateway answers.
        r = self.nsrun(self.inet(), [nmap, "-n", "-sn", "-oG", "-", PUBLIC_RANGE.replace(
            "-203.0.113.", "-")], timeout=120)
        self.assertEqual(set(re.findall(r"Host: (\S+) .*Status: Up", r.stdout)), {nat_ip},
                         r.stdout)
        # No open port on anything public, nor on the nodes' private addresses.
        private = [self.host_nic(v)["properties"]["ipConfigurations"][0]["properties"]
                   ["privateIPAddress"] for v in vms]
        r = self.nsrun(self.inet(), [nmap, "-n", "-Pn", "-sT", "-T5", "--max-retries", "1",
                                     "-p", "1-1024,5557,8443-8451", "-oG", "-", nat_ip] + private,
                       timeout=300)
        self.assertNotIn("/open/", r.stdout, r.stdout)
        for v in vms:
            for nic in self.vm(v)["properties"]["networkProfile"]["networkInterfaces"]:
                props = self.call("GET", nic["id"], version=V_NET).json["properties"]
                self.assertNotIn("publicIPAddress", props["ipConfigurations"][0]["properties"])
            ns = self.pstatus()[v]["namespace"]
            addrs = self.nsrun(ns, ["ip", "-4", "-o", "addr"]).stdout
            self.assertNotRegex(addrs, r"198\.51\.100\.|203\.0\.113\.")
            self.assertEqual(self.nsrun(ns, ["ss", "-ltnH"]).stdout.strip(), "")


class TestLegacy(ComputeTest):

    def test_legacy_node_is_dialled_on_its_public_ip_allowed_only_from_the_control_plane(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=False, **self.injected(nat=False))
        vm_id = self.create_nodes()[0]
        ipc = self.host_nic(vm_id)["properties"]["ipConfigurations"][0]["properties"]
        pip = self.ip_of(ipc["publicIPAddress"]["id"])  # legacy mode: a public IP
        self.assertTrue(ipc["publicIPAddress"]["id"].endswith(self.vm(vm_id)["name"] + "-publicIP"))
        node = self.wait_connected(vm_id)
        self.assertIn("ok", self.sccctl(self.d, "exec", node["name"], "--", "echo", "ok")
                      .stdout.decode())
        if PROVIDER != "netns":
            self.skipTest(NOT_ISOLATED + ": the process provider runs legacy nodes in SCC mode")
        # The relay dialled in: the node's address is its management port.
        self.assertEqual(node["remote_address"], "%s:5557" % pip)
        ns = self.pstatus()[vm_id]["namespace"]
        self.assertIn(":5557", self.nsrun(ns, ["ss", "-ltnH"]).stdout)
        # Anyone else on the internet: filtered by the NSG (AzureDatabricks only).
        ok, why = self.connect(self.inet(), pip, 5557, timeout=2)
        self.assertFalse(ok, why)
        self.assertIn("timed out", why)


class TestNoOutbound(ComputeTest):

    def test_subnet_without_outbound_method_gives_a_clear_error(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True, **self.injected(nat=False))
        vm_id = self.create_nodes(expect="Failed")[0]
        self.assertEqual(self.op["error"]["code"], "NoOutboundConnectivity")
        for text in (self.op["error"]["message"], self.vm(vm_id)["properties"]["instanceView"]
                     ["statuses"][0]["message"]):
            self.assertIn("/subnets/public", text)
            self.assertIn("no NAT gateway", text)
            self.assertIn("cannot reach the relay", text)
        self.assertEqual(self.vm(vm_id)["properties"]["provisioningState"], "Failed")
        wait_for(lambda: "node VM %s failed" % self.vm(vm_id)["name"] in self.d.text(), 5,
                 what="the failure in sccd's log")
        if PROVIDER != "netns":
            self.skipTest(NOT_ISOLATED + ": the node connects anyway")
        time.sleep(2)
        self.assertEqual(self.nodes(self.d), [])


class TestLoadBalancer(ComputeTest):

    @needs_isolation
    def test_snat_port_exhaustion_behind_a_load_balancer(self):
        self.boot_sccd()
        self.setup_group()
        lb = self.net_id("loadBalancers", "lb")
        self.net("loadBalancers", "lb", {
            "frontendIPConfigurations": [{"name": "fe", "properties": {
                "publicIPAddress": {"id": self.public_ip("lb-ip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "outboundRules": [{"name": "out", "properties": {
                "frontendIPConfigurations": [{"id": lb + "/frontendIPConfigurations/fe"}],
                "backendAddressPool": {"id": lb + "/backendAddressPools/pool"},
                "allocatedOutboundPorts": 8, "protocol": "All"}}]}, sku={"name": "Standard"})
        self.workspace(scc=True, loadBalancerId=lb, loadBalancerBackendPoolName="pool",
                       **self.injected(nat=False))
        vm_id = self.create_nodes()[0]
        node = self.wait_connected(vm_id)
        frontend = self.ip_of(self.net_id("publicIPAddresses", "lb-ip"))
        self.assertTrue(node["remote_address"].startswith(frontend + ":"), node)
        st = self.pstatus()[vm_id]
        self.assertEqual(st["egress"], "load_balancer")
        self.echo_server(self.inet(), STANDIN, 7200)
        # Eleven connections held open at once to one destination: the
        # node's 8 SNAT ports carry 8 of them, the rest find no port.
        code = ("import json, socket, sys\n"
                "out, keep = [], []\n"
                "for _ in range(11):\n"
                "    try:\n"
                "        keep.append(socket.create_connection((sys.argv[1], 7200), timeout=2))\n"
                "        out.append(keep[-1].recv(100).decode().strip())\n"
                "    except OSError as e:\n"
                "        out.append('failed %s' % e)\n"
                "print(json.dumps(out))\n")
        r = self.nsrun(st["namespace"], [sys.executable, "-c", code, STANDIN], timeout=60)
        got = json.loads(r.stdout)
        peers = [g for g in got if g.startswith("peer %s:" % frontend)]
        self.assertEqual((len(peers), len(got) - len(peers)), (8, 3), got)
        counters = self.pstatus()[lb]["counters"]
        self.assertGreater(counters["exhausted_" + st["namespace"].rsplit("-", 1)[1]], 0, counters)


class TestLifecycle(ComputeTest):

    def agents(self):
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        return [l for l in ps.splitlines() if l.startswith(os.path.realpath(
            os.path.dirname(SCCD) + "/../agent/scc-agent")) and self.d.data in l]

    def test_kill_9_and_restart_converges_without_duplicates(self):
        # One relay port across the restart: the process provider's agents
        # dial it, and a new port would (rightly) restart them.
        port = free_port("127.0.0.2")
        self.boot_sccd(relay_port=port)
        self.setup_group()
        self.workspace(scc=True)
        vms = self.create_nodes(count=2)
        for v in vms:
            self.wait_connected(v)
        before = sorted(self.pstatus()[v].get("namespace") or self.pstatus()[v]["pid"] for v in vms)
        self.assertEqual(len(self.agents()), 2, self.agents())
        os.killpg(self.d.pid, signal.SIGKILL)
        self.d.p.wait()
        self.boot_sccd(name="sccd2", relay_port=port)  # same data dir: adopts what runs
        for v in vms:
            self.wait_connected(v, timeout=30)
        names = [n["name"] for n in self.nodes(self.d)]
        self.assertEqual(sorted(names), sorted(set(names)))
        self.assertEqual(len(names), 2, names)
        self.assertEqual(len(self.agents()), 2, self.agents())
        after = sorted(self.pstatus()[v].get("namespace") or self.pstatus()[v]["pid"] for v in vms)
        self.assertEqual(before, after)
        if PROVIDER == "netns":
            ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
            self.assertEqual(len(re.findall(r"^%s-vm-" % self.prefix, ns, re.M)), 2, ns)
        # And it goes on working: one more node.
        self.wait_connected(self.create_nodes()[0])

    def test_delete_nodes_and_workspace_remove_what_they_made(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        a, b = self.create_nodes(count=2, clusterName="c1")
        self.wait_connected(a)
        node_b = self.node_of(b)
        self.assertTrue(node_b.startswith("ws1/c1/"), node_b)
        ns_b = self.pstatus()[b].get("namespace")
        r = self.call("POST", self.ws_id() + "/deleteNodes", {"nodes": [self.vm(b)["name"]]},
                      expect=202)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        self.assertEqual(self.call("GET", b, version=V_VM).status, 404)
        nic = b.replace("Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces")
        self.assertEqual(self.call("GET", nic + "-publicNIC", version=V_NET).status, 404)
        wait_for(lambda: node_b not in [n["name"] for n in self.nodes(self.d)], 10,
                 what="the deleted node's tunnel gone")
        if ns_b:
            self.assertNotIn(ns_b, subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                  text=True).stdout)
        # Deleting the workspace takes its managed group, VMs and network.
        r = self.call("DELETE", self.ws_id(), expect=202)
        self.assertEqual(self.api.wait(r).status, 204)
        self.assertEqual(self.agents(), [])
        if PROVIDER == "netns":
            # The delete ended only when the provider's round had removed
            # the workspace's namespaces: only the internet stays.
            def ours():
                ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
                return re.findall(r"^%s-\S+" % self.prefix, ns, re.M)
            self.assertEqual(ours(), ["%s-inet" % self.prefix])

    def test_node_operation_ends_when_sccd_comes_back_without_a_provider(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        r = self.call("POST", self.ws_id() + "/createNodes", {"count": 20}, expect=202)
        os.killpg(self.d.pid, signal.SIGKILL)  # before the round that boots them ends
        self.d.p.wait()
        self.api.close()
        bare = self.sccd(name="sccd-none", extra=["--lro-delay", "0", "--lro-retry-after", "0"])
        api = Api(bare)
        try:
            st = api.wait(r, timeout=30).json
        finally:
            api.close()
        self.assertEqual((st["status"], st["error"]["code"]), ("Failed", "ProviderNotConfigured"), st)
        self.assertIn("without a provider", st["error"]["message"])
        api = Api(bare)
        try:
            for v in r.json["value"]:  # and no VM stays Creating
                vm = api.call("GET", v["id"], version=V_VM).json["properties"]
                self.assertEqual(vm["provisioningState"], "Failed", vm)
                self.assertIn("without a provider", vm["instanceView"]["statuses"][0]["message"])
        finally:
            api.close()
        bare.stop()
        # With a provider again, the VMs boot after all (and --provider-cleanup
        # removes everything at the end).
        self.boot_sccd(name="sccd-again")
        wait_for(lambda: all(self.vm(v["id"])["properties"]["provisioningState"] == "Succeeded"
                             for v in r.json["value"]), 60, what="the 20 VMs booted")

    def test_scc_upgrade_refused_while_nodes_run(self):
        self.boot_sccd()
        self.setup_group()
        params = self.injected()
        self.workspace(scc=False, **params)
        self.create_nodes()
        body = {"location": "eastus", "properties": {"parameters": {
            "enableNoPublicIp": {"value": True}}}}
        r = self.call("PUT", self.ws_id(), body, expect=200)
        st = self.api.wait(r).json
        self.assertEqual((st["status"], st["error"]["code"]), ("Failed", "WorkspaceUpdateFailed"))
        self.assertIn("1 node VM(s)", st["error"]["message"])
        self.sccctl(self.d, "node", "delete", "--workspace", "ws1", "-g", "rg1", "--all")
        r = self.call("PUT", self.ws_id(), body, expect=200)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        # New nodes come up in SCC mode: no public IP.
        vm_id = self.create_nodes()[0]
        ipc = self.host_nic(vm_id)["properties"]["ipConfigurations"][0]["properties"]
        self.assertNotIn("publicIPAddress", ipc)
        self.assertEqual(self.vm(vm_id)["tags"]["scc-mode"], "scc")

    def test_bad_requests_change_nothing(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        for body in ({"count": 0}, {"count": 101}, {"count": "2"}, {"clusterName": "a/b"}):
            r = self.call("POST", self.ws_id() + "/createNodes", body)
            self.assertEqual((r.status, r.code), (400, "InvalidParameter"), body)
        for body in ({}, {"nodes": []}, {"nodes": ["x"], "all": True}, {"nodes": [1]}):
            r = self.call("POST", self.ws_id() + "/deleteNodes", body)
            self.assertEqual((r.status, r.code), (400, "InvalidParameter"), body)
        vm_id = self.create_nodes()[0]
        r = self.call("POST", self.ws_id() + "/deleteNodes", {"nodes": [self.vm(vm_id)["name"],
                                                                        "no-such-node"]})
        self.assertEqual((r.status, r.code), (404, "NodeNotFound"))
        self.assertEqual(self.vm(vm_id)["properties"]["provisioningState"], "Succeeded")
        r = self.call("GET", self.ws_id("nope") + "/createNodes")
        self.assertEqual(r.status, 405)
        r = self.call("POST", self.ws_id("nope") + "/createNodes", {})
        self.assertEqual((r.status, r.code), (404, "ResourceNotFound"))
        # The managed group is the platform's: users read VMs, never write them.
        r = self.call("DELETE", vm_id, version=V_VM)
        self.assertEqual((r.status, r.code), (403, "DenyAssignmentAuthorizationFailed"))
        # A resource the provider cannot take (a VNet in public space) fails
        # alone: it reads Failed, the log says why, and the rest goes on.
        self.net("virtualNetworks", "odd", {"addressSpace": {"addressPrefixes": ["20.1.0.0/16"]},
                                            "subnets": [{"name": "s", "properties": {
                                                "addressPrefix": "20.1.0.0/24"}}]})
        odd = self.net_id("virtualNetworks", "odd")
        wait_for(lambda: self.call("GET", odd, version=V_NET).json["properties"]
                 ["provisioningState"] == "Failed", 10, what="the odd VNet Failed")
        self.assertIn("must be private", self.pstatus()[odd]["message"])
        self.wait_connected(self.create_nodes()[0])

    def test_sccctl_node_commands_and_provider_gc(self):
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        out = self.sccctl(self.d, "node", "create", "--workspace", "ws1", "-g", "rg1",
                          "--count", "2", "--cluster", "etl").stdout.decode()
        self.assertEqual(len(re.findall(r"ws1/etl/[0-9a-f]{32}\s+scc\s+Succeeded", out)), 2, out)
        listed = self.sccctl(self.d, "--output", "json", "node", "list", "--workspace", "ws1",
                             "-g", "rg1").stdout
        names = [v["name"] for v in json.loads(listed)["value"]]
        self.assertEqual(len(names), 2)
        r = self.sccctl(self.d, "node", "create", "--workspace", "ws1", "--count", "1", check=False)
        self.assertEqual(r.returncode, 2)  # -g is required
        status = self.sccctl(self.d, "provider", "status").stdout.decode()
        self.assertIn("virtualMachines/" + names[0], status)
        self.sccctl(self.d, "node", "delete", "--workspace", "ws1", "-g", "rg1", names[0])
        left = self.sccctl(self.d, "--output", "json", "node", "list", "--workspace", "ws1",
                           "-g", "rg1").stdout
        self.assertEqual([v["name"] for v in json.loads(left)["value"]], names[1:])
        if PROVIDER != "netns":
            self.skipTest(NOT_ISOLATED + ": no namespaces to collect")
        # A namespace of our prefix that nothing wants (a crashed run's): gc takes it.
        stray = "%s-vm-deadbeef" % self.prefix
        subprocess.run(["ip", "netns", "add", stray], check=True)
        try:
            out = self.sccctl(self.d, "provider", "gc").stdout.decode()
            self.assertIn("removed netns " + stray, out)
        finally:
            subprocess.run(["ip", "netns", "del", stray], capture_output=True)
        self.assertNotIn(stray, subprocess.run(["ip", "netns", "list"], capture_output=True,
                                               text=True).stdout)
        self.assertIn("nothing to remove", self.sccctl(self.d, "provider", "gc").stdout.decode())


class TestWithoutProvider(ComputeTest):

    def test_provider_none_refuses_nodes_and_touches_nothing(self):
        self.d = self.sccd(extra=["--lro-delay", "0"])
        self.api = Api(self.d)
        with open(os.path.join(self.d.data, "subscription")) as f:
            self.sub = f.read().strip()
        self.assertNotIn("provider", self.d.endpoints)
        self.call("PUT", self.rg_id(), {"location": "eastus"}, V_RES)
        self.workspace(scc=False)
        r = self.call("POST", self.ws_id() + "/createNodes", {})
        self.assertEqual((r.status, r.code), (409, "ProviderNotConfigured"))
        r = self.sccctl(self.d, "provider", "status", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--provider none", r.stderr.decode())
        # Bad provider options are refused before anything starts.
        for flags in (["--provider", "magic"],
                      ["--provider", "netns", "--public-api-ip", "10.0.0.1"],
                      ["--provider", "process", "--public-relay-ip", API_IP, "--public-api-ip",
                       API_IP], ["--public-ip-range", "203.0.113.9-203.0.113.3"],
                      ["--provider-prefix", "Bad-Prefix"]):
            r = subprocess.run([SCCD, "--data-dir", self.path("bad")] + flags,
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, (flags, r.stderr))
            self.assertIn("sccd: --", r.stderr)
        self.assertFalse(os.path.exists(self.path("bad")))


if __name__ == "__main__":
    unittest.main()
