"""Issue 5: ARM template deployments (Microsoft.Resources/deployments) with
real sccd processes over HTTPS: the seed's NPIP template deployed verbatim
to create a workspace and to update it in place (the SCC upgrade), ARM's
real uniqueString, outputs, dependency order, bad input refused with ARM's
codes and nothing deployed, failing resources, cancel/delete, kill -9
during a deployment, and sccctl deployment."""
import copy
import json
import os
import re
import signal
import sqlite3
import time
import unittest

import test_arm
from test_arm_lib import DBX, V_DBX, V_NET, V_RES, Api, ArmTest, read

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "upgrade-npip-template.json")
SEED = os.path.join(HERE, "..", "..", "..", "shared", "seed", "upgrade-npip-template.json")
SUB1 = "11111111-1111-1111-1111-111111111111"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def murmur64(data):
    """ARM's MurmurHash64 variant (arm-compat.md §4.6), written from the
    spec independently of the C engine, so each checks the other."""
    m = 0xFFFFFFFF
    c1, c2, c3, c4, c5, c6 = 0x239B961B, 0xAB0E9789, 0x561CCD1B, 0x0BCAA747, 0x85EBCA6B, 0xC2B2AE35

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    def fmix(x):
        x ^= x >> 16
        x = (x * c5) & m
        x ^= x >> 13
        x = (x * c6) & m
        return x ^ (x >> 16)

    h1 = h2 = 0
    n, i = len(data), 0
    while i + 8 <= n:
        k1 = int.from_bytes(data[i:i + 4], "little")
        k2 = int.from_bytes(data[i + 4:i + 8], "little")
        h1 ^= (rotl((k1 * c1) & m, 15) * c2) & m
        h1 = ((rotl(h1, 19) + h2) * 5 + c3) & m
        h2 ^= (rotl((k2 * c2) & m, 17) * c1) & m
        h2 = ((rotl(h2, 13) + h1) * 5 + c4) & m
        i += 8
    if n - i > 0:
        h1 ^= (rotl((int.from_bytes(data[i:min(n, i + 4)], "little") * c1) & m, 15) * c2) & m
    if n - i > 4:
        h2 ^= (rotl((int.from_bytes(data[i + 4:n], "little") * c2) & m, 17) * c1) & m
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & m
    h2 = (h2 + h1) & m
    h1, h2 = fmix(h1), fmix(h2)
    h1 = (h1 + h2) & m
    h2 = (h2 + h1) & m
    return (h2 << 32) | h1


def unique_string(*args):
    x = murmur64("-".join(args).encode())
    out = ""
    for _ in range(13):
        out += "abcdefghijklmnopqrstuvwxyz234567"[x >> 59]
        x = (x << 5) & 0xFFFFFFFFFFFFFFFF
    return out


def seed_template():
    with open(FIXTURE) as f:
        return json.load(f)


def template(resources, parameters=None, variables=None, outputs=None):
    t = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": resources}
    for k, v in (("parameters", parameters), ("variables", variables), ("outputs", outputs)):
        if v is not None:
            t[k] = v
    return t


def nsg(name, **extra):
    r = {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": V_NET, "name": name,
         "location": "eastus"}
    r.update(extra)
    return r


class DeployBase(ArmTest):
    LRO_DELAY = "150ms"

    def dep_path(self, rg, name, sub=None):
        return "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Resources/deployments/%s" % (
            sub or self.sub, rg, name)

    def body(self, tmpl, params=None, mode="Incremental"):
        props = {"template": tmpl}
        if mode is not None:
            props["mode"] = mode
        if params is not None:
            props["parameters"] = {k: {"value": v} for k, v in params.items()}
        return {"properties": props}

    def put_dep(self, rg, name, tmpl, params=None, sub=None, **kw):
        return self.api.put(self.dep_path(rg, name, sub), self.body(tmpl, params, **kw), version=V_RES)

    def deploy(self, rg, name, tmpl, params=None, sub=None, expect="Succeeded"):
        r = self.put_dep(rg, name, tmpl, params, sub)
        self.assertIn(r.status, (200, 201), r)
        self.assertEqual(r.json["properties"]["provisioningState"], "Accepted")
        st = self.api.wait(r, timeout=60)
        self.assertEqual(st.json["status"], expect, st)
        g = self.api.get(self.dep_path(rg, name, sub), V_RES)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json["properties"]["provisioningState"], expect)
        return g.json

    def ops(self, rg, name):
        r = self.api.get(self.dep_path(rg, name) + "/operations", V_RES)
        self.assertEqual(r.status, 200, r)
        return {o["properties"]["targetResource"]["resourceName"]: o for o in r.json["value"]}

    def deployments(self, rg):
        r = self.api.get(self.dep_path(rg, "x").rsplit("/", 1)[0], V_RES)
        self.assertEqual(r.status, 200, r)
        return [d["name"] for d in r.json["value"]]

    def fixed_subscription(self):
        """Subscription 1111...: the one ARM's published uniqueString values use."""
        r = self.api.put("/subscriptions/" + SUB1, {"displayName": "fixed"}, version=V_RES)
        self.assertIn(r.status, (200, 201), r)
        self.register("Microsoft.ManagedIdentity", sub=SUB1)
        r = self.api.put("/subscriptions/%s/resourcegroups/rg1" % SUB1, {"location": "eastus"}, version=V_RES)
        self.assertEqual(r.status, 201, r)


