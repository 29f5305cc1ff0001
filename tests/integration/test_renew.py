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

from scc import SccTest, wait_for


def cert_serial(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].lower()


def tunnel_serials(text):
    return re.findall(r"tunnel up identity=\S+ serial=([0-9a-f]+) resumed=(yes|no)", text)


class RenewTest(SccTest):
    def test_certificate_is_renewed_before_it_expires_and_used_after(self):
        d = self.sccd(extra=["--node-cert-ttl", "60s"])
        a = self.agent(d, self.token(d))
        crt = os.path.join(a.state, "node.crt")
        first = cert_serial(crt)
        self.assertEqual(tunnel_serials(d.text())[-1][0], first)
        a.wait_log("certificate renewed", 60)
        second = cert_serial(crt)
        self.assertNotEqual(second, first)
        d.wait_log("renewed node=ws1/c1/n1 serial=%s (was %s)" % (second, first), 5)
        d.wait_log("certificate renewed: serial=%s" % second, 5)
        metrics = urllib.request.urlopen("http://%s/metrics" % d.endpoints["metrics"],
                                         timeout=5).read().decode()
        self.assertRegex(metrics, r'scc_relay_cert_renewals_total\{result="ok"\} [1-9]')
        # Past the first certificate's end, the agent dials with the new one:
        # a full handshake (no resumption of the old session), accepted.
        wait_for(lambda: os.path.getmtime(crt) + 25 < time.time(), 30, interval=0.5,
                 what="the first certificate to expire")
        self.sccctl(d, "node", "disconnect", "n1")
        wait_for(lambda: len(tunnel_serials(d.text())) >= 2, 15, what="a new tunnel")
        self.assertEqual(tunnel_serials(d.text())[1], (second, "no"))
        r = self.sccctl(d, "exec", "n1", "--", "echo", "still here")
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
