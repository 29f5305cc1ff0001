"""Issue 3: the ARM-compatible management API over HTTPS with real sccd
processes: auth, api-versions, subscriptions and providers, resource
groups, workspaces and their long-running operations, the managed
resource group's deny assignment, bad input, restarts, sccctl."""
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
import unittest

from scc import SCCCTL, wait_for
from test_arm_lib import DBX, V_DBX, V_NET, V_RES, Api, ArmTest, read


class AuthTest(ArmTest):
    def test_missing_bad_revoked_and_expired_tokens_get_401(self):
        path = "/subscriptions/%s?api-version=%s" % (self.sub, V_RES)
        anon = Api(self.d, token="")
        r = anon.raw("GET", path)
        self.assertEqual((r.status, r.code), (401, "AuthenticationFailed"))
        self.assertIn("Bearer", r.headers["www-authenticate"])
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        r = anon.raw("GET", path, headers={"Authorization": "Basic Zm9vOmJhcg=="})
        self.assertEqual((r.status, r.code), (401, "AuthenticationFailed"))
        for bad in ("garbage", "scca1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
            r = Api(self.d, token=bad).raw("GET", path)
            self.assertEqual((r.status, r.code), (401, "InvalidAuthenticationToken"), bad)
        # A real token, then revoked.
        tok = self.sccctl_arm("token", "create", "--scope", "subscription/" + self.sub).stdout.decode().strip()
        self.assertEqual(Api(self.d, token=tok).raw("GET", path).status, 200)
        tid = tok.split(".")[1]
        self.sccctl_arm("token", "revoke", tid)
        r = Api(self.d, token=tok).raw("GET", path)
        self.assertEqual((r.status, r.code), (401, "InvalidAuthenticationToken"))
        anon.close()

    def test_tokens_are_stored_hashed(self):
        tok = self.sccctl_arm("token", "create", "--scope", "subscription/" + self.sub).stdout.decode().strip()
        secret = tok.split(".")[2]
        admin_secret = read(os.path.join(self.d.data, "admin.token")).split(".")[2]
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        dump = "\n".join(db.iterdump())
        db.close()
        self.assertNotIn(secret, dump)
        self.assertNotIn(admin_secret, dump)
        self.assertEqual(oct(os.stat(os.path.join(self.d.data, "admin.token")).st_mode & 0o777), "0o600")

    def test_subscription_scoped_token(self):
        self.make_rg("rg1")
        tok = self.sccctl_arm("token", "create", "--scope", "subscription/" + self.sub,
                              "--name", "ci").stdout.decode().strip()
        api = Api(self.d, token=tok)
        self.assertEqual(api.get(self.rg_path("rg1"), V_RES).status, 200)
        self.assertEqual(api.put(self.rg_path("rg2"), {"location": "eastus"}, V_RES).status, 201)
        other = "11111111-2222-4333-8444-555555555555"
        self.assertEqual(self.api.put("/subscriptions/" + other, {"displayName": "o"}, V_RES).status, 201)
        r = api.get("/subscriptions/%s/resourcegroups" % other, V_RES)
        self.assertEqual((r.status, r.code), (403, "AuthorizationFailed"))
        r = api.put("/subscriptions/" + "22222222-2222-4333-8444-555555555555", {}, V_RES)
        self.assertEqual(r.status, 403)
        subs = api.get("/subscriptions", V_RES).json["value"]
        self.assertEqual([s["subscriptionId"] for s in subs], [self.sub])
        # Scopes must name something that exists.
        r = self.sccctl_arm("token", "create", "--scope", "subscription/33333333-2222-4333-8444-555555555555", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        r = self.sccctl_arm("token", "create", "--scope", "tenant/x", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        api.close()

    def test_workspace_scoped_token(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        self.create_ws("rg1", "ws1", self.ws_body())
        self.create_ws("rg1", "ws2", self.ws_body())
        tok = self.sccctl_arm("token", "create", "--scope", "workspace/ws1").stdout.decode().strip()
        api = Api(self.d, token=tok)
        self.assertEqual(api.get(self.ws_path("rg1", "ws1")).status, 200)
        r = api.call("PATCH", self.ws_path("rg1", "ws1"), {"tags": {"team": "a"}}, version=V_DBX)
        self.assertEqual(r.status, 200, r)
        r = api.put(self.ws_path("rg1", "ws1"), self.ws_body() | {"tags": {"x": "y"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.wait(r).json["status"], "Succeeded")
        for path, ver in ((self.ws_path("rg1", "ws2"), V_DBX), (self.rg_path("rg1"), V_RES),
                          ("/subscriptions/%s/providers/%s/workspaces" % (self.sub, DBX), V_DBX)):
            r = api.get(path, ver)
            self.assertEqual((r.status, r.code), (403, "AuthorizationFailed"), path)
        self.assertEqual(api.delete(self.ws_path("rg1", "ws2")).status, 403)
        # The name was resolved when the token was made: a workspace of the
        # same name created later elsewhere is out of its reach.
        listed = self.sccctl_arm("--output", "json", "token", "list").stdout.decode()
        self.assertIn("workspace/" + self.ws_path("rg1", "ws1"), listed)
        self.make_rg("rg2")
        self.create_ws("rg2", "ws1", self.ws_body())
        r = api.get(self.ws_path("rg2", "ws1"))
        self.assertEqual((r.status, r.code), (403, "AuthorizationFailed"))
        api.close()
        # Now the name is ambiguous: refused, with what to give instead.
        r = self.sccctl_arm("token", "create", "--scope", "workspace/ws1", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"AmbiguousName", r.stderr)
        self.assertIn(b"resource id", r.stderr)
        tok2 = self.sccctl_arm("token", "create", "--scope",
                               "workspace/" + self.ws_path("rg2", "ws1")).stdout.decode().strip()
        api = Api(self.d, token=tok2)
        self.assertEqual(api.get(self.ws_path("rg2", "ws1")).status, 200)
        self.assertEqual(api.get(self.ws_path("rg1", "ws1")).status, 403)
        api.close()


class ApiVersionTest(ArmTest):
    def test_missing_malformed_and_unknown_api_versions(self):
        p = "/subscriptions/" + self.sub
        r = self.api.raw("GET", p)
        self.assertEqual((r.status, r.code), (400, "MissingApiVersionParameter"))
        for bad in ("foo", "2023-13-01", "2023-02-32", "2023-02", "2023-02-01-", "2023-02-01-pre1"):
            r = self.api.raw("GET", p + "?api-version=" + bad)
            self.assertEqual((r.status, r.code), (400, "InvalidApiVersionParameter"), bad)
        for good in ("2018-04-01", "2020-02-15", "2022-04-01-preview", "2023-02-01", "2024-05-01",
                     "2025-03-01", "2025-04-01", "2026-01-01", "2026-06-01", "2031-12-31"):
            self.assertEqual(self.api.raw("GET", p + "?api-version=" + good).status, 200, good)

    def test_workspaces_served_for_every_published_version(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        for i, v in enumerate(("2018-04-01", "2020-02-15", "2022-04-01-preview", "2023-02-01",
                               "2024-05-01", "2026-01-01")):
            body = {"location": "eastus", "sku": {"name": "standard"}, "properties": {}}
            r = self.api.put(self.ws_path("rg1", "wsv%d" % i), body, version=v)
            self.assertEqual(r.status, 201, (v, r))
            self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
            w = self.api.get(self.ws_path("rg1", "wsv%d" % i), version=v).json
            # 2024-05-01 made No Public IP the default.
            self.assertEqual(w["properties"]["parameters"]["enableNoPublicIp"]["value"], v >= "2024-05-01", v)
            self.assertTrue(w["properties"]["managedResourceGroupId"].endswith(
                "/resourceGroups/databricks-rg-wsv%d-" % i + w["properties"]["managedResourceGroupId"][-13:]))


class ProviderTest(ArmTest):
    def test_default_subscription_and_provider_registration(self):
        subs = self.api.get("/subscriptions", V_RES).json["value"]
        self.assertEqual([s["subscriptionId"] for s in subs], [self.sub])
        self.assertEqual(subs[0]["state"], "Enabled")
        provs = {p["namespace"]: p["registrationState"] for p in
                 self.api.get("/subscriptions/%s/providers" % self.sub, V_RES).json["value"]}
        for ns in ("Microsoft.Databricks", "Microsoft.Network", "Microsoft.Resources", "Microsoft.Compute"):
            self.assertEqual(provs[ns], "Registered", ns)
        self.assertEqual(provs["Microsoft.ManagedIdentity"], "NotRegistered")
        p = self.api.get("/subscriptions/%s/providers/microsoft.databricks" % self.sub, V_RES).json
        self.assertEqual(p["namespace"], "Microsoft.Databricks")
        self.assertIn("2026-01-01", p["resourceTypes"][0]["apiVersions"])
        # The SDK's register: POST with an empty body and a JSON content type.
        r = self.api.raw("POST", "/subscriptions/%s/providers/Microsoft.Databricks/unregister?api-version=%s" % (self.sub, V_RES))
        self.assertEqual((r.status, r.json["registrationState"]), (200, "NotRegistered"))
        self.make_rg("rg1")
        r = self.api.put(self.ws_path("rg1", "ws1"), self.ws_body(npip=False))
        self.assertEqual((r.status, r.code), (409, "MissingSubscriptionRegistration"))
        self.register("Microsoft.Databricks")
        r = self.api.get("/subscriptions/%s/providers/Microsoft.Nope" % self.sub, V_RES)
        self.assertEqual((r.status, r.code), (404, "InvalidResourceNamespace"))
        self.assertEqual(self.api.get("/providers/Microsoft.Databricks", V_RES).status, 200)
        ops = self.api.get("/providers/Microsoft.Databricks/operations", V_DBX).json["value"]
        self.assertIn("Microsoft.Databricks/workspaces/write", [o["name"] for o in ops])
        r = self.api.get("/subscriptions/99999999-2222-4333-8444-555555555555/providers", V_RES)
        self.assertEqual((r.status, r.code), (404, "SubscriptionNotFound"))

    def test_new_subscription_needs_managed_identity_for_npip(self):
        out = self.sccctl_arm("--output", "json", "subscription", "create", "--name", "team").stdout
        sub = json.loads(out)["subscriptionId"]
        provs = {p["namespace"]: p["registrationState"] for p in
                 self.api.get("/subscriptions/%s/providers" % sub, V_RES).json["value"]}
        self.assertEqual(provs["Microsoft.ManagedIdentity"], "NotRegistered")
        rg = "/subscriptions/%s/resourcegroups/rg1" % sub
        self.assertEqual(self.api.put(rg, {"location": "eastus"}, V_RES).status, 201)
        ws = "/subscriptions/%s/resourceGroups/rg1/providers/%s/workspaces/ws1" % (sub, DBX)
        body = {"location": "eastus", "sku": {"name": "premium"},
                "properties": {"parameters": {"enableNoPublicIp": {"value": True}}}}
        r = self.api.put(ws, body)
        self.assertEqual((r.status, r.code), (409, "MissingSubscriptionRegistration"))
        self.assertIn("Microsoft.ManagedIdentity", r.json["error"]["message"])
        self.assertIn("register", r.json["error"]["message"].lower())
        self.assertEqual(self.api.get(ws).status, 404)  # nothing was stored
        # Without No Public IP it needs no ManagedIdentity.
        self.assertEqual(self.api.put(ws.replace("ws1", "legacy"), dict(body, properties={
            "parameters": {"enableNoPublicIp": {"value": False}}})).status, 201)
        # The cure: register once, then the same PUT works.
        self.sccctl_arm("provider", "register", "Microsoft.ManagedIdentity", "--subscription", sub)
        r = self.api.put(ws, body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        r = self.sccctl_arm("subscription", "create", "--token", "scca1.x", check=False)
        self.assertEqual(r.returncode, 4)


class ResourceGroupTest(ArmTest):
    def test_resource_group_crud_casing_and_delete_lro(self):
        r = self.api.put(self.rg_path("MyRG"), {"location": "East US", "tags": {"a": "b"}}, V_RES)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["location"], "eastus")
        self.assertEqual(self.api.put(self.rg_path("myrg"), {"location": "eastus"}, V_RES).status, 200)
        g = self.api.get("/subscriptions/%s/resourceGroups/MYRG" % self.sub, V_RES).json
        self.assertEqual(g["id"], "/subscriptions/%s/resourceGroups/MyRG" % self.sub)
        self.assertEqual((g["name"], g["type"], g["properties"]["provisioningState"]),
                         ("MyRG", "Microsoft.Resources/resourceGroups", "Succeeded"))
        self.assertEqual(self.api.call("HEAD", self.rg_path("myrg"), version=V_RES).status, 204)
        self.assertEqual(self.api.call("HEAD", self.rg_path("none"), version=V_RES).status, 404)
        r = self.api.call("PATCH", self.rg_path("myrg"), {"tags": {"c": "d"}}, version=V_RES)
        self.assertEqual((r.status, r.json["tags"]), (200, {"c": "d"}))
        r = self.api.put(self.rg_path("myrg"), {"location": "westus"}, V_RES)
        self.assertEqual((r.status, r.code), (409, "InvalidResourceGroupLocation"))
        r = self.api.put(self.rg_path("bad!name"), {"location": "eastus"}, V_RES)
        self.assertEqual((r.status, r.code), (400, "InvalidResourceGroup"))
        r = self.api.put(self.rg_path("noloc"), {"tags": {}}, V_RES)
        self.assertEqual((r.status, r.code), (400, "LocationRequired"))
        names = [x["name"] for x in self.api.get("/subscriptions/%s/resourcegroups" % self.sub, V_RES).json["value"]]
        self.assertEqual(names, ["MyRG"])
        # A group with resources: delete is an LRO that takes them along.
        self.put_net("MyRG", "networkSecurityGroups", "nsg", {"location": "eastus"})
        r = self.api.delete(self.rg_path("myrg"), V_RES)
        self.assertEqual(r.status, 202, r)
        self.assertIn("/operationresults/", r.headers["location"])
        self.assertTrue(r.headers["location"].startswith("https://"))
        done = self.api.wait(r)
        self.assertIn(done.status, (200, 204))
        r = self.api.get(self.rg_path("myrg"), V_RES)
        self.assertEqual((r.status, r.code), (404, "ResourceGroupNotFound"))
        self.assertEqual(self.api.get(self.net_path("MyRG", "networkSecurityGroups", "nsg"), V_NET).status, 404)
        r = self.api.delete(self.rg_path("myrg"), V_RES)
        self.assertEqual((r.status, r.code), (404, "ResourceGroupNotFound"))


class WorkspaceTest(ArmTest):
    LRO_DELAY = "600ms"

    def test_npip_workspace_with_managed_vnet_full_lifecycle(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        p = self.ws_path("rg1", "ws1")
        r = self.api.put(p, self.ws_body(mrg="mrg-ws1"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["properties"]["provisioningState"], "Accepted")
        aso = r.headers["azure-asyncoperation"]
        self.assertRegex(aso, r"^https://127\.0\.0\.1:\d+/subscriptions/%s/providers/Microsoft\.Databricks/"
                              r"locations/eastus/operationStatuses/[0-9a-f-]{36}\?api-version=2023-02-01$" % self.sub)
        self.assertIn("operationResults", r.headers["location"])
        self.assertIn("NAT gateway", r.headers["warning"])
        self.assertIn("cost", r.headers["warning"])
        st = self.api.raw("GET", self.api.url_path(aso))
        self.assertEqual((st.status, st.json["status"]), (200, "InProgress"))
        self.assertEqual(self.api.get(p).json["properties"]["provisioningState"] in ("Accepted", "Creating"), True)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        w = self.api.get(p).json
        props = w["properties"]
        self.assertEqual(props["provisioningState"], "Succeeded")
        self.assertRegex(props["workspaceId"], r"^[1-9]\d{15}$")
        self.assertRegex(props["workspaceUrl"], r"^adb-%s\.\d+\.scc\.localhost$" % props["workspaceId"])
        self.assertEqual(props["parameters"]["enableNoPublicIp"], {"type": "Bool", "value": True})
        self.assertEqual(props["parameters"]["natGatewayName"]["value"], "nat-gateway")
        self.assertEqual(props["publicNetworkAccess"], "Enabled")
        self.assertEqual(props["requiredNsgRules"], "AllRules")
        for k in ("createdBy", "updatedBy", "createdDateTime", "authorizations", "managedResourceGroupId"):
            self.assertIn(k, props)
        self.assertEqual(w["sku"], {"name": "premium"})
        # The managed resource group: managedBy the workspace, a NAT gateway and its IP.
        mrg = self.api.get(self.rg_path("mrg-ws1"), V_RES).json
        self.assertEqual(mrg["managedBy"], w["id"])
        items = {x["name"]: x for x in self.api.get(self.rg_path("mrg-ws1") + "/resources", V_RES).json["value"]}
        for name in ("workers-vnet", "workers-sg", "nat-gateway", "nat-gw-public-ip", "dbmanagedidentity"):
            self.assertIn(name, items)
        pip = self.api.get(self.net_path("mrg-ws1", "publicIPAddresses", "nat-gw-public-ip"), V_NET).json
        self.assertRegex(pip["properties"]["ipAddress"], r"^203\.0\.113\.\d+$")
        vnet = self.api.get(self.net_path("mrg-ws1", "virtualNetworks", "workers-vnet"), V_NET).json
        self.assertEqual(vnet["properties"]["addressSpace"]["addressPrefixes"], ["10.139.0.0/16"])
        for s in vnet["properties"]["subnets"]:
            self.assertIn("natGateway", s["properties"])
        # PATCH is synchronous (arm-compat finding 5).
        r = self.api.call("PATCH", p, {"tags": {"env": "prod"}}, version=V_DBX)
        self.assertEqual((r.status, r.json["tags"]), (200, {"env": "prod"}))
        self.assertNotIn("azure-asyncoperation", r.headers)
        self.assertNotIn("location", r.headers)
        # Lists, by group and subscription.
        for lp in ("/subscriptions/%s/resourceGroups/rg1/providers/%s/workspaces" % (self.sub, DBX),
                   "/subscriptions/%s/providers/%s/workspaces" % (self.sub, DBX)):
            self.assertEqual([x["name"] for x in self.api.get(lp).json["value"]], ["ws1"])
        # An update is 200 plus an operation, and keeps what it is not told.
        r = self.api.put(p, {"location": "eastus", "properties": {"managedResourceGroupId": props["managedResourceGroupId"]}})
        self.assertEqual((r.status, r.json["properties"]["provisioningState"]), (200, "Updating"))
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        w2 = self.api.get(p).json
        self.assertEqual(w2["properties"]["workspaceId"], props["workspaceId"])
        self.assertEqual(w2["properties"]["parameters"]["enableNoPublicIp"]["value"], True)
        self.assertEqual(w2["tags"], {"env": "prod"})
        # A second write while one runs is a conflict.
        r = self.api.put(p, self.ws_body(mrg="mrg-ws1"))
        r2 = self.api.put(p, self.ws_body(mrg="mrg-ws1"))
        self.assertEqual((r2.status, r2.code), (409, "AnotherOperationInProgress"))
        self.api.wait(r)
        # Location can't move, the managed group can't change.
        r = self.api.put(p, self.ws_body(mrg="mrg-ws1", location="westus"))
        self.assertEqual((r.status, r.code), (409, "InvalidResourceLocation"))
        r = self.api.put(p, self.ws_body(mrg="other"))
        self.assertEqual((r.status, r.code), (400, "InvalidParameter"))
        # DELETE: 202 + Location, 202 while running, then 204; never 404.
        r = self.api.delete(p)
        self.assertEqual(r.status, 202, r)
        loc = self.api.url_path(r.headers["location"])
        first = self.api.raw("GET", loc)
        self.assertEqual(first.status, 202)
        self.assertIn("location", first.headers)
        self.assertEqual(self.api.get(p).json["properties"]["provisioningState"], "Deleting")
        done = self.api.wait(r)
        self.assertEqual(done.status, 204)
        self.assertEqual(self.api.raw("GET", loc).status, 204)
        r = self.api.get(p)
        self.assertEqual((r.status, r.code), (404, "ResourceNotFound"))
        self.assertEqual(self.api.get(self.rg_path("mrg-ws1"), V_RES).status, 404)
        self.assertEqual(self.api.delete(p).status, 204)
        r = self.api.raw("GET", "/subscriptions/%s/providers/Microsoft.Databricks/locations/eastus/"
                                "operationStatuses/00000000-0000-4000-8000-000000000000?api-version=x" % self.sub)
        self.assertEqual(r.status, 400)  # api-version first
        r = self.api.get("/subscriptions/%s/providers/Microsoft.Databricks/locations/eastus/"
                         "operationStatuses/00000000-0000-4000-8000-000000000000" % self.sub)
        self.assertEqual((r.status, r.code), (404, "OperationNotFound"))

    def test_template_casing_and_sku_and_enums(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        body = {"location": "eastus", "sku": {"name": "Premium"}, "properties": {
            "ManagedResourceGroupId": "/subscriptions/%s/resourceGroups/databricks-rg-ws1-x" % self.sub.upper(),
            "publicNetworkAccess": "enabled", "RequiredNsgRules": "allrules",
            "Parameters": {"EnableNoPublicIp": {"value": True}}}}
        r = self.api.put(self.ws_path("rg1", "ws1"), body)
        self.assertEqual(r.status, 201, r)
        self.api.wait(r)
        props = self.api.get(self.ws_path("rg1", "ws1")).json["properties"]
        self.assertEqual(props["managedResourceGroupId"],
                         "/subscriptions/%s/resourceGroups/databricks-rg-ws1-x" % self.sub)
        self.assertEqual((props["publicNetworkAccess"], props["requiredNsgRules"]), ("Enabled", "AllRules"))
        self.assertTrue(props["parameters"]["enableNoPublicIp"]["value"])
        # The managed group may also be given in its provider form.
        body["properties"]["ManagedResourceGroupId"] = \
            "/subscriptions/%s/providers/Microsoft.Resources/resourceGroups/mrg2" % self.sub
        r = self.api.put(self.ws_path("rg1", "ws2"), body)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["properties"]["managedResourceGroupId"].endswith("/resourceGroups/mrg2"))
        self.api.wait(r)

    def test_managed_resource_group_is_locked(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        self.create_ws("rg1", "ws1", self.ws_body(mrg="mrg1"))
        rule = {"properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound",
                               "priority": 300, "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                               "sourcePortRange": "*", "destinationPortRange": "22"}}
        attempts = [
            ("PUT", self.net_path("mrg1", "networkSecurityGroups", "workers-sg") + "/securityRules/ssh", rule, V_NET),
            ("DELETE", self.net_path("mrg1", "natGateways", "nat-gateway"), None, V_NET),
            ("PUT", self.net_path("mrg1", "publicIPAddresses", "mine"), {"location": "eastus"}, V_NET),
            ("PATCH", self.net_path("mrg1", "virtualNetworks", "workers-vnet"), {"tags": {"a": "b"}}, V_NET),
            ("DELETE", self.rg_path("mrg1"), None, V_RES),
            ("PUT", self.rg_path("mrg1"), {"location": "eastus", "tags": {"a": "b"}}, V_RES),
        ]
        for method, path, body, ver in attempts:
            r = self.api.call(method, path, body, version=ver)
            self.assertEqual((r.status, r.code), (403, "DenyAssignmentAuthorizationFailed"), (method, path, r))
            self.assertIn("System deny assignment created by Azure Databricks", r.json["error"]["message"])
        self.assertEqual(self.api.get(self.net_path("mrg1", "networkSecurityGroups", "workers-sg"), V_NET).status, 200)
        self.assertEqual(self.api.get(self.rg_path("mrg1"), V_RES).status, 200)
        # A managed group can't be taken over: it must not exist before.
        self.make_rg("taken")
        r = self.api.put(self.ws_path("rg1", "ws2"), self.ws_body(mrg="taken"))
        self.assertEqual((r.status, r.code), (409, "Conflict"))
        self.assertEqual(self.api.get(self.ws_path("rg1", "ws2")).status, 404)


class BadInputTest(ArmTest):
    def assert_nothing_stored(self):
        r = self.api.get("/subscriptions/%s/resources" % self.sub, V_RES)
        self.assertEqual(r.json["value"], [])
        r = self.api.get("/subscriptions/%s/resourcegroups" % self.sub, V_RES)
        self.assertEqual([x["name"] for x in r.json["value"]], ["rg1"])

    def test_each_bad_input_gets_an_arm_error_and_changes_nothing(self):
        self.make_rg("rg1")
        p = self.ws_path("rg1", "ws1") + "?api-version=" + V_DBX
        cases = [
            (b"{not json", 400, "InvalidRequestContent"),
            (b"[1, 2]", 400, "InvalidRequestContent"),
            (b'{"location": "eastus", "properties": {}} trailing', 400, "InvalidRequestContent"),
            (b'{"location": 42, "properties": {}}', 400, "InvalidRequestContent"),
            (b'{"location": "eastus"}', 400, "InvalidRequestContent"),
            (json.dumps(self.ws_body(npip="true")).encode(), 400, "InvalidParameter"),
            (json.dumps(self.ws_body(npip=False) | {"sku": {"name": "gold"}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "properties": {"publicNetworkAccess": "Sometimes"}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "properties": {"requiredNsgRules": "Most"}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "properties": {"publicNetworkAccess": "Disabled", "requiredNsgRules": "AllRules"}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "properties": {"managedResourceGroupId": "not-an-id"}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "properties": {"parameters": {"customVirtualNetworkId": {"value": "/subscriptions/x"}}}}).encode(), 400, "InvalidParameter"),
            (json.dumps({"location": "eastus", "tags": {"a": 1}, "properties": {}}).encode(), 400, "InvalidTag"),
            (json.dumps({"location": "east us!", "properties": {}}).encode(), 400, "LocationRequired"),
        ]
        for body, status, code in cases:
            r = self.api.raw("PUT", p, body)
            self.assertEqual((r.status, r.code), (status, code), (body, r))
            self.assertTrue(r.headers["content-type"].startswith("application/json"))
            self.assertTrue(r.json["error"]["message"])
        r = self.api.raw("PUT", self.ws_path("rg1", "x") + "?api-version=" + V_DBX, json.dumps(self.ws_body(npip=False)).encode())
        self.assertEqual((r.status, r.code), (400, "InvalidResourceName"))
        self.assert_nothing_stored()

    def test_oversized_unknown_paths_and_verbs(self):
        self.make_rg("rg1")
        big = b'{"location": "eastus", "properties": {"x": "' + b"a" * (5 << 20) + b'"}}'
        r = self.api.raw("PUT", self.ws_path("rg1", "ws1") + "?api-version=" + V_DBX, big)
        self.assertEqual((r.status, r.code), (413, "RequestEntityTooLarge"))
        self.assertIn("4 MiB", r.json["error"]["message"])
        self.api.close()
        for path in ("/nope?api-version=1", "/subscriptions/%s/whatever/x?api-version=%s" % (self.sub, V_RES)):
            r = self.api.raw("GET", path)
            self.assertEqual((r.status, r.code), (404, "NotFound"), path)
        r = self.api.get("/subscriptions/%s/resourceGroups/rg1/providers/%s/clusters/c" % (self.sub, DBX))
        self.assertEqual((r.status, r.code), (404, "InvalidResourceType"))
        r = self.api.get("/subscriptions/%s/resourceGroups/rg1/providers/Microsoft.Nope/things/c" % self.sub)
        self.assertEqual((r.status, r.code), (404, "InvalidResourceNamespace"))
        for method, path in (("POST", self.ws_path("rg1", "ws1")), ("FROB", self.rg_path("rg1")),
                             ("PUT", "/subscriptions/%s/resourcegroups" % self.sub),
                             ("DELETE", "/subscriptions/%s/providers" % self.sub)):
            r = self.api.call(method, path, version=V_DBX)
            self.assertEqual((r.status, r.code), (405, "MethodNotAllowed"), (method, path, r))
        r = self.api.raw("GET", "/subscriptions/%zz/resourcegroups?api-version=" + V_RES)
        self.assertEqual((r.status, r.code), (400, "InvalidRequestUri"))
        self.assert_nothing_stored()

    def raw_socket(self, data, read_all=True):
        host, port = self.d.endpoints["api"].rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=os.path.join(self.d.data, "pki", "ca.crt"))
        s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host)
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_all and out.count(b"HTTP/1.1") >= 2 and out.endswith(b"}"):
                break
        s.close()
        return out

    def test_http_level_errors_are_json_too(self):
        out = self.raw_socket(b"GARBAGE\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        self.assertIn(b"Content-Type: application/json", out)
        self.assertIn(b'"code":"BadRequest"', out)
        out = self.raw_socket(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])
        out = self.raw_socket(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])
        out = self.raw_socket(b"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 501 "), out[:100])

    def test_keepalive_pipelining_chunked_and_expect(self):
        tok = read(os.path.join(self.d.data, "admin.token"))
        auth = b"Authorization: Bearer " + tok.encode() + b"\r\n"
        req = b"GET /subscriptions/" + self.sub.encode() + b"?api-version=2022-12-01 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
        out = self.raw_socket(req + req, read_all=False)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 2, out)
        body = b'{"location": "eastus"}'
        chunked = (b"PUT /subscriptions/" + self.sub.encode() + b"/resourcegroups/chunky?api-version=2025-03-01 HTTP/1.1\r\n"
                   b"Host: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n" + auth +
                   b"\r\n" + b"%x\r\n" % 5 + body[:5] + b"\r\n" + b"%x;ext=1\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\n\r\n")
        out = self.raw_socket(chunked)
        self.assertIn(b"HTTP/1.1 100 Continue", out)
        self.assertIn(b"HTTP/1.1 201 Created", out)
        self.assertEqual(self.api.get(self.rg_path("chunky"), V_RES).status, 200)
        out = self.raw_socket(b"GET /subscriptions/" + self.sub.encode() + b"?api-version=2022-12-01 HTTP/1.0\r\n" + auth + b"\r\n")
        self.assertIn(b"HTTP/1.1 200 OK", out)
        self.assertIn(b"Connection: close", out)


class RestartTest(ArmTest):
    LRO_DELAY = "4s"

    def restart(self):
        self.d.kill(signal.SIGKILL)
        self.d = self.sccd(extra=["--lro-delay", "300ms", "--lro-retry-after", "0"])
        self.api.close()
        self.api = Api(self.d)

    def test_kill_9_in_the_middle_of_operations_then_they_complete(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        self.make_rg("rg2")
        self.put_net("rg2", "networkSecurityGroups", "nsg", {"location": "eastus"})
        r = self.api.put(self.ws_path("rg1", "ws1"), self.ws_body(mrg="mrg1"))
        self.assertEqual(r.status, 201)
        aso = self.api.url_path(r.headers["azure-asyncoperation"])
        d = self.api.delete(self.rg_path("rg2"), V_RES)
        self.assertEqual(d.status, 202)
        time.sleep(1.6)  # inside the first step's wait of 4s / 3
        self.assertEqual(self.api.raw("GET", aso).json["status"], "InProgress")
        self.restart()
        self.assertIn("resuming operation", self.d.text())
        st = self.api.wait(r)
        self.assertEqual(st.json["status"], "Succeeded", st)
        self.assertEqual(self.api.get(self.ws_path("rg1", "ws1")).json["properties"]["provisioningState"], "Succeeded")
        self.assertIn(self.api.wait(d).status, (200, 204))
        self.assertEqual(self.api.get(self.rg_path("rg2"), V_RES).status, 404)
        # The store is sound after the kill: every write still works.
        self.assertEqual(self.api.put(self.rg_path("rg3"), {"location": "eastus"}, V_RES).status, 201)
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(db.execute("SELECT count(*) FROM arm_ops WHERE status = 'InProgress'").fetchone()[0], 0)
        db.close()

    def test_kill_9_during_an_upgrade_that_then_fails_ends_failed(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        vnet = self.injected_vnet()
        self.create_ws("rg1", "ws1", self.ws_body(npip=False, **self.inject_params(vnet)))
        r = self.api.put(self.ws_path("rg1", "ws1"), self.ws_body(npip=True, **self.inject_params(vnet)))
        self.assertEqual(r.status, 200)
        # Compute starts while the upgrade waits; sccd dies; at restart the
        # resumed operation must fail (not hang) and say why.
        self.sccctl_arm("workspace", "set-running-compute", "ws1", "-g", "rg1", "--clusters", "2")
        self.restart()
        st = self.api.wait(r)
        self.assertEqual(st.json["status"], "Failed", st)
        self.assertEqual(st.json["error"]["code"], "WorkspaceUpdateFailed")
        w = self.api.get(self.ws_path("rg1", "ws1")).json
        self.assertEqual(w["properties"]["provisioningState"], "Failed")
        self.assertFalse(w["properties"]["parameters"]["enableNoPublicIp"]["value"])


class CliTest(ArmTest):
    def test_sccctl_workspace_workflow_output_and_exit_codes(self):
        self.sccctl_arm("provider", "register", "Microsoft.ManagedIdentity")
        self.sccctl_arm("group", "create", "rg1", "--location", "eastus", "--tag", "team=data")
        r = self.sccctl_arm("workspace", "create", "ws1", "-g", "rg1", "--location", "eastus",
                            "--no-public-ip", "true", "--wait")
        self.assertIn(b"Succeeded", r.stderr)
        self.assertIn(b"creating the workspace", r.stderr)
        self.assertIn(b"cost", r.stderr)
        self.assertRegex(r.stdout.decode(), r"ws1\s+eastus\s+Succeeded\s+true\s+adb-\d{16}\.")
        out = json.loads(self.sccctl_arm("--output", "json", "workspace", "show", "ws1", "-g", "rg1").stdout)
        self.assertEqual(out["properties"]["provisioningState"], "Succeeded")
        out = json.loads(self.sccctl_arm("workspace", "list", "--output", "json").stdout)
        self.assertEqual([w["name"] for w in out["value"]], ["ws1"])
        r = self.sccctl_arm("workspace", "update", "ws1", "-g", "rg1", "--no-public-ip", "false", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"requires VNet injection", r.stderr)
        self.sccctl_arm("workspace", "tag", "ws1", "-g", "rg1", "--tag", "a=b")
        r = self.sccctl_arm("workspace", "create", "ws2", "-g", "rg1", "--location", "eastus")
        self.assertIn(b"sccctl operation show", r.stderr)
        url = re.search(rb"'(https://[^']+)'", r.stderr).group(1).decode()
        self.sccctl_arm("operation", "wait", url)
        st = json.loads(self.sccctl_arm("--output", "json", "operation", "show", url).stdout)
        self.assertEqual(st["status"], "Succeeded")
        self.assertEqual(self.sccctl_arm("workspace", "show", "nope", "-g", "rg1", check=False).returncode, 3)
        self.assertEqual(self.sccctl_arm("group", "exists", "nope", check=False).returncode, 3)
        self.assertEqual(self.sccctl_arm("group", "show", "rg1", "--token", "bad", check=False).returncode, 4)
        self.assertEqual(self.sccctl_arm("workspace", "create", check=False).returncode, 2)
        self.assertEqual(self.sccctl_arm("workspace", "bogus", "x", "-g", "rg1", check=False).returncode, 2)
        for cmd in ("subscription", "provider", "group", "workspace", "network", "resource", "operation", "token"):
            r = self.sccctl_arm(cmd, "--help")
            self.assertIn(b"usage: sccctl " + cmd.encode(), r.stdout)
        r = subprocess.run([SCCCTL, "--help"], capture_output=True)
        self.assertIn(b"workspace", r.stdout)
        self.sccctl_arm("workspace", "delete", "ws1", "-g", "rg1", "--wait")
        self.sccctl_arm("group", "delete", "rg1", "--wait")
        self.assertEqual(self.sccctl_arm("group", "exists", "rg1", check=False).returncode, 3)
        self.d.kill(signal.SIGKILL)
        self.assertEqual(self.sccctl_arm("group", "list", check=False).returncode, 5)


if __name__ == "__main__":
    unittest.main()
