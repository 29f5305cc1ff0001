"""The provider's connectivity matrix, with real packets (issue #4).

As root the netns provider builds real namespaces; the same suite runs
with SCC_PROVIDER=process (or as a normal user), where the cases that probe
isolation skip with the reason.  Every test cleans up after itself, also
when it fails (provlib.ProvTest), and fails if anything of its prefix is
left behind.

Run: cd tests/integration && SCC_BUILD=/path/to/build python3 -m unittest -v test_provider
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from provlib import (PROVIDER, NOT_ISOLATED, ProvTest, needs_isolation, rule,  # noqa: E402
                     tool)
from scc import wait_for  # noqa: E402

STANDIN = "198.51.100.30"  # a stand-in service on the simulated internet


class WorkspaceTest(ProvTest):
    """A VNet-injected workspace: two subnets, the Databricks NSG, and an
    outbound method chosen by the test."""

    def workspace(self, nat=True, scc=True, rt=None, vnet_extra=None):
        self.nsg = self.doc.databricks_nsg("nsg", scc=scc)
        self.nat_ip = self.plan.public() if nat else None
        self.natid = self.doc.nat("nat", [self.nat_ip]) if nat else None
        subnets = [{"name": n, "prefix": p, "network_security_group": self.nsg,
                    "nat_gateway": self.natid, "route_table": rt}
                   for n, p in (("public-subnet", "10.179.0.0/26"),
                                ("private-subnet", "10.179.0.64/26"))]
        self.doc.vnet("ws-vnet", ["10.179.0.0/16"], subnets, **(vnet_extra or {}))
        self.private = self.doc.subnet_id("ws-vnet", "private-subnet")

    def boot(self, n=1, **vm):
        """Topology first (the relay's public IP must exist before sccd binds
        it), then sccd, then the VMs with their join tokens."""
        self.apply()
        self.d = self.start_sccd()
        self.vms = [self.doc.vm("vm%d" % i, self.private, "10.179.0.%d" % (68 + i), tok, **vm)
                    for i, tok in enumerate(self.tokens(self.d, n))]
        return self.apply().status


class TestNatGateway(WorkspaceTest):

    def test_node_reaches_relay_through_nat_gateway(self):
        self.workspace()
        st = self.boot()
        vm = st[self.vms[0]]
        self.assertEqual(vm["state"], "Succeeded", vm)
        self.assertEqual(vm["isolated"], PROVIDER == "netns")
        node = self.wait_node(self.d, "n0")
        if PROVIDER != "netns":
            self.assertIn("nothing is isolated", vm["note"])
            return
        self.assertEqual(vm["egress"], "nat_gateway")
        self.assertEqual(vm["egress_ip"], self.nat_ip)
        # The relay sees the NAT gateway's public IP as the node's address.
        self.assertTrue(node["remote_address"].startswith(self.nat_ip + ":"), node)
        # Inside, the VM has only its private address.
        r = self.sccctl(self.d, "exec", "ws1/c1/n0", "--", "ip", "-4", "-o", "addr")
        self.assertIn("10.179.0.68/26", r.stdout.decode())
        self.assertNotIn("203.0.113.", r.stdout.decode())
        # And the NAT gateway's namespace really holds that IP.
        nat_ns = self.ns_of(st, self.natid)
        self.assertIn(self.nat_ip, self.nsrun(nat_ns, ["ip", "-4", "-o", "addr"]).stdout)

    @needs_isolation
    def test_nat_gateway_expires_idle_flows(self):
        """A 3 s idle timeout (test knob): an idle flow is gone afterwards,
        and the node's next segment gets a TCP reset, counted."""
        self.workspace()
        self.doc.d["test"] = {"nat_idle_timeout_seconds": 3}
        self.apply(knobs=True)
        self.d = self.start_sccd()
        vm = self.doc.vm("vm0", self.private, "10.179.0.68", self.token(self.d, node="n0"))
        st = self.apply(knobs=True).status
        self.echo_server(self.inet(), STANDIN, 7000)
        script = r"""
import socket, time
s = socket.create_connection(("%s", 7000), timeout=5)
print("first", s.recv(100).decode().strip(), flush=True)
time.sleep(6)
try:
    s.sendall(b"x"); d = s.recv(100)
    print("after", d)
except OSError as e:
    print("after-error", e)
""" % STANDIN
        r = self.nsrun(st[vm]["namespace"], [sys.executable, "-c", script], timeout=30)
        self.assertIn("first peer " + self.nat_ip, r.stdout)
        self.assertIn("after-error", r.stdout)
        self.assertRegex(r.stdout, "reset|Connection")
        counters = self.status()[self.natid]["counters"]
        self.assertGreater(counters["expired"], 0, counters)

    def test_idle_timeout_below_four_minutes_needs_the_test_knob(self):
        self.workspace()
        self.doc.d["test"] = {"nat_idle_timeout_seconds": 3}
        r = self.apply(check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("test knobs", r.stderr)


class TestNoOutbound(WorkspaceTest):

    def test_subnet_without_outbound_method_says_why(self):
        self.workspace(nat=False)
        st = self.boot()
        vm = st[self.vms[0]]
        self.assertEqual(vm["egress"], "none")
        self.assertEqual(vm["relay_egress"], "none")
        self.assertIn("private-subnet", vm["message"])
        self.assertIn("no NAT gateway", vm["message"])
        self.assertIn("cannot reach the relay", vm["message"])
        if PROVIDER != "netns":
            self.skipTest(NOT_ISOLATED + ": the node connects anyway")
        # The agent really cannot get out, and says so in its log.
        time.sleep(2)
        self.assertEqual(self.nodes(self.d), [])
        with open(vm["log"]) as f:
            self.assertRegex(f.read(), "(?i)unreachable|no route")

    @needs_isolation
    def test_default_outbound_access_when_asked(self):
        ip = self.plan.public()
        self.workspace(nat=False, vnet_extra={"default_outbound_ip": ip})
        for s in self.doc.d["vnets"][0]["subnets"]:
            s["default_outbound_access"] = True
        st = self.boot()
        self.assertEqual(st[self.vms[0]]["egress"], "default_outbound")
        node = self.wait_node(self.d, "n0")
        self.assertTrue(node["remote_address"].startswith(ip + ":"), node)


class TestIsolation(WorkspaceTest):

    @needs_isolation
    def test_internet_finds_no_open_port_and_no_public_ip_on_scc_nodes(self):
        self.workspace()
        st = self.boot(n=2)
        for i in range(2):
            self.wait_node(self.d, "n%d" % i)
        nmap = tool("nmap")
        if nmap is None:
            self.skipTest("nmap is not installed (scripts/setup.sh --test installs it)")
        # Host discovery over the public segment: only the NAT gateway (and
        # the scanner's own router address) answer; no VM has a public IP.
        r = self.nsrun(self.inet(), [nmap, "-n", "-sn", "-oG", "-", "203.0.113.0/24"],
                       timeout=120)
        up = set(re.findall(r"Host: (\S+) .*Status: Up", r.stdout))
        self.assertEqual(up - {"203.0.113.1"}, {self.nat_ip}, r.stdout)
        # A port scan of everything public and of the VMs' private IPs.
        targets = [self.nat_ip, "10.179.0.68", "10.179.0.69"]
        r = self.nsrun(self.inet(), [nmap, "-n", "-Pn", "-sT", "-T5", "--max-retries", "1",
                                     "-p", "1-1024,5557,8443-8451,15001", "-oG", "-"] + targets,
                       timeout=300)
        self.assertNotIn("/open/", r.stdout, r.stdout)
        # No VM namespace holds a public address.
        for vid in self.vms:
            addrs = self.nsrun(st[vid]["namespace"], ["ip", "-4", "-o", "addr"]).stdout
            self.assertNotRegex(addrs, r"198\.51\.100\.|203\.0\.113\.")

    @needs_isolation
    def test_host_guard_keeps_the_simulated_internet_off_the_real_network(self):
        self.workspace()
        self.apply()
        routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
        self.assertRegex(routes, r"unreachable 198\.51\.100\.0/24")
        self.assertRegex(routes, r"unreachable 203\.0\.113\.0/24")
        self.assertNotIn("10.179.", routes)  # the host never routes into a VNet
        # The host cannot reach the internet namespace's stand-in address.
        ok, why = self.connect(None, STANDIN, 443, timeout=2)
        self.assertFalse(ok)
        self.assertRegex(why, "(?i)unreachable|no route")
        # Nothing inside may use the host as a router, even with ip_forward.
        guard = subprocess.run(["nft", "list", "table", "inet", self.prefix + "_host"],
                               capture_output=True, text=True).stdout
        self.assertRegex(guard, r'iifname "%s-i" counter .* drop' % self.prefix)
        self.assertRegex(guard, r'oifname "%s-i" counter .* drop' % self.prefix)

    @needs_isolation
    def test_vms_in_one_subnet_talk_only_as_the_nsg_allows(self):
        """Same-subnet traffic is routed through the VNet router, so the NSG
        applies to it; here a Deny rule between two VMs wins over the
        worker-to-worker allow because its priority number is lower."""
        self.workspace()
        st = self.boot(n=2)
        a, b = (st[v]["namespace"] for v in self.vms)
        self.echo_server(b, "10.179.0.69", 7100, name="echo-b")
        ok, peer = self.connect(a, "10.179.0.69", 7100)
        self.assertTrue(ok, peer)
        self.assertIn("10.179.0.68", peer)
        rules = self.doc.d["network_security_groups"][0]["rules"]
        rules[0]["priority"] = 110  # worker-to-worker inbound moves behind the deny
        rules.append(rule("deny-7100", 105, "Inbound", "Tcp", "*", "*", "7100", access="Deny"))
        self.apply()
        ok, why = self.connect(a, "10.179.0.69", 7100, timeout=2)
        self.assertFalse(ok, why)


class TestFirewall(WorkspaceTest):
    """A hub VNet with an egress firewall; the workspace's subnets send
    0.0.0.0/0 to it (UDR), so only what its rules allow leaves."""

    def hub(self, net_rules, app_rules=()):
        self.fw_ip = self.plan.public()
        self.doc.vnet("hub", ["10.100.0.0/16"], [{"name": "AzureFirewallSubnet",
                                                   "prefix": "10.100.1.0/26"}])
        self.fwid = self.doc.firewall("fw", self.doc.subnet_id("hub", "AzureFirewallSubnet"),
                                      "10.100.1.4", self.fw_ip, net=net_rules, app=app_rules)
        rt = self.doc.route_table("to-fw", [{"name": "default", "prefix": "0.0.0.0/0",
                                             "next_hop_type": "VirtualAppliance",
                                             "next_hop_ip": "10.100.1.4"}])
        self.workspace(nat=False, rt=rt)

    def net_collection(self, name, prio, rules, action="Allow"):
        return {"name": name, "priority": prio, "action": action, "rules": rules}

    def relay_rule(self):
        return self.net_collection("adb-net", 100, [
            {"name": "relay", "protocols": ["TCP"], "source_addresses": ["10.179.0.0/16"],
             "destination_addresses": ["AzureDatabricks"], "destination_ports": ["443"]}])

    @needs_isolation
    def test_firewall_blocks_without_rule_and_allows_with_one(self):
        self.hub([self.relay_rule()])
        st = self.boot()
        vm = st[self.vms[0]]
        self.assertEqual(vm["egress"], "firewall")
        # The relay rule lets the tunnel out, SNATed to the firewall's IP.
        node = self.wait_node(self.d, "n0")
        self.assertTrue(node["remote_address"].startswith(self.fw_ip + ":"), node)
        # A stand-in service with no rule: blocked, and counted.
        self.echo_server(self.inet(), STANDIN, 8080)
        ok, why = self.connect(vm["namespace"], STANDIN, 8080, timeout=2)
        self.assertFalse(ok, why)
        denied = self.status()[self.fwid]["counters"]["denied"]
        self.assertGreater(denied, 0)
        # With a network rule for it: allowed, from the firewall's address.
        self.doc.d["firewalls"][0]["network_rule_collections"].append(self.net_collection(
            "standin", 200, [{"name": "standin-8080", "protocols": ["TCP"],
                              "source_addresses": ["*"], "destination_addresses": [STANDIN],
                              "destination_ports": ["8080"]}]))
        self.apply()
        ok, peer = self.connect(vm["namespace"], STANDIN, 8080)
        self.assertTrue(ok, peer)
        self.assertIn(self.fw_ip, peer)
        # The tunnel survived the rule change (the table is swapped
        # atomically; conntrack keeps established flows).
        self.assertEqual(self.wait_node(self.d, "n0")["connected_since"],
                         node["connected_since"])

    @needs_isolation
    def test_application_rules_decide_by_tls_sni_and_http_host(self):
        app = [{"name": "adb-app", "priority": 200, "action": "Allow", "rules": [
            {"name": "tls", "source_addresses": ["10.179.0.0/16"],
             "protocols": [{"type": "Https", "port": 443}],
             "target_fqdns": ["allowed.example", "*.storage.example"]},
            {"name": "web", "source_addresses": ["*"],
             "protocols": [{"type": "Http", "port": 80}], "target_fqdns": ["web.example"]}]}]
        self.hub([self.relay_rule()], app)
        st = self.boot()
        ns = st[self.vms[0]]["namespace"]
        self.tls_server(self.inet(), STANDIN, 443)
        self.http_server(self.inet(), STANDIN, 80)
        self.assertIn("handshake ok", self.tls_client(ns, "allowed.example"))
        self.assertIn("handshake ok", self.tls_client(ns, "blob.storage.example"))
        self.assertNotIn("handshake ok", self.tls_client(ns, "blocked.example"))
        self.assertIn("200", self.http_client(ns, "web.example"))
        self.assertIn("470", self.http_client(ns, "other.example"))
        st = wait_for(lambda: (lambda s: s if s.get("application_rules", {}).get("denied", 0) >= 2
                               else None)(self.status()[self.fwid]), 5, what="proxy stats")
        self.assertEqual(st["application_rules"]["allowed"], 3, st)

    @needs_isolation
    def test_udrs_send_the_relay_direct_and_the_rest_to_the_firewall(self):
        """Databricks' UDR pattern (network-compat.md §5.2): 0.0.0.0/0 to the
        firewall, the AzureDatabricks tag to Internet (so the relay goes
        out through the NAT gateway), and a None route that drops."""
        self.fw_ip = self.plan.public()
        self.doc.vnet("hub", ["10.100.0.0/16"], [{"name": "AzureFirewallSubnet",
                                                   "prefix": "10.100.1.0/26"}])
        self.fwid = self.doc.firewall("fw", self.doc.subnet_id("hub", "AzureFirewallSubnet"),
                                      "10.100.1.4", self.fw_ip)  # no rules: denies all
        rt = self.doc.route_table("udr", [
            {"name": "default", "prefix": "0.0.0.0/0", "next_hop_type": "VirtualAppliance",
             "next_hop_ip": "10.100.1.4"},
            {"name": "adb", "prefix": "AzureDatabricks", "next_hop_type": "Internet"},
            {"name": "sinkhole", "prefix": "198.51.100.31/32", "next_hop_type": "None"}])
        self.doc.d["internet"]["hosts"].append("198.51.100.31")
        self.workspace(nat=True, rt=rt)
        st = self.boot()
        vm = st[self.vms[0]]
        self.assertEqual(vm["egress"], "firewall")
        self.assertEqual(vm["relay_egress"], "nat_gateway")
        node = self.wait_node(self.d, "n0")
        self.assertTrue(node["remote_address"].startswith(self.nat_ip + ":"), node)
        self.echo_server(self.inet(), STANDIN, 8081)
        self.echo_server(self.inet(), "198.51.100.31", 8081, name="echo-sink")
        ok, why = self.connect(vm["namespace"], STANDIN, 8081, timeout=2)
        self.assertFalse(ok, why)  # to the firewall, which has no rule for it
        self.assertGreater(self.status()[self.fwid]["counters"]["denied"], 0)
        ok, why = self.connect(vm["namespace"], "198.51.100.31", 8081, timeout=2)
        self.assertFalse(ok, why)  # next hop None

    # -- stand-in TLS and HTTP services, and clients, in namespaces --

    def tls_server(self, ns, ip, port):
        key, crt = self.path("standin.key"), self.path("standin.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=standin"], check=True, capture_output=True)
        code = r"""
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64); print("listening", flush=True)
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True); t.sendall(b"hello\n"); t.close()
    except Exception: c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""
        p = self.nsstart(ns, "tls", [sys.executable, "-c", code, ip, str(port), crt, key])
        p.wait_log("listening", 10)

    def http_server(self, ns, ip, port):
        code = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"standin\n")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
print("listening", flush=True); srv.serve_forever()
"""
        p = self.nsstart(ns, "http", [sys.executable, "-c", code, ip, str(port)])
        p.wait_log("listening", 10)

    def tls_client(self, ns, name):
        code = r"""
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
try:
    s = socket.create_connection((sys.argv[1], 443), timeout=5)
    t = ctx.wrap_socket(s, server_hostname=sys.argv[2])
    print("handshake ok", t.recv(100))
except Exception as e:
    print("failed", type(e).__name__, e)
"""
        return self.nsrun(ns, [sys.executable, "-c", code, STANDIN, name], timeout=30).stdout

    def http_client(self, ns, host):
        code = r"""
import http.client, sys
try:
    c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
    c.request("GET", "/", headers={"Host": sys.argv[2]})
    print(c.getresponse().status)
except Exception as e:
    print("failed", type(e).__name__, e)
"""
        return self.nsrun(ns, [sys.executable, "-c", code, STANDIN, host], timeout=30).stdout


