"""The web console (web/, served by sccd's API listener) in a real browser:
Debian's chromium driven by playwright-core (tests/browser/console.mjs)
through the seed document's portal procedures, against a real sccd whose
provider boots real nodes.  Then the end state is checked through the API
and the relay: the console's clicks did what they said.

Run: cd tests/integration && SCC_BUILD=/path/to/build python3 -m unittest -v test_console
"""
import base64
import hashlib
import os
import shutil
import subprocess
import unittest

from provlib import PROVIDER
from scc import SCCCTL, npm_ci
from test_arm_lib import read
from test_compute import V_NET, V_VM, ComputeTest

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "..", "browser")
TEMPLATE = os.path.join(HERE, "..", "fixtures", "upgrade-npip-template.json")
CHROMIUM = os.environ.get("SCC_CHROMIUM", "/usr/bin/chromium")


def spki_sha256(cert):
    """base64 SHA-256 of a certificate's public key: what chromium's
    --ignore-certificate-errors-spki-list pins."""
    der = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=der, check=True,
                         capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class ConsoleTest(ComputeTest):

    def test_console_files_are_served_with_a_strict_policy(self):
        self.boot_sccd()
        self.api.token = ""
        page = self.api.raw("GET", "/")
        self.assertEqual(page.status, 200, page)
        self.assertTrue(page.headers["content-type"].startswith("text/html"), page.headers)
        csp = page.headers["content-security-policy"]
        for d in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                  "frame-ancestors 'none'"):
            self.assertIn(d, csp)
        self.assertEqual(page.headers["x-content-type-options"], "nosniff")
        self.assertIn(b'src="/console/console.js"', page.raw)
        js = self.api.raw("GET", "/console/console.js?v=1")
        self.assertEqual((js.status, js.headers["content-type"]),
                         (200, "text/javascript; charset=utf-8"))
        with open(os.path.join(HERE, "..", "..", "web", "console.js"), "rb") as f:
            self.assertEqual(js.raw, f.read())
        head = self.api.raw("HEAD", "/console/console.css")
        self.assertEqual((head.status, head.raw), (200, b""))
        self.assertEqual(int(head.headers["content-length"]),
                         os.path.getsize(os.path.join(HERE, "..", "..", "web", "console.css")))
        # Anything else is the API's: a token is needed, and writes to the
        # console's paths are not served from it.
        for method, path in (("GET", "/console/nope.js"), ("GET", "/console/"), ("POST", "/"),
                             ("PUT", "/console/console.js"), ("GET", "/console/../admin.token")):
            r = self.api.raw(method, path)
            self.assertEqual(r.status, 401, (method, path, r))

    def test_portal_procedures_in_a_browser(self):
        if not os.path.exists(CHROMIUM) or not shutil.which("node"):
            self.fail("chromium and node are needed: scripts/setup.sh --test installs them")
        npm_ci(BROWSER)
        self.boot_sccd()
        self.call("PUT", self.rg_id(), {"location": "eastus"}, "2021-04-01", expect=201)
        self.injected(nat=True)
        env = dict(os.environ, SCC_URL="https://" + self.d.endpoints["api"],
                   SCC_TOKEN=read(os.path.join(self.d.data, "admin.token")),
                   SCC_SPKI=spki_sha256(os.path.join(self.d.data, "pki", "server.crt")),
                   SCC_TEMPLATE=TEMPLATE, SCC_OUT=self.path(), SCC_SCCCTL=SCCCTL,
                   SCC_DATA=self.d.data)
        r = subprocess.run(["node", "console.mjs"], cwd=BROWSER, env=env, capture_output=True,
                           timeout=400)
        out = r.stdout.decode() + r.stderr.decode()
        print(out[-6000:])
        self.assertEqual(r.returncode, 0, out[-6000:])
        self.assertNotIn("not ok", out)
        # What the clicks did, seen from the API and the relay.
        ws = self.call("GET", self.ws_id(), expect=200).json
        self.assertEqual(ws["properties"]["provisioningState"], "Succeeded")
        self.assertIs(ws["properties"]["parameters"]["enableNoPublicIp"]["value"], True)
        mrg = ws["properties"]["managedResourceGroupId"]
        vms = self.call("GET", mrg + "/providers/Microsoft.Compute/virtualMachines", version=V_VM,
                        expect=200).json["value"]
        self.assertEqual(len(vms), 1, vms)
        self.assertEqual(vms[0]["tags"]["scc-mode"], "scc")
        for n in vms[0]["properties"]["networkProfile"]["networkInterfaces"]:
            nic = self.call("GET", n["id"], version=V_NET, expect=200).json
            ipconf = nic["properties"]["ipConfigurations"][0]["properties"]
            self.assertNotIn("publicIPAddress", ipconf)
        node = self.wait_connected(vms[0]["id"])
        if PROVIDER == "netns":
            r = self.sccctl(self.d, "exec", node["name"], "--", "true")
            self.assertEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