class HashTest(unittest.TestCase):
    def test_fixture_is_the_seed_template_byte_for_byte(self):
        with open(FIXTURE, "rb") as f:
            ours = f.read()
        if os.path.exists(SEED):
            with open(SEED, "rb") as f:
                self.assertEqual(ours, f.read())
        self.assertIn(b'"[parameters(\'apiVersion\')]"', ours)

    def test_python_unique_string_matches_published_vectors(self):
        self.assertEqual(unique_string("hello", "world"), "a7wkljktk6wne")
        self.assertEqual(unique_string("tyeth"), "zcztcwvu6iyg6")
        self.assertEqual(unique_string("test"), "rbgf3xv4ufgzg")
        self.assertEqual(unique_string("abc"), "cgtzqvhu4i23s")
        self.assertEqual(unique_string("foo", "bar", "baz"), "xzi4ioaxtmth4")
        self.assertEqual(murmur64(b"test"), 9821328098617019795)


class SeedTest(DeployBase):
    def test_seed_template_creates_a_workspace_then_updates_it_in_place(self):
        self.fixed_subscription()
        tmpl = seed_template()
        first = self.deploy("rg1", "npip", tmpl, {"workspaceName": "ws1"}, sub=SUB1)
        props = first["properties"]
        ws_id = "/subscriptions/%s/resourceGroups/rg1/providers/%s/workspaces/ws1" % (SUB1, DBX)
        self.assertEqual(props["outputResources"], [{"id": ws_id}])
        self.assertEqual(props["parameters"]["location"], {"type": "String", "value": "eastus"})
        self.assertEqual(props["parameters"]["enableNoPublicIp"], {"type": "Bool", "value": True})
        self.assertEqual(props["parameters"]["apiVersion"]["value"], "2023-02-01")
        self.assertEqual(props["mode"], "Incremental")
        self.assertRegex(props["templateHash"], r"^\d+$")
        self.assertRegex(props["duration"], r"^PT\d+\.\d{3}S$")
        self.assertEqual(props["providers"][0]["namespace"], DBX)
        # ARM's real hash: the managed resource group of ws1 in rg1 of subscription 1111...
        self.assertEqual(unique_string("ws1", "/subscriptions/%s/resourceGroups/rg1" % SUB1), "rpm7yh2427vde")
        mrg = "/subscriptions/%s/resourceGroups/databricks-rg-ws1-rpm7yh2427vde" % SUB1
        ws = self.api.get(ws_id).json
        self.assertEqual(ws["properties"]["managedResourceGroupId"], mrg)
        self.assertEqual(ws["properties"]["provisioningState"], "Succeeded")
        self.assertTrue(ws["properties"]["parameters"]["enableNoPublicIp"]["value"])
        self.assertEqual(ws["sku"]["name"], "premium")
        self.assertEqual(ws["properties"]["publicNetworkAccess"], "Enabled")
        self.assertEqual(ws["properties"]["requiredNsgRules"], "AllRules")
        managed = self.api.get(mrg, V_RES)
        self.assertEqual(managed.status, 200, managed)
        self.assertEqual(managed.json["managedBy"], ws_id)
        op = self.api.get(self.dep_path("rg1", "npip", SUB1) + "/operations", V_RES).json["value"]
        self.assertEqual(len(op), 1)
        # The SDKs read operations without the providers segment.
        alias = self.api.get("/subscriptions/%s/resourcegroups/rg1/deployments/npip/operations" % SUB1, V_RES)
        self.assertEqual(alias.json["value"], op)
        one = self.api.get("/subscriptions/%s/resourcegroups/rg1/deployments/npip/operations/%s"
                           % (SUB1, op[0]["operationId"]), V_RES)
        self.assertEqual(one.json, op[0])
        self.assertEqual(op[0]["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(op[0]["properties"]["targetResource"]["id"], ws_id)
        self.assertEqual(op[0]["properties"]["targetResource"]["apiVersion"], "2023-02-01")
        # The same template and workspaceName again: the workspace is updated in place.
        self.deploy("rg1", "npip-again", tmpl, {"workspaceName": "ws1", "pricingTier": "STANDARD"}, sub=SUB1)
        again = self.api.get(ws_id).json
        self.assertEqual(again["properties"]["workspaceId"], ws["properties"]["workspaceId"])
        self.assertEqual(again["properties"]["createdDateTime"], ws["properties"]["createdDateTime"])
        self.assertEqual(again["properties"]["managedResourceGroupId"], mrg)
        self.assertEqual(again["sku"]["name"].lower(), "standard")  # allowedValues ignore case, as ARM
        r = self.api.get(self.dep_path("rg1", "x", SUB1).rsplit("/", 1)[0], V_RES)
        self.assertEqual([d["name"] for d in r.json["value"]], ["npip", "npip-again"])

    def test_seed_template_turns_on_no_public_ip_for_an_injected_workspace(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        vnet = self.injected_vnet()
        self.create_ws("rg1", "ws2", self.ws_body(npip=False, **self.inject_params(vnet)))
        before = self.api.get(self.ws_path("rg1", "ws2")).json
        self.assertFalse(before["properties"]["parameters"]["enableNoPublicIp"]["value"])
        rules_before = self.nsg_rules()
        self.assertEqual(len(rules_before), 8)  # SCC off: SSH and proxy inbound too
        # The managed group the workspace got is the one the template computes.
        expect = "databricks-rg-ws2-" + unique_string("ws2", "/subscriptions/%s/resourceGroups/rg1" % self.sub)
        self.assertTrue(before["properties"]["managedResourceGroupId"].endswith("/" + expect))
        self.deploy("rg1", "upgrade", seed_template(), {"workspaceName": "ws2"})
        after = self.api.get(self.ws_path("rg1", "ws2")).json
        p = after["properties"]
        self.assertTrue(p["parameters"]["enableNoPublicIp"]["value"])
        self.assertEqual(p["parameters"]["customVirtualNetworkId"]["value"], vnet)
        self.assertEqual(p["workspaceId"], before["properties"]["workspaceId"])
        self.assertEqual(p["provisioningState"], "Succeeded")
        rules = self.nsg_rules()
        self.assertEqual(len(rules), 6)  # SCC on: the two inbound rules are gone
        self.assertLess(set(rules), set(rules_before))


class BadInputTest(DeployBase):
    def expect_refused(self, tmpl, params, status, code, needle, name="bad", mode="Incremental", body=None):
        for validate in (False, True):
            path = self.dep_path("rg1", name) + ("/validate" if validate else "")
            b = body if body is not None else self.body(tmpl, params, mode=mode)
            r = self.api.call("POST" if validate else "PUT", path, b, version=V_RES)
            self.assertEqual((r.status, r.code), (status, code), r)
            self.assertIn(needle, r.json["error"]["message"])
            self.assertTrue(r.headers["content-type"].startswith("application/json"))
        return r

    def test_bad_input_is_refused_with_arm_codes_and_nothing_is_deployed(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        seed = seed_template()
        r = self.expect_refused(seed, {"workspaceName": "ws1", "pricingTier": "gold"}, 400, "InvalidTemplate",
                                "The value 'gold' is not part of the allowed value(s)")
        self.assertIn("pricingTier", r.json["error"]["message"])
        self.expect_refused(seed, {}, 400, "InvalidTemplate", "workspaceName")
        self.expect_refused(seed, {"workspaceName": "ws1", "enableNoPublicIp": "true"}, 400, "InvalidTemplate",
                            "Expected 'Boolean'. Actual 'String'")
        self.expect_refused(seed, {"workspaceName": "ws1", "nope": 1}, 400, "InvalidTemplate", "'nope'")
        t = copy.deepcopy(seed)
        t["variables"]["managedResourceGroupName"] = "[concatenate('databricks-rg-', parameters('workspaceName'))]"
        self.expect_refused(t, {"workspaceName": "ws1"}, 400, "InvalidTemplate",
                            "The template function 'concatenate' is not valid")
        t = copy.deepcopy(seed)
        t["resources"][0]["name"] = "[concat('a', parameters('workspaceName')]"
        r = self.expect_refused(t, {"workspaceName": "ws1"}, 400, "InvalidTemplate", "resources[0].name")
        self.assertEqual(r.json["error"].get("target"), "resources[0].name")
        t = copy.deepcopy(seed)
        t["resources"][0]["properties"]["ManagedResourceGroupId"] = "[variables('managedResourceGroupNme')]"
        self.expect_refused(t, {"workspaceName": "ws1"}, 400, "InvalidTemplate",
                            "The template variable 'managedResourceGroupNme' is not found")
        self.expect_refused(seed, {"workspaceName": "ws1"}, 400, "InvalidTemplateDeployment",
                            "'Complete' is not supported", mode="Complete")
        self.expect_refused(seed, {"workspaceName": "ws1"}, 400, "InvalidRequestContent",
                            "'mode'", mode=None)
        self.expect_refused(None, None, 400, "InvalidTemplateDeployment", "templateLink",
                            body={"properties": {"mode": "Incremental",
                                                 "templateLink": {"uri": "https://example.invalid/t.json"}}})
        cyc = template([nsg("a", dependsOn=["b"]), nsg("b", dependsOn=["a"])])
        self.expect_refused(cyc, None, 400, "InvalidTemplate", "Circular dependency")
        bad_api = template([dict(nsg("a"), apiVersion="latest")])
        self.expect_refused(bad_api, None, 400, "InvalidTemplate", "api-version 'latest'")
        self.expect_refused(seed, {"workspaceName": "ws1"}, 400, "DeploymentNameInvalidCharacters",
                            "invalid characters", name="bad%20name")
        # 10 MB of template: the API refuses the body before anything reads it (4 MiB limit).
        big = copy.deepcopy(seed)
        big["metadata"] = {"padding": "x" * (10 << 20)}
        r = self.put_dep("rg1", "big", big, {"workspaceName": "ws1"})
        self.assertEqual((r.status, r.code), (413, "RequestEntityTooLarge"), r)
        self.api.close()
        r = self.put_dep("nope", "ok", seed, {"workspaceName": "ws1"})
        self.assertEqual((r.status, r.code), (404, "ResourceGroupNotFound"), r)
        r = self.api.put("/subscriptions/%s/providers/Microsoft.Resources/deployments/s" % self.sub,
                         self.body(seed, {"workspaceName": "ws1"}), V_RES)
        self.assertEqual((r.status, r.code), (400, "InvalidDeploymentScope"), r)
        # Nothing was recorded or deployed.
        self.assertEqual(self.deployments("rg1"), [])
        self.assertEqual(self.api.get(self.ws_path("rg1", "ws1")).status, 404)
        rgs = [g["name"] for g in self.api.get("/subscriptions/%s/resourcegroups" % self.sub, V_RES).json["value"]]
        self.assertEqual(rgs, ["rg1"])

    def test_validate_accepts_a_good_template_without_deploying(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        r = self.api.call("POST", self.dep_path("rg1", "v") + "/validate",
                          self.body(seed_template(), {"workspaceName": "ws1"}), version=V_RES)
        self.assertEqual(r.status, 200, r)
        p = r.json["properties"]
        self.assertEqual(p["provisioningState"], "Succeeded")
        self.assertEqual([v["id"] for v in p["validatedResources"]], [self.ws_path("rg1", "ws1")])
        self.assertEqual(self.deployments("rg1"), [])
        self.assertEqual(self.api.get(self.ws_path("rg1", "ws1")).status, 404)


class RunTest(DeployBase):
    def test_outputs_order_conditions_and_secure_parameters(self):
        self.make_rg("rg1")
        secret = "S3cret-value-never-stored-4242"
        # rt1 comes first in the template but reads nsg1 through reference():
        # an implicit dependency, so it must wait for nsg1.
        resources = [
            {"type": "Microsoft.Network/routeTables", "apiVersion": V_NET, "name": "rt1", "location": "eastus",
             "tags": {"nsgState": "[reference('nsg1').provisioningState]"}},
            nsg("nsg1", tags={"role": "[parameters('role')]"}),
            {"type": "Microsoft.Network/virtualNetworks", "apiVersion": V_NET, "name": "vnet1", "location": "eastus",
             "dependsOn": ["[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg1')]"],
             "properties": {"addressSpace": {"addressPrefixes": ["10.42.0.0/16"]},
                            "copy": [{"name": "subnets", "count": 2, "input": {
                                "name": "[concat('sn', copyIndex('subnets'))]",
                                "properties": {
                                    "addressPrefix": "[concat('10.42.', copyIndex('subnets'), '.0/24')]",
                                    "networkSecurityGroup": {
                                        "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg1')]"}}}}]}},
            nsg("skipped", condition="[equals(parameters('role'), 'nobody')]"),
        ]
        outputs = {
            "rtState": {"type": "string", "value": "[reference('rt1', '%s', 'Full').tags.nsgState]" % V_NET},
            "subnets": {"type": "int", "value": "[length(reference('vnet1').subnets)]"},
            "nsgId": {"type": "string", "value": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg1')]"},
            "flag": {"type": "bool", "value": "[not(empty(parameters('role')))]"},
            "obj": {"type": "object", "value": "[createObject('rg', resourceGroup().name, 'loc', resourceGroup().location)]"},
            "secret": {"type": "securestring", "value": "[parameters('password')]"},
        }
        params = {"role": {"type": "string", "defaultValue": "web"}, "password": {"type": "securestring"}}
        dep = self.deploy("rg1", "net", template(resources, params, outputs=outputs),
                          {"password": secret})
        out = dep["properties"]["outputs"]
        self.assertEqual(out["rtState"], {"type": "String", "value": "Succeeded"})
        self.assertEqual(out["subnets"], {"type": "Int", "value": 2})
        self.assertEqual(out["nsgId"]["value"], self.net_id("rg1", "networkSecurityGroups", "nsg1"))
        self.assertEqual(out["flag"], {"type": "Bool", "value": True})
        self.assertEqual(out["obj"]["value"], {"rg": "rg1", "loc": "eastus"})
        self.assertEqual(out["secret"], {"type": "SecureString"})
        self.assertEqual(dep["properties"]["parameters"]["password"], {"type": "SecureString"})
        self.assertEqual(sorted(r["id"].rsplit("/", 1)[1] for r in dep["properties"]["outputResources"]),
                         ["nsg1", "rt1", "vnet1"])
        deps = {d["resourceName"]: [x["resourceName"] for x in d["dependsOn"]] for d in dep["properties"]["dependencies"]}
        self.assertEqual(deps, {"rt1": ["nsg1"], "vnet1": ["nsg1"]})
        self.assertEqual(self.api.get(self.net_path("rg1", "networkSecurityGroups", "skipped"), V_NET).status, 404)
        self.assertEqual(sorted(self.ops("rg1", "net")), ["nsg1", "rt1", "vnet1"])
        vnet = self.api.get(self.net_path("rg1", "virtualNetworks", "vnet1"), V_NET).json
        self.assertEqual([s["name"] for s in vnet["properties"]["subnets"]], ["sn0", "sn1"])
        # The secret is nowhere: not in the API, the store or the log.
        self.assertNotIn(secret, json.dumps(dep))
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        dump = "\n".join(db.iterdump())
        db.close()
        self.assertIn("arm_deployments", dump)
        self.assertNotIn(secret, dump)
        self.assertNotIn(secret, self.d.text())
        exported = self.api.call("POST", self.dep_path("rg1", "net") + "/exportTemplate", version=V_RES)
        self.assertEqual(exported.status, 200, exported)
        self.assertEqual(exported.json["template"]["resources"][0]["name"], "rt1")

    def test_a_failing_resource_fails_the_deployment_and_says_which_and_why(self):
        self.make_rg("rg1")
        resources = [
            nsg("good"),
            {"type": "Microsoft.Network/virtualNetworks", "apiVersion": V_NET, "name": "badnet", "location": "eastus",
             "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/33"]}}},
            nsg("after", dependsOn=["badnet"]),
        ]
        dep = self.deploy("rg1", "f", template(resources), expect="Failed")
        err = dep["properties"]["error"]
        self.assertEqual(err["code"], "DeploymentFailed")
        self.assertIn("Microsoft.Network/virtualNetworks/badnet", err["message"])
        self.assertEqual(len(err["details"]), 1)
        detail = err["details"][0]
        self.assertEqual(detail["target"], self.net_id("rg1", "virtualNetworks", "badnet"))
        self.assertIn(detail["code"], ("InvalidCIDRNotation", "InvalidAddressPrefixFormat"))
        st = self.api.raw("GET", self.api.url_path(self.put_status_url("f")))
        self.assertEqual(st.json["status"], "Failed")
        self.assertEqual(st.json["error"]["code"], "DeploymentFailed")
        ops = self.ops("rg1", "f")
        self.assertEqual(ops["good"]["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(ops["badnet"]["properties"]["provisioningState"], "Failed")
        self.assertEqual(ops["badnet"]["properties"]["statusCode"], "BadRequest")
        self.assertEqual(ops["badnet"]["properties"]["statusMessage"]["error"]["code"], detail["code"])
        self.assertNotIn("after", ops)  # its dependency failed: never started
        self.assertEqual(self.api.get(self.net_path("rg1", "networkSecurityGroups", "after"), V_NET).status, 404)
        self.assertEqual(self.api.get(self.net_path("rg1", "networkSecurityGroups", "good"), V_NET).status, 200)

    def put_status_url(self, name):
        """The deployment's operation status URL, as its PUT gave it."""
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        op_id = db.execute("SELECT op_id FROM arm_deployments WHERE name = ?", (name,)).fetchone()[0]
        db.close()
        return "https://x%s/operationStatuses/%s?api-version=%s" % (
            self.dep_path("rg1", name), op_id, V_RES)

    def test_a_workspace_failing_in_its_own_operation_fails_the_deployment(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        vnet = self.injected_vnet()
        tmpl = seed_template()
        ws = tmpl["resources"][0]["properties"]["parameters"]
        ws["customVirtualNetworkId"] = {"value": vnet}
        ws["customPublicSubnetName"] = {"value": "public"}
        ws["customPrivateSubnetName"] = {"value": "no-such-subnet"}
        dep = self.deploy("rg1", "inj", tmpl, {"workspaceName": "wsx"}, expect="Failed")
        detail = dep["properties"]["error"]["details"][0]
        self.assertEqual(detail["target"], self.ws_path("rg1", "wsx"))
        self.assertEqual(detail["code"], "SubnetIsNotWithinVnetError")
        self.assertIn("no-such-subnet", detail["message"])

    def test_a_workspace_scoped_token_cannot_deploy(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        self.create_ws("rg1", "ws1", self.ws_body())
        tok = self.sccctl_arm("token", "create", "--scope", "workspace/ws1").stdout.decode().strip()
        api = Api(self.d, token=tok)
        r = api.put(self.dep_path("rg1", "d"), self.body(seed_template(), {"workspaceName": "ws1"}), V_RES)
        self.assertEqual((r.status, r.code), (403, "AuthorizationFailed"), r)
        api.close()


class LifecycleTest(DeployBase):
    LRO_DELAY = "3s"  # the workspace is still being created when the deployment is canceled

    def test_cancel_delete_conflicts_and_group_delete(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        slow = self.put_dep("rg1", "slow", seed_template(), {"workspaceName": "wsc"})
        self.assertEqual(slow.status, 201, slow)
        r = self.put_dep("rg1", "slow", seed_template(), {"workspaceName": "wsc"})
        self.assertEqual((r.status, r.code), (409, "DeploymentActive"), r)
        r = self.api.delete(self.dep_path("rg1", "slow"), V_RES)
        self.assertEqual((r.status, r.code), (409, "DeploymentActive"), r)
        self.assertEqual(self.api.call("HEAD", self.dep_path("rg1", "slow"), version=V_RES).status, 204)
        self.assertEqual(self.api.call("HEAD", self.dep_path("rg1", "none"), version=V_RES).status, 404)
        r = self.api.call("POST", self.dep_path("rg1", "slow") + "/cancel", version=V_RES)
        self.assertEqual(r.status, 204, r)
        st = self.api.wait(slow)
        self.assertEqual(st.json["status"], "Canceled")
        r = self.api.call("POST", self.dep_path("rg1", "slow") + "/cancel", version=V_RES)
        self.assertEqual((r.status, r.code), (409, "DeploymentNotActive"), r)
        self.assertEqual(self.api.get(self.dep_path("rg1", "slow"), V_RES).json["properties"]["provisioningState"],
                         "Canceled")
        # Deleting a deployment forgets it; its resources stay.
        self.deploy("rg1", "keep", template([nsg("n1")]))
        r = self.api.delete(self.dep_path("rg1", "keep"), V_RES)
        self.assertEqual(r.status, 202, r)
        self.assertIn(self.api.wait(r).status, (200, 204))
        r = self.api.get(self.dep_path("rg1", "keep"), V_RES)
        self.assertEqual((r.status, r.code), (404, "DeploymentNotFound"), r)
        self.assertEqual(self.api.delete(self.dep_path("rg1", "keep"), V_RES).status, 204)
        self.assertEqual(self.api.get(self.net_path("rg1", "networkSecurityGroups", "n1"), V_NET).status, 200)
        # A deployment goes with its resource group.
        self.deploy("rg1", "again", template([nsg("n2")]))
        wait_gone = self.api.delete(self.rg_path("rg1"), V_RES)
        self.assertEqual(wait_gone.status, 202, wait_gone)
        self.api.wait(wait_gone, timeout=30)
        self.make_rg("rg1")
        self.assertEqual(self.deployments("rg1"), [])


class RestartTest(DeployBase):
    LRO_DELAY = "4s"
    restart = test_arm.RestartTest.restart  # kill -9, then a quicker sccd on the same data

    def running_op(self, name, wanted):
        def look():
            db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
            try:
                return db.execute("SELECT count(*) FROM arm_deployment_ops o JOIN arm_deployments d"
                                  " ON o.dep_lc = d.id_lc WHERE d.name = ? AND o.state = 'Running'",
                                  (name,)).fetchone()[0] >= wanted
            finally:
                db.close()
        deadline = time.monotonic() + 10
        while not look():
            self.assertLess(time.monotonic(), deadline, "no resource of %s started" % name)
            time.sleep(0.05)

    def test_kill_9_during_a_deployment_then_it_resumes_and_completes(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        tmpl = seed_template()
        tmpl["resources"].append(nsg("after-ws", dependsOn=["[parameters('workspaceName')]"]))
        tmpl["outputs"] = {"url": {"type": "string",
                                   "value": "[reference(parameters('workspaceName')).workspaceUrl]"}}
        r = self.put_dep("rg1", "long", tmpl, {"workspaceName": "wsk"})
        self.assertEqual(r.status, 201, r)
        self.running_op("long", 1)  # the workspace's own operation is under way
        self.restart()
        self.assertIn("resuming deployment", self.d.text())
        st = self.api.wait(r, timeout=60)
        self.assertEqual(st.json["status"], "Succeeded", st)
        dep = self.api.get(self.dep_path("rg1", "long"), V_RES).json["properties"]
        self.assertRegex(dep["outputs"]["url"]["value"], r"^adb-\d{16}\.")
        self.assertEqual(len(dep["outputResources"]), 2)
        self.assertEqual(self.api.get(self.ws_path("rg1", "wsk")).json["properties"]["provisioningState"],
                         "Succeeded")
        self.assertEqual(self.api.get(self.net_path("rg1", "networkSecurityGroups", "after-ws"), V_NET).status, 200)
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(db.execute("SELECT count(*) FROM arm_deployments WHERE state IN"
                                    " ('Accepted', 'Running')").fetchone()[0], 0)
        self.assertEqual(db.execute("SELECT count(*) FROM arm_ops WHERE status = 'InProgress'").fetchone()[0], 0)
        db.close()

    def test_kill_9_before_progress_was_recorded_puts_the_resource_again(self):
        """A crash between a resource's PUT and the row saying so: the
        resumed run PUTs again, waits out the resource's own resumed
        operation (409 AnotherOperationInProgress), and completes."""
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        r = self.put_dep("rg1", "again", seed_template(), {"workspaceName": "wsa"})
        self.assertEqual(r.status, 201, r)
        self.running_op("again", 1)
        self.d.kill(signal.SIGKILL)
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        db.execute("DELETE FROM arm_deployment_ops")
        db.commit()
        self.assertEqual(db.execute("SELECT count(*) FROM arm_ops WHERE status = 'InProgress'").fetchone()[0], 1)
        db.close()
        self.d = self.sccd(extra=["--lro-delay", "1s", "--lro-retry-after", "0"])
        self.api.close()
        self.api = Api(self.d)
        st = self.api.wait(r, timeout=60)
        self.assertEqual(st.json["status"], "Succeeded", st)
        self.assertIn("is busy with its own operation; PUT again", self.d.text())
        ws = self.api.get(self.ws_path("rg1", "wsa")).json
        self.assertEqual(ws["properties"]["provisioningState"], "Succeeded")
        ops = self.ops("rg1", "again")
        self.assertEqual(ops["wsa"]["properties"]["provisioningState"], "Succeeded")

    def test_kill_9_with_secure_parameters_ends_failed_saying_why(self):
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")
        tmpl = seed_template()
        tmpl["parameters"]["adminSecret"] = {"type": "secureString"}
        tmpl["outputs"] = {"s": {"type": "securestring", "value": "[parameters('adminSecret')]"}}
        secret = "another-secret-7c1e"
        r = self.put_dep("rg1", "sec", tmpl, {"workspaceName": "wss", "adminSecret": secret})
        self.assertEqual(r.status, 201, r)
        self.running_op("sec", 1)
        self.restart()
        st = self.api.wait(r, timeout=30)
        self.assertEqual(st.json["status"], "Failed", st)
        self.assertEqual(st.json["error"]["code"], "DeploymentFailed")
        self.assertEqual(st.json["error"]["details"][0]["code"], "DeploymentInterrupted")
        self.assertIn("adminSecret", st.json["error"]["details"][0]["message"])
        # The workspace's own operation still completes.
        ws = self.api.get(self.ws_path("rg1", "wss")).json
        self.assertIn(ws["properties"]["provisioningState"], ("Accepted", "Succeeded"))
        db = sqlite3.connect(os.path.join(self.d.data, "scc.db"))
        self.assertNotIn(secret, "\n".join(db.iterdump()))
        db.close()


class CliTest(DeployBase):
    LRO_DELAY = "2s"  # long enough to see the workspace Running

    def test_sccctl_deployment_commands(self):
        self.sccctl_arm("provider", "register", "Microsoft.ManagedIdentity")
        self.sccctl_arm("group", "create", "rg1", "--location", "eastus")
        pfile = self.path("params.json")
        with open(pfile, "w") as f:
            json.dump({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
                       "contentVersion": "1.0.0.0",
                       "parameters": {"workspaceName": {"value": "from-file"}, "pricingTier": {"value": "trial"}}}, f)
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", FIXTURE,
                            "--parameters", "@" + pfile, "--parameters", "workspaceName=wscli",
                            "--parameters", "enableNoPublicIp=false")
        err = r.stderr.decode()
        self.assertIn("deployment upgrade-npip-template: Accepted", err)
        self.assertRegex(err, r"Microsoft\.Databricks/workspaces wscli: Running")
        self.assertRegex(err, r"Microsoft\.Databricks/workspaces wscli: Succeeded")
        self.assertRegex(err, r"deployment upgrade-npip-template: Succeeded")
        self.assertRegex(r.stdout.decode(), r"upgrade-npip-template\s+Succeeded")
        ws = self.api.get(self.ws_path("rg1", "wscli")).json
        self.assertEqual(ws["sku"]["name"], "trial")
        self.assertFalse(ws["properties"]["parameters"]["enableNoPublicIp"]["value"])
        out = json.loads(self.sccctl_arm("--output", "json", "deployment", "show", "upgrade-npip-template",
                                         "-g", "rg1").stdout)
        self.assertEqual(out["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(out["properties"]["parameters"]["pricingTier"]["value"], "trial")
        r = self.sccctl_arm("deployment", "list", "-g", "rg1")
        self.assertIn(b"upgrade-npip-template", r.stdout)
        r = self.sccctl_arm("deployment", "operations", "upgrade-npip-template", "-g", "rg1")
        self.assertRegex(r.stdout.decode(), r"Microsoft\.Databricks/workspaces\s+wscli\s+Succeeded")
        r = self.sccctl_arm("deployment", "export", "upgrade-npip-template", "-g", "rg1")
        self.assertEqual(json.loads(r.stdout), seed_template())
        r = self.sccctl_arm("deployment", "validate", "-g", "rg1", "--template-file", FIXTURE,
                            "--parameters", "workspaceName=v")
        self.assertIn(b"valid", r.stderr)
        # Outputs are printed.
        tfile = self.path("out.json")
        with open(tfile, "w") as f:
            json.dump(template([nsg("cli-nsg")], {"n": {"type": "int"}},
                               outputs={"twice": {"type": "int", "value": "[mul(parameters('n'), 2)]"}}), f)
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", tfile, "--name", "outs",
                            "--parameters", "n=21")
        self.assertIn(b"output twice (Int) = 42", r.stdout)
        # Failures exit 1 and say why.
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", FIXTURE,
                            "--parameters", "workspaceName=x", "--parameters", "pricingTier=gold", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"InvalidTemplate", r.stderr)
        self.assertIn(b"gold", r.stderr)
        with open(tfile, "w") as f:
            json.dump(template([nsg("ok2"), {"type": "Microsoft.Network/virtualNetworks", "apiVersion": V_NET,
                                             "name": "bad", "location": "eastus",
                                             "properties": {"addressSpace": {"addressPrefixes": ["nope"]}}}]), f)
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", tfile, "--name", "fails",
                            check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"DeploymentFailed", r.stderr)
        self.assertRegex(r.stderr.decode(), r"virtualNetworks/bad: Invalid")
        self.assertRegex(r.stderr.decode(), r"Microsoft\.Network/virtualNetworks bad: Failed")
        big = seed_template()
        big["metadata"] = {"padding": "y" * (10 << 20)}
        with open(tfile, "w") as f:
            json.dump(big, f)
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", tfile,
                            "--parameters", "workspaceName=big", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"RequestEntityTooLarge", r.stderr)
        r = self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", FIXTURE, "--no-wait",
                            "--name", "nowait", "--parameters", "workspaceName=wsnw")
        self.assertIn(b"sccctl deployment show nowait", r.stderr)
        self.assertEqual(self.sccctl_arm("deployment", "create", "-g", "rg1", check=False).returncode, 2)
        self.assertEqual(self.sccctl_arm("deployment", "create", "-g", "rg1", "--template-file", FIXTURE,
                                         "--parameters", "enableNoPublicIp=maybe", check=False).returncode, 2)
        self.sccctl_arm("deployment", "delete", "outs", "-g", "rg1")
        self.assertEqual(self.sccctl_arm("deployment", "show", "outs", "-g", "rg1", check=False).returncode, 3)
        r = self.sccctl_arm("deployment", "--help")
        self.assertIn(b"usage: sccctl deployment", r.stdout)


if __name__ == "__main__":
    unittest.main()