class TestLegacy(WorkspaceTest):

    @needs_isolation
    def test_management_port_reachable_only_from_the_control_plane(self):
        self.workspace(nat=False, scc=False)
        pip = self.plan.public()
        st = self.boot(public_ip=pip, mode="legacy")
        vm = st[self.vms[0]]
        self.assertEqual(vm["public_ip"], pip)
        self.assertEqual(vm["egress"], "public_ip")
        if not vm.get("legacy_listener"):
            # Until the agent has its legacy mode, a stand-in listens on
            # the management port so that the network path is still tested.
            self.echo_server(vm["namespace"], "0.0.0.0", 5557, name="mgmt-standin")
        wait_for(lambda: self.nsrun(vm["namespace"], ["ss", "-ltnH", "sport = :5557"]).stdout,
                 15, what="a listener on 5557")
        # From the control plane's address (the host routes public IPs from
        # the API address): reachable.
        rc = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection("
                             "('%s', 5557), timeout=3)" % pip], capture_output=True, text=True)
        self.assertEqual(rc.returncode, 0, rc.stderr)
        # From anywhere else on the internet: filtered by the NSG.
        ok, why = self.connect(self.inet(), pip, 5557, timeout=2)
        self.assertFalse(ok, why)
        self.assertIn("timed out", why)
        if vm.get("legacy_listener"):
            self.control_plane_connects_in(pip)
        # The SSH rule is there too, but nothing listens: closed, not open.
        nmap = tool("nmap")
        if nmap:
            r = self.nsrun(self.inet(), [nmap, "-n", "-Pn", "-sT", "-p", "22,5557", "-oG", "-",
                                         pip], timeout=60)
            self.assertNotIn("/open/", r.stdout, r.stdout)


    def control_plane_connects_in(self, pip):
        """The relay dials the node's management port (the relay's admin
        API registers it; the ARM layer will do this from the VM's status)
        and the node becomes a tunnel like any other."""
        curl = tool("curl")
        if curl is None:
            self.skipTest("curl is needed to register the legacy node with the relay")
        r = subprocess.run([curl, "-sS", "--http2-prior-knowledge", "--unix-socket",
                            os.path.join(self.d.data, "sccd.sock"), "-X", "PUT",
                            "-H", "content-type: application/json",
                            "--data", json.dumps({"address": "%s:5557" % pip}),
                            "http://relay/v1/legacy-nodes/ws1/c1/n0"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotIn("error", r.stdout + r.stderr, r.stdout + r.stderr)
        node = self.wait_node(self.d, "n0", timeout=20)
        self.assertEqual(node["remote_address"], "%s:5557" % pip, node)
        out = self.sccctl(self.d, "exec", "ws1/c1/n0", "--", "ip", "-4", "-o", "addr").stdout
        self.assertIn(pip + "/32", out.decode())


class TestLoadBalancer(WorkspaceTest):

    @needs_isolation
    def test_snat_port_exhaustion_is_real_and_counted(self):
        self.workspace(nat=False)
        frontend = self.plan.public()
        self.apply()
        self.d = self.start_sccd()
        vm = self.doc.vm("vm0", self.private, "10.179.0.68", self.token(self.d, node="n0"))
        self.doc.lb("egress-lb", frontend, 4, [vm])
        st = self.apply().status
        self.assertEqual(st[vm]["egress"], "load_balancer")
        self.assertEqual(st[vm]["snat_ports"]["load_balancer"], self.doc.d["load_balancers"][0]["id"])
        self.wait_node(self.d, "n0")
        self.echo_server(self.inet(), STANDIN, 7200)
        code = r"""
import socket, sys
held = []
for i in range(6):
    try:
        s = socket.create_connection((sys.argv[1], 7200), timeout=2)
        print("conn", i, "ok", s.recv(100).decode().strip(), flush=True); held.append(s)
    except OSError as e:
        print("conn", i, "failed", e, flush=True)
"""
        out = self.nsrun(st[vm]["namespace"], [sys.executable, "-c", code, STANDIN],
                         timeout=60).stdout
        self.assertEqual(len(re.findall(r"ok peer " + re.escape(frontend), out)), 4, out)
        self.assertEqual(len(re.findall(r"failed", out)), 2, out)
        ports = {int(p) for p in re.findall(r"ok peer [\d.]+:(\d+)", out)}
        lo, hi = st[vm]["snat_ports"]["first"], st[vm]["snat_ports"]["last"]
        self.assertTrue(all(lo <= p <= hi for p in ports), (ports, lo, hi))
        counters = self.status()[self.doc.d["load_balancers"][0]["id"]]["counters"]
        h = st[vm]["namespace"].rsplit("-", 1)[1]
        self.assertGreater(counters["exhausted_" + h], 0, counters)


class TestReconcile(WorkspaceTest):

    def test_apply_twice_changes_nothing_and_removal_cleans_up(self):
        self.workspace()
        st1 = self.boot(n=2)
        self.wait_node(self.d, "n1")
        rules1 = self.vnet_rules(st1)
        t0 = time.monotonic()
        st2 = self.apply().status  # a new scc-prov process: a "restart"
        self.assertLess(time.monotonic() - t0, 5)
        for v in self.vms:
            self.assertEqual(st1[v]["pid"], st2[v]["pid"], "an agent was restarted")
        self.assertEqual(rules1, self.vnet_rules(st2), "rules were duplicated")
        # Remove one VM: its namespace and process go, the other stays.
        gone = self.vms[1]
        self.doc.drop_vm(gone)
        st3 = self.apply().status
        self.assertNotIn(gone, st3)
        self.assertFalse(self.alive(st1[gone]["pid"]), "the removed VM's agent still runs")
        if PROVIDER == "netns":
            self.assertNotIn(st1[gone]["namespace"], self.netns_list())
            self.assertIn(st1[self.vms[0]]["namespace"], self.netns_list())
        self.assertEqual(st3[self.vms[0]]["pid"], st1[self.vms[0]]["pid"])

    def test_dead_agent_is_restarted_and_drift_is_repaired(self):
        self.workspace()
        st = self.boot()
        vm = self.vms[0]
        old = st[vm]["pid"]
        os.kill(old, 9)
        wait_for(lambda: not self.status()[vm]["agent_running"], 10, what="the agent to die")
        if PROVIDER == "netns":
            # Someone deletes the VM's NIC from the VNet router.
            vnet = [n for n in self.netns_list() if n.startswith(self.prefix + "-vnet-")][0]
            port = "m" + st[vm]["namespace"].rsplit("-", 1)[1]
            subprocess.run(["ip", "-n", vnet, "link", "del", port], check=True)
        st = self.apply().status
        self.assertNotEqual(st[vm]["pid"], old)
        self.assertTrue(self.status()[vm]["agent_running"])
        node = self.wait_node(self.d, "n0")
        if PROVIDER == "netns":
            self.assertTrue(node["remote_address"].startswith(self.nat_ip + ":"), node)

    def test_gc_stops_processes_of_a_crashed_run(self):
        """A pid file the last apply did not write (a crash between starting
        an agent and recording the document) names a process gc stops."""
        self.workspace()
        self.apply()
        orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
        self.addCleanup(lambda: orphan.poll() is None and orphan.kill())
        with open("/proc/%d/stat" % orphan.pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        pidfile = os.path.join(self.state, "proc", "vm-deadbeef.pid")
        with open(pidfile, "w") as f:
            f.write("%d %s 0000\n" % (orphan.pid, start))
        removed = json.loads(self.prov("gc").stdout)
        self.assertIn("pidfile " + pidfile, removed)
        orphan.wait(10)
        self.assertFalse(os.path.exists(pidfile))

    @needs_isolation
    def test_removing_the_nat_gateway_removes_its_namespace_and_the_egress(self):
        self.workspace()
        st = self.boot()
        nat_ns = self.ns_of(st, self.natid)
        self.doc.d["nat_gateways"] = []
        for s in self.doc.d["vnets"][0]["subnets"]:
            s["nat_gateway"] = None
        st = self.apply().status
        self.assertNotIn(nat_ns, self.netns_list())
        self.assertEqual(st[self.vms[0]]["egress"], "none")

    @needs_isolation
    def test_internet_bridge_keeps_its_address_when_a_port_goes(self):
        """A Linux bridge takes its lowest port's MAC unless given one: a
        legacy VM's public link going could move it, and the NAT gateway,
        still sending to the old one, reached nothing until its ARP entry
        expired (an SCC node created right after a migration could not
        connect for a minute)."""
        self.workspace()
        self.boot()
        self.wait_node(self.d, "n0")
        br0 = lambda: self.nsrun(self.inet(), ["cat", "/sys/class/net/br0/address",
                                               "/sys/class/net/br0/addr_assign_type"]).stdout
        before = br0()
        self.assertEqual(before.split()[1], "3", "br0's address is not fixed: " + before)
        tok = self.token(self.d, node="legacy")
        legacy = self.doc.vm("legacy", self.private, "10.179.0.90", tok,
                             public_ip=self.plan.public(), mode="legacy")
        self.apply()
        self.doc.drop_vm(legacy)
        st = self.apply().status
        self.assertEqual(br0(), before)
        # The gateway reaches the relay at once (a TCP connect: the relay
        # waits for a ClientHello, so the echo probe does not fit).
        r = self.nsrun(self.ns_of(st, self.natid), [
            sys.executable, "-c", "import socket, sys; "
            "socket.create_connection((sys.argv[1], 443), timeout=3)", self.plan.relay])
        self.assertEqual(r.returncode, 0, r.stderr)

    @needs_isolation
    def test_gc_removes_leftovers_of_a_crashed_run(self):
        self.workspace()
        self.apply()
        stray_ns = "%s-vm-deadbeef" % self.prefix
        stray_link = "%s-zz" % self.prefix
        subprocess.run(["ip", "netns", "add", stray_ns], check=True)
        subprocess.run(["ip", "link", "add", stray_link, "type", "veth", "peer", "name",
                        stray_link + "p"], check=True)
        removed = json.loads(self.prov("gc").stdout)
        self.assertIn("netns " + stray_ns, removed)
        self.assertIn("link " + stray_link, removed)
        self.assertNotIn(stray_ns, self.netns_list())
        self.assertIn(self.inet(), self.netns_list())  # what is wanted stays

    def test_malformed_document_changes_nothing(self):
        self.workspace()
        self.doc.d["vnets"][0]["address_prefixes"] = ["10.179.0.1/16"]  # host bits set
        r = self.apply(check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn("address_prefixes", r.stderr)
        if PROVIDER == "netns":
            self.assertEqual([n for n in self.netns_list() if n.startswith(self.prefix)], [])

    def test_dangling_reference_fails_only_that_resource(self):
        self.workspace()
        self.doc.d["vnets"][0]["subnets"][0]["route_table"] = self.doc.id("routeTables", "nope")
        r = self.apply(check=False)
        self.assertEqual(r.returncode, 1)
        sub = self.doc.d["vnets"][0]["subnets"][0]["id"]
        self.assertEqual(r.status[sub]["state"], "Failed")
        self.assertIn("routeTables/nope", r.status[sub]["message"])
        self.assertEqual(r.status[self.private]["state"], "Succeeded")

    # -- helpers --

    @staticmethod
    def alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    def netns_list(self):
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [l.split()[0] for l in out.splitlines()]

    def vnet_rules(self, st):
        if PROVIDER != "netns":
            return None
        ns = [n for n in self.netns_list() if n.startswith(self.prefix + "-vnet-")][0]
        return (self.nsrun(ns, ["ip", "rule"]).stdout,
                self.nsrun(ns, ["ip", "route", "show", "table", "all"]).stdout,
                self.nsrun(ns, ["nft", "list", "ruleset"]).stdout.count("chain"))


if __name__ == "__main__":
    unittest.main()
