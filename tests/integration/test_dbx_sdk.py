"""The official Databricks SDK for JS (@databricks/sdk-experimental 0.17.0;
tests/dbx-sdk) against a workspace's Databricks-compatible API on a real
sccd: clusters that are real nodes of the provider, job runs on them, and
the SDK's waiters and errors (docs: databricks-compat.md).  The SDK lives in
tests/dbx-sdk/node_modules (package-lock.json pins every version),
installed by scripts/setup.sh --test.

The workspace's host name does not resolve: dbx.test.mjs connects to the
API listener's address and keeps the name for SNI and Host.  Runs on either
provider (netns as root, else process); ComputeTest's cleanup fails the
test if a namespace or agent survives."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from scc import node_test, npm_ci  # noqa: E402
from test_arm_lib import read  # noqa: E402
from test_compute import ComputeTest  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dbx-sdk")
PY = """import json, sys
print("SCC-DBX-SDK-MARKER")
print(json.dumps(sys.argv))
"""


class DbxSdkTest(ComputeTest):

    def test_official_databricks_sdk_clusters_and_runs(self):
        if not (shutil.which("node") and shutil.which("npm")):
            self.skipTest("node and npm are needed: scripts/setup.sh --test installs them")
        npm_ci(SRC)
        self.boot_sccd()
        self.setup_group()
        self.workspace(scc=True)
        tmp = tempfile.mkdtemp(prefix="scc-dbx-sdk-")
        self.addCleanup(shutil.rmtree, tmp, True)
        py = os.path.join(tmp, "hello.py")
        with open(py, "w") as f:
            f.write(PY)
        os.chmod(tmp, 0o755)  # the node's agent may run as another user
        os.chmod(py, 0o644)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(SCC_WS_HOST=self.ws["properties"]["workspaceUrl"],
                   SCC_API_ADDR=self.d.endpoints["api"],
                   SCC_TOKEN=read(os.path.join(self.d.data, "admin.token")),
                   SCC_CA=os.path.join(self.d.data, "pki", "ca.crt"), SCC_PY=py,
                   HOME=tmp)  # no ~/.databrickscfg of the developer's
        node_test(self, SRC, "dbx.test.mjs", env)


if __name__ == "__main__":
    unittest.main()
