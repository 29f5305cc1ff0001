"""Issue 3: the official Azure SDK for JS management clients
(@azure/arm-databricks, @azure/arm-resources@6.1.0; tests/sdk) against a
real sccd over HTTPS: the proof that the wire format and the long-running
operation sequences are right.  The clients live in tests/sdk/node_modules
(package-lock.json pins every version), installed by scripts/setup.sh --test."""
import filecmp
import os
import shutil
import subprocess
import unittest

from test_arm_lib import ArmTest, read

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk")


class SdkTest(ArmTest):
    LRO_DELAY = "100ms"

    def prepare(self):
        """scripts/setup.sh --test installs the clients into tests/sdk; a
        developer without them gets them here (which needs the network)."""
        stamp = os.path.join(SRC, "node_modules", ".scc-installed-lock")
        if not (os.path.exists(stamp) and filecmp.cmp(stamp, os.path.join(SRC, "package-lock.json"),
                                                      shallow=False)):
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SRC, capture_output=True,
                               timeout=280)
            self.assertEqual(r.returncode, 0, "npm ci failed:\n" + r.stdout.decode() + r.stderr.decode())
            shutil.copyfile(os.path.join(SRC, "package-lock.json"), stamp)
        return SRC

    def test_official_azure_sdk_clients(self):
        self.assertTrue(shutil.which("node") and shutil.which("npm"),
                        "node and npm are needed: scripts/setup.sh --test installs them")
        work = self.prepare()
        env = dict(os.environ, SCC_API="https://" + self.d.endpoints["api"],
                   SCC_TOKEN=read(os.path.join(self.d.data, "admin.token")), SCC_SUB=self.sub,
                   SCC_CA=os.path.join(self.d.data, "pki", "ca.crt"))
        r = subprocess.run(["node", "--test", "sdk.test.mjs"], cwd=work, env=env,
                           capture_output=True, timeout=180)
        out = r.stdout.decode() + r.stderr.decode()
        print(out[-4000:])
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("# fail 0", out)


if __name__ == "__main__":
    unittest.main()
