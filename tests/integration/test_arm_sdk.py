"""Issue 3: the official Azure SDK for JS management clients
(@azure/arm-databricks, @azure/arm-resources@6.1.0; tests/sdk) against a
real sccd over HTTPS: the proof that the wire format and the long-running
operation sequences are right.  The clients live in tests/sdk/node_modules
(package-lock.json pins every version), installed by scripts/setup.sh --test."""
import os
import shutil
import unittest

from scc import node_test, npm_ci
from test_arm_lib import ArmTest, read

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk")


class SdkTest(ArmTest):
    LRO_DELAY = "100ms"

    def test_official_azure_sdk_clients(self):
        self.assertTrue(shutil.which("node") and shutil.which("npm"),
                        "node and npm are needed: scripts/setup.sh --test installs them")
        npm_ci(SRC)
        env = dict(os.environ, SCC_API="https://" + self.d.endpoints["api"],
                   SCC_TOKEN=read(os.path.join(self.d.data, "admin.token")), SCC_SUB=self.sub,
                   SCC_CA=os.path.join(self.d.data, "pki", "ca.crt"))
        node_test(self, SRC, "sdk.test.mjs", env)


if __name__ == "__main__":
    unittest.main()
