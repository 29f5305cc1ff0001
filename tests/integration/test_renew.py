"""Node certificates are renewed over their own tunnels before they expire,
so an agent keeps working past its first certificate's end without a new
join token.  Certificates here live 60 s (the smallest --node-cert-ttl), so
the first renewal is due 40 s after enrolment."""
import os
import re
import subprocess
import time
import unittest
import urllib.request

from scc import SccTest, free_port, wait_for


def cert_serial(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].lower()


def tunnel_serials(text):
    return re.findall(r"tunnel up identity=\S+ serial=([0-9a-f]+) resumed=(yes|no)", text)


class RenewTest(SccTest):
    def legacy_agent(self, d, node, port):
        """An agent in legacy mode, which the relay dials (and renews too)."""
        a = self.agent(d, self.token(d, node=node), name=node, wait_up=False,
                       extra=["--mode", "legacy", "--listen", "127.0.0.1:%d" % port])
        a.wait_log("legacy mode: listening", 10)
        r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--unix-socket",
                            d.endpoints["admin_socket"], "-X", "PUT", "-d",
                            '{"address": "127.0.0.1:%d"}' % port,
                            "http://sccd/v1/legacy-nodes/ws1/c1/%s" % node],
                           capture_output=True, text=True)
        self.assertIn('"address":"127.0.0.1:%d"' % port, r.stdout)
        return a

    def test_certificate_is_renewed_before_it_expires_and_used_after(self):
        d = self.sccd(extra=["--node-cert-ttl", "60s"])
        a = self.agent(d, self.token(d))
        leg = self.legacy_agent(d, "leg1", free_port())
        crt = os.path.join(a.state, "node.crt")
        leg_crt = os.path.join(leg.state, "node.crt")
        first, leg_first = cert_serial(crt), cert_serial(leg_crt)
        wait_for(lambda: len(tunnel_serials(d.text())) == 2, 10, what="both tunnels")
        self.assertEqual(sorted(s for s, _ in tunnel_serials(d.text())),
                         sorted([first, leg_first]))
        for agent in (a, leg):
            agent.wait_log("certificate renewed", 60)
        second, leg_second = cert_serial(crt), cert_serial(leg_crt)
        self.assertNotIn(second, (first, leg_first))
        self.assertNotIn(leg_second, (first, leg_first))
        d.wait_log("renewed node=ws1/c1/n1 serial=%s (was %s)" % (second, first), 5)
        d.wait_log("certificate renewed: serial=%s" % second, 5)
        n1 = [n for n in self.nodes(d) if n["node"] == "n1"][0]
        self.assertEqual(n1["certificate_serial"], second)
        self.assertRegex(n1["certificate_expires"], r"^\d{4}-\d\d-\d\dT")
        metrics = urllib.request.urlopen("http://%s/metrics" % d.endpoints["metrics"],
                                         timeout=5).read().decode()
        self.assertRegex(metrics, r'scc_relay_cert_renewals_total\{result="ok"\} [2-9]')
        # Past the first certificates' end, each side uses the new one: the
        # agent dials with it (a full handshake, no resumption of the old
        # session); the legacy node presents it when the relay dials again.
        wait_for(lambda: os.path.getmtime(crt) + 25 < time.time(), 30, interval=0.5,
                 what="the first certificates to expire")
        for node in ("n1", "leg1"):
            self.sccctl(d, "node", "disconnect", node)
        wait_for(lambda: len(tunnel_serials(d.text())) >= 4, 20, what="two new tunnels")
        self.assertEqual(sorted(tunnel_serials(d.text())[2:4]),
                         sorted([(second, "no"), (leg_second, "no")]))
        for node in ("n1", "leg1"):
            r = self.sccctl(d, "exec", node, "--", "echo", "still here")
            self.assertEqual(r.stdout, b"still here\n")
        # Only the relay hands a node its certificate: a client of the
        # admin socket (HTTP/2, as sccctl speaks it) is turned away.
        r = subprocess.run(["curl", "-s", "--unix-socket", os.path.join(d.data, "sccd.sock"),
                            "--http2-prior-knowledge", "-X", "PUT", "-H", "scc-node: ws1/c1/n1",
                            "-d", '{"certificate": "x"}', "-w", " %{http_code}",
                            "http://sccd/v1/certificate"], capture_output=True, text=True)
        self.assertTrue(r.stdout.endswith(" 403"), r.stdout + r.stderr)
        self.assertNotIn("renewed certificate refused", a.text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
