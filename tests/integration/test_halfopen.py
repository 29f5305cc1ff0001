"""A half-open tunnel (packets silently dropped, no FIN, no RST) is noticed
by both ends and replaced within a minute, with the default timers.

The relay and the agent run in two network namespaces of this test, joined
by a veth; an nftables rule in the agent's namespace then drops everything
between them.  Needs root; everything it creates is removed at the end.
"""
import os
import subprocess
import time
import unittest

from scc import AGENT, SCCD, SccTest, wait_for


def sh(*args, check=True, input=None):
    return subprocess.run(args, capture_output=True, text=True, check=check, input=input)


@unittest.skipUnless(os.geteuid() == 0, "needs root for network namespaces")
class HalfOpenTest(SccTest):
    def setUp(self):
        super().setUp()
        tag = "%x" % (os.getpid() & 0xffff)
        self.ns_r, self.ns_a = "scct%sr" % tag, "scct%sa" % tag
        self.veth = "scct%s" % tag
        self.addCleanup(self.cleanup_net)
        sh("ip", "netns", "add", self.ns_r)
        sh("ip", "netns", "add", self.ns_a)
        sh("ip", "link", "add", self.veth + "r", "type", "veth", "peer", "name", self.veth + "a")
        sh("ip", "link", "set", self.veth + "r", "netns", self.ns_r)
        sh("ip", "link", "set", self.veth + "a", "netns", self.ns_a)
        for ns, dev, addr in ((self.ns_r, self.veth + "r", "10.251.0.1/30"),
                              (self.ns_a, self.veth + "a", "10.251.0.2/30")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def cleanup_net(self):
        for ns in (self.ns_r, self.ns_a):
            sh("ip", "netns", "del", ns, check=False)

    def test_half_open_tunnel_is_replaced_within_a_minute(self):
        data = self.path("d")
        d = self.start("sccd", ["ip", "netns", "exec", self.ns_r, SCCD, "--data-dir", data,
                                "--relay-listen", "10.251.0.1:8443", "--metrics-listen", ""])
        d.data = data
        wait_for(lambda: os.path.exists(os.path.join(data, "endpoints.json")), 15)
        token = self.token(d)
        a = self.start("agent", ["ip", "netns", "exec", self.ns_a, AGENT, "--relay",
                                 "10.251.0.1:8443", "--ca", os.path.join(data, "pki/ca.crt"),
                                 "--join-token", token, "--state-dir", self.path("a")])
        a.wait_log("tunnel up", 15)
        self.assertEqual(len(self.nodes(d)), 1)
        # Drop everything between the two, silently, in both directions.
        rules = ("table inet scct {\n"
                 " chain in { type filter hook input priority 0; ip saddr 10.251.0.1 drop; }\n"
                 " chain out { type filter hook output priority 0; ip daddr 10.251.0.1 drop; }\n"
                 "}\n")
        sh("ip", "netns", "exec", self.ns_a, "nft", "-f", "-", input=rules)
        t0 = time.monotonic()
        wait_for(lambda: "tunnel down" in a.text(), 65, interval=0.5,
                 what="the agent to notice the dead tunnel")
        agent_s = time.monotonic() - t0
        wait_for(lambda: self.nodes(d) == [], 65 - agent_s, interval=0.5,
                 what="the relay to evict the dead tunnel")
        relay_s = time.monotonic() - t0
        self.assertLess(agent_s, 60)
        self.assertLess(relay_s, 60)
        sh("ip", "netns", "exec", self.ns_a, "nft", "delete", "table", "inet", "scct")
        wait_for(lambda: a.text().count("tunnel up") >= 2, 40, interval=0.5,
                 what="a new tunnel once the path is back")
        wait_for(lambda: len(self.nodes(d)) == 1, 10)
        print("\nhalf-open detected by the agent after %.1fs, evicted by the relay after %.1fs"
              % (agent_s, relay_s))


if __name__ == "__main__":
    unittest.main(verbosity=2)
