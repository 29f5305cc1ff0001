"""Helpers for the management API tests (issue 3): an HTTPS client that
trusts the data dir's CA, and a base class that starts sccd with fast
long-running operations.  No tests live here."""
import http.client
import json
import os
import ssl
import time
import urllib.parse

from scc import SccTest, SCCCTL, wait_for

DBX = "Microsoft.Databricks"
V_DBX = "2023-02-01"
V_RES = "2025-03-01"
V_NET = "2024-07-01"


def read(path):
    with open(path) as f:
        return f.read().strip()


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return ((self.json or {}).get("error") or {}).get("code")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:400])


class Api:
    """One keep-alive HTTPS connection to sccd's management API."""

    def __init__(self, sccd, token=None):
        host, port = sccd.endpoints["api"].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.ctx = ssl.create_default_context(cafile=os.path.join(sccd.data, "pki", "ca.crt"))
        self.token = token if token is not None else read(os.path.join(sccd.data, "admin.token"))
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=15)
        return self.conn

    def raw(self, method, path, body=b"", headers=None):
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        for attempt in range(2):
            try:
                c = self._conn()
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                return Resp(r.status, r.getheaders(), r.read())
            except (http.client.HTTPException, ConnectionError, ssl.SSLError):
                self.close()
                if attempt:
                    raise
        return None

    def call(self, method, path, body=None, version=None, headers=None):
        if version is not None and "api-version=" not in path:
            path += ("&" if "?" in path else "?") + "api-version=" + version
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        return self.raw(method, path, data, headers)

    def get(self, path, version=V_DBX):
        return self.call("GET", path, version=version)

    def put(self, path, body, version=V_DBX):
        return self.call("PUT", path, body, version=version)

    def delete(self, path, version=V_DBX):
        return self.call("DELETE", path, version=version)

    def url_path(self, url):
        u = urllib.parse.urlsplit(url)
        return u.path + ("?" + u.query if u.query else "")

    def wait(self, resp, timeout=30):
        """Follow an LRO like the SDKs: status URL or Location URL."""
        aso = resp.headers.get("azure-asyncoperation")
        loc = resp.headers.get("location")
        deadline = time.monotonic() + timeout
        url = aso or loc
        assert url, "no LRO header in %r" % resp
        while time.monotonic() < deadline:
            r = self.raw("GET", self.url_path(url))
            if aso:
                assert r.status == 200, r
                st = r.json["status"]
                if st in ("Succeeded", "Failed", "Canceled"):
                    return r
            else:
                if r.status != 202:
                    return r
                url = r.headers.get("location", url)
            time.sleep(0.05)
        raise AssertionError("operation did not finish: %s" % url)

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


class ArmTest(SccTest):
    """Each test gets its own sccd with quick operations."""

    LRO_DELAY = "150ms"

    def setUp(self):
        super().setUp()
        self.d = self.sccd(extra=["--lro-delay", self.LRO_DELAY, "--lro-retry-after", "0"])
        self.api = Api(self.d)
        self.sub = read(os.path.join(self.d.data, "subscription"))

    def tearDown(self):
        self.api.close()
        super().tearDown()

    # ---- paths ----

    def rg_path(self, rg):
        return "/subscriptions/%s/resourcegroups/%s" % (self.sub, rg)

    def ws_path(self, rg, ws):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/workspaces/%s" % (self.sub, rg, DBX, ws)

    def net_path(self, rg, typ, name):
        return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/%s/%s" % (self.sub, rg, typ, name)

    def net_id(self, rg, typ, name):
        return self.net_path(rg, typ, name)

    # ---- common steps ----

    def register(self, ns, sub=None):
        r = self.api.call("POST", "/subscriptions/%s/providers/%s/register" % (sub or self.sub, ns), version=V_RES)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["registrationState"], "Registered")

    def make_rg(self, rg="rg1", location="eastus"):
        r = self.api.put(self.rg_path(rg), {"location": location}, version=V_RES)
        self.assertIn(r.status, (200, 201), r)
        return r

    def ws_body(self, npip=True, mrg=None, location="eastus", **params):
        p = {"enableNoPublicIp": {"value": npip}}
        for k, v in params.items():
            p[k] = {"value": v}
        props = {"parameters": p}
        if mrg:
            props["managedResourceGroupId"] = "/subscriptions/%s/resourceGroups/%s" % (self.sub, mrg)
        return {"location": location, "sku": {"name": "premium"}, "properties": props}

    def create_ws(self, rg, ws, body, expect="Succeeded"):
        r = self.api.put(self.ws_path(rg, ws), body)
        self.assertIn(r.status, (200, 201), r)
        st = self.api.wait(r)
        self.assertEqual(st.json["status"], expect, st)
        return st

    def put_net(self, rg, typ, name, body, expect=(200, 201)):
        r = self.api.put(self.net_path(rg, typ, name), body, version=V_NET)
        if expect:
            self.assertIn(r.status, expect, r)
        return r

    def injected_vnet(self, rg="rg1", vnet="vnet1", nsg="nsg1", prefix="10.179", sizes=(24, 24),
                      delegate=True, location="eastus"):
        """A VNet with two delegated subnets sharing one NSG."""
        self.put_net(rg, "networkSecurityGroups", nsg, {"location": location})
        nsg_id = self.net_id(rg, "networkSecurityGroups", nsg)
        subs = []
        for i, (name, size) in enumerate((("public", sizes[0]), ("private", sizes[1]))):
            props = {"addressPrefix": "%s.%d.0/%d" % (prefix, i * 64, size),
                     "networkSecurityGroup": {"id": nsg_id}}
            if delegate:
                props["delegations"] = [{"name": "dbx", "properties": {"serviceName": "Microsoft.Databricks/workspaces"}}]
            subs.append({"name": name, "properties": props})
        self.put_net(rg, "virtualNetworks", vnet, {"location": location, "properties": {
            "addressSpace": {"addressPrefixes": ["%s.0.0/16" % prefix]}, "subnets": subs}})
        return self.net_id(rg, "virtualNetworks", vnet)

    def inject_params(self, vnet_id, pub="public", priv="private"):
        return {"customVirtualNetworkId": vnet_id, "customPublicSubnetName": pub,
                "customPrivateSubnetName": priv}

    def nsg_rules(self, rg="rg1", nsg="nsg1"):
        r = self.api.get(self.net_path(rg, "networkSecurityGroups", nsg), version=V_NET)
        self.assertEqual(r.status, 200, r)
        return {x["name"]: x for x in r.json["properties"]["securityRules"]}

    def sccctl_arm(self, *args, check=True, token=None):
        env = dict(os.environ)
        if token:
            env["SCC_TOKEN"] = token
        import subprocess
        r = subprocess.run([SCCCTL, "--data-dir", self.d.data] + list(args), capture_output=True,
                           timeout=60, env=env)
        if check and r.returncode != 0:
            raise AssertionError("sccctl %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout.decode(), r.stderr.decode()))
        return r
