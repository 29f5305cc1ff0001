"""Issue 3: Microsoft.Network resources, VNet injection, the NSG rules a
workspace writes for its mode and their protection, the SCC upgrade and
its rollback (network-compat.md §1-4, §6)."""
import json
import unittest

from test_arm_lib import V_DBX, V_NET, V_RES, ArmTest

PREFIX = "Microsoft.Databricks-workspaces_UseOnly_databricks-"
SCC_ON = {PREFIX + s for s in ("worker-to-worker-inbound", "worker-to-databricks-webapp", "worker-to-sql",
                               "worker-to-storage", "worker-to-worker-outbound", "worker-to-eventhub")}
SCC_OFF = SCC_ON | {PREFIX + "control-plane-to-worker-ssh", PREFIX + "control-plane-to-worker-proxy"}
PRIVATE_LINK = SCC_ON - {PREFIX + "worker-to-databricks-webapp"}


def rule(prio, direction="Inbound", port="443", name=None):
    r = {"properties": {"protocol": "Tcp", "access": "Allow", "direction": direction, "priority": prio,
                        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                        "sourcePortRange": "*", "destinationPortRange": port}}
    if name:
        r["name"] = name
    return r


class NetworkResourceTest(ArmTest):
    def test_vnet_subnets_validation_and_child_endpoints(self):
        self.make_rg("rg1")
        base = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}
        cases = [
            ({"addressSpace": {"addressPrefixes": ["10.1.0.1/16"]}}, "InvalidCIDRNotation"),
            ({"addressSpace": {"addressPrefixes": ["10.1.0.0/33"]}}, "InvalidAddressPrefixFormat"),
            ({"addressSpace": {"addressPrefixes": ["10.1.0.0/16", "10.1.5.0/24"]}}, "VnetAddressSpacesOverlap"),
            ({"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
              "subnets": [{"name": "a", "properties": {"addressPrefix": "10.2.0.0/24"}}]}, "NetcfgSubnetRangeOutsideVnet"),
            ({"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
              "subnets": [{"name": "a", "properties": {"addressPrefix": "10.1.0.0/24"}},
                          {"name": "b", "properties": {"addressPrefix": "10.1.0.128/25"}}]}, "NetcfgSubnetRangesOverlap"),
            ({"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
              "subnets": [{"name": "a", "properties": {"addressPrefix": "10.1.0.0/24",
                                                       "networkSecurityGroup": {"id": self.net_id("rg1", "networkSecurityGroups", "none")}}}]},
             "InvalidResourceReference"),
        ]
        for props, code in cases:
            r = self.put_net("rg1", "virtualNetworks", "v", {"location": "eastus", "properties": props}, expect=None)
            self.assertEqual((r.status, r.code), (400, code), r)
        self.assertEqual(self.api.get(self.net_path("rg1", "virtualNetworks", "v"), V_NET).status, 404)
        # Network RP LRO shape: 201, Updating, Azure-AsyncOperation already Succeeded.
        r = self.put_net("rg1", "virtualNetworks", "v", base)
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["properties"]["provisioningState"], "Updating")
        self.assertIn("/providers/Microsoft.Network/locations/eastus/operations/", r.headers["azure-asyncoperation"])
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        v = self.api.get(self.net_path("rg1", "virtualNetworks", "v"), V_NET).json
        self.assertEqual(v["properties"]["provisioningState"], "Succeeded")
        self.assertRegex(v["etag"], r'^W/"[0-9a-f-]{36}"$')
        # Subnet child endpoints, delegation output shape.
        sp = self.net_path("rg1", "virtualNetworks", "v") + "/subnets/s1"
        r = self.api.put(sp, {"properties": {"addressPrefix": "10.1.1.0/24", "delegations": [
            {"name": "d", "properties": {"serviceName": "Microsoft.Databricks/workspaces"}}]}}, version=V_NET)
        self.assertEqual(r.status, 201, r)
        d = r.json["properties"]["delegations"][0]
        self.assertEqual(d["type"], "Microsoft.Network/virtualNetworks/subnets/delegations")
        self.assertEqual(d["id"], sp + "/delegations/d")
        self.assertEqual(len(d["properties"]["actions"]), 3)
        self.assertEqual(self.api.get(sp, V_NET).json["name"], "s1")
        self.assertEqual([s["name"] for s in self.api.get(sp.rsplit("/", 1)[0], V_NET).json["value"]], ["s1"])
        r = self.api.put(sp.replace("s1", "s2"), {"properties": {"addressPrefix": "10.1.1.128/25"}}, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "NetcfgSubnetRangesOverlap"))
        r = self.api.delete(sp, V_NET)
        self.assertEqual(r.status, 202)
        self.assertEqual(self.api.get(sp, V_NET).status, 404)
        self.assertEqual(self.api.delete(sp, V_NET).status, 204)
        # Newer api-versions make subnets private by default.
        r = self.put_net("rg1", "virtualNetworks", "v2", {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
            "subnets": [{"name": "a", "properties": {"addressPrefix": "10.2.0.0/24"}}]}})
        self.assertNotIn("defaultOutboundAccess", r.json["properties"]["subnets"][0]["properties"])
        r = self.api.put(self.net_path("rg1", "virtualNetworks", "v3"), {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.3.0.0/16"]},
            "subnets": [{"name": "a", "properties": {"addressPrefix": "10.3.0.0/24"}}]}}, version="2025-07-01")
        self.assertIs(r.json["properties"]["subnets"][0]["properties"]["defaultOutboundAccess"], False)
        # PATCH is tags only and synchronous; list per group and subscription.
        r = self.api.call("PATCH", self.net_path("rg1", "virtualNetworks", "v"), {"tags": {"a": "b"}}, version=V_NET)
        self.assertEqual((r.status, r.json["tags"]), (200, {"a": "b"}))
        names = [x["name"] for x in self.api.get("/subscriptions/%s/providers/Microsoft.Network/virtualNetworks" % self.sub, V_NET).json["value"]]
        self.assertEqual(names, ["v", "v2", "v3"])

    def test_nsg_rules_defaults_conflicts_and_child_rules(self):
        self.make_rg("rg1")
        r = self.put_net("rg1", "networkSecurityGroups", "n", {"location": "eastus", "properties": {
            "securityRules": [rule(100, name="a"), dict(rule(200, "Outbound", name="b"),
                                                       properties=dict(rule(200, "Outbound")["properties"],
                                                                       destinationPortRange=None,
                                                                       destinationPortRanges=["443", "8443-8451"]))]}})
        p = r.json["properties"]
        self.assertEqual([x["name"] for x in p["defaultSecurityRules"]],
                         ["AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound",
                          "AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound"])
        a = p["securityRules"][0]["properties"]
        self.assertEqual((a["destinationPortRange"], a["destinationPortRanges"]), ("443", []))
        self.assertEqual(p["securityRules"][1]["properties"]["destinationPortRanges"], ["443", "8443-8451"])
        bad = [
            ([rule(100, name="a"), rule(100, name="b")], "SecurityRuleConflict"),
            ([rule(99, name="a")], "SecurityRuleInvalidPriority"),
            ([dict(rule(100, name="a"), properties=dict(rule(100)["properties"], protocol="Gre"))], "InvalidSecurityRule"),
            ([dict(rule(100, name="a"), properties=dict(rule(100)["properties"], sourceAddressPrefix="10.0.0.0/99"))],
             "SecurityRuleInvalidAddressPrefix"),
            ([dict(rule(100, name="a"), properties=dict(rule(100)["properties"], destinationPortRange="70000"))],
             "SecurityRuleInvalidAddressPrefix"),
        ]
        for rules, code in bad:
            r = self.put_net("rg1", "networkSecurityGroups", "n", {"location": "eastus", "properties": {"securityRules": rules}}, expect=None)
            self.assertEqual((r.status, r.code), (400, code), r)
        rules = self.net_path("rg1", "networkSecurityGroups", "n") + "/securityRules/"
        r = self.api.put(rules + "c", rule(300, port="22"), version=V_NET)
        self.assertEqual(r.status, 201, r)
        # (Not a replace of "/c": a subscription id may start with c.)
        r = self.api.put(rules + "d", rule(300, port="22"), version=V_NET)
        self.assertEqual((r.status, r.code), (400, "SecurityRuleConflict"))
        self.assertEqual(len(self.nsg_rules(nsg="n")), 3)
        r = self.api.get(self.net_path("rg1", "networkSecurityGroups", "n") + "/defaultSecurityRules/DenyAllInBound", V_NET)
        self.assertEqual(r.json["properties"]["access"], "Deny")

    def test_if_match_and_if_none_match_guard_writes_with_etags(self):
        self.make_rg("rg1")
        path = self.net_path("rg1", "networkSecurityGroups", "g")
        body = {"location": "eastus", "properties": {"securityRules": [rule(100, name="a")]}}

        def put(b, **h):
            return self.api.call("PUT", path, b, version=V_NET, headers=h)
        # Create-only: If-None-Match: * works once.
        self.assertEqual(put(body, **{"If-None-Match": "*"}).status, 201)
        r = put(body, **{"If-None-Match": "*"})
        self.assertEqual((r.status, r.code), (412, "PreconditionFailed"), r)
        tag = self.api.get(path, V_NET).json["etag"]
        self.assertRegex(tag, r'^W/"[0-9a-f-]{36}"$')
        # A stale or unknown etag changes nothing; the current one writes.
        changed = dict(body, tags={"t": "1"})
        for stale in ('W/"00000000-0000-0000-0000-000000000000"', "x" * 300):
            r = put(changed, **{"If-Match": stale})
            self.assertEqual((r.status, r.code), (412, "PreconditionFailed"), r)
        self.assertEqual(self.api.get(path, V_NET).json["etag"], tag)
        self.assertNotIn("tags", self.api.get(path, V_NET).json)
        self.assertEqual(put(changed, **{"If-Match": 'W/"nope", ' + tag}).status, 200)
        new = self.api.get(path, V_NET).json["etag"]
        self.assertNotEqual(new, tag)  # every write changes it
        # Children have their own etags; DELETE honours If-Match too.
        child = path + "/securityRules/a"
        ctag = self.api.get(child, V_NET).json["etag"]
        r = self.api.call("DELETE", child, version=V_NET, headers={"If-Match": tag})
        self.assertEqual((r.status, r.code), (412, "PreconditionFailed"), r)
        r = self.api.call("DELETE", child, version=V_NET, headers={"If-Match": ctag})
        self.assertEqual(r.status, 202, r)
        new = self.api.get(path, V_NET).json["etag"]
        r = self.api.call("DELETE", path, version=V_NET, headers={"If-Match": tag})
        self.assertEqual((r.status, r.code), (412, "PreconditionFailed"), r)
        self.assertEqual(self.api.get(path, V_NET).status, 200)
        self.assertEqual(self.api.call("DELETE", path, version=V_NET, headers={"If-Match": new}).status, 202)
        # If-Match on something that does not exist fails; "*" needs it to exist.
        r = put(body, **{"If-Match": "*"})
        self.assertEqual((r.status, r.code), (412, "PreconditionFailed"), r)
        self.assertEqual(self.api.get(path, V_NET).status, 404)

    def test_public_ips_nat_gateways_and_references(self):
        self.make_rg("rg1")
        r = self.put_net("rg1", "publicIPAddresses", "p1", {"location": "eastus", "sku": {"name": "Standard"},
                                                          "properties": {"publicIPAllocationMethod": "Static"}})
        ip = r.json["properties"]["ipAddress"]
        self.assertRegex(ip, r"^203\.0\.113\.\d+$")
        r = self.put_net("rg1", "publicIPAddresses", "p1", {"location": "eastus", "tags": {"t": "1"}})
        self.assertEqual(r.json["properties"]["ipAddress"], ip)  # stable
        r = self.put_net("rg1", "publicIPAddresses", "p2", {"location": "eastus"})
        self.assertNotEqual(r.json["properties"]["ipAddress"], ip)
        for body, code in (({"location": "eastus", "properties": {"publicIPAllocationMethod": "Dynamic"}},
                            "StandardSkuPublicIPAddressesMustBeStatic"),
                           ({"location": "eastus", "sku": {"name": "Basic"}}, "InvalidSku")):
            r = self.put_net("rg1", "publicIPAddresses", "p3", body, expect=None)
            self.assertEqual((r.status, r.code), (400, code))
        pip = {"id": self.net_id("rg1", "publicIPAddresses", "p1")}
        r = self.put_net("rg1", "natGateways", "nat", {"location": "eastus", "sku": {"name": "Standard"},
                                                      "properties": {"publicIpAddresses": [pip]}})
        self.assertEqual(r.json["properties"]["idleTimeoutInMinutes"], 4)
        r = self.put_net("rg1", "natGateways", "nat2", {"location": "eastus", "properties": {"publicIpAddresses": [pip]}}, expect=None)
        self.assertEqual((r.status, r.code), (400, "PublicIPAddressInUse"))
        r = self.put_net("rg1", "natGateways", "nat3", {"location": "eastus", "properties": {"idleTimeoutInMinutes": 121}}, expect=None)
        self.assertEqual(r.status, 400)
        p1 = self.api.get(self.net_path("rg1", "publicIPAddresses", "p1"), V_NET).json
        self.assertEqual(p1["properties"]["natGateway"]["id"], self.net_id("rg1", "natGateways", "nat"))
        r = self.api.delete(self.net_path("rg1", "publicIPAddresses", "p1"), V_NET)
        self.assertEqual((r.status, r.code), (400, "PublicIPAddressInUse"))
        # A subnet on the NAT gateway shows up on the gateway.
        self.put_net("rg1", "virtualNetworks", "v", {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.5.0.0/16"]},
            "subnets": [{"name": "s", "properties": {"addressPrefix": "10.5.0.0/24",
                                                     "natGateway": {"id": self.net_id("rg1", "natGateways", "nat")}}}]}})
        nat = self.api.get(self.net_path("rg1", "natGateways", "nat"), V_NET).json
        self.assertEqual(nat["properties"]["subnets"], [{"id": self.net_id("rg1", "virtualNetworks", "v") + "/subnets/s"}])
        r = self.api.delete(self.net_path("rg1", "natGateways", "nat"), V_NET)
        self.assertEqual((r.status, r.code), (400, "InUseNatGatewayCannotBeDeleted"))

    def test_route_tables_firewalls_load_balancers_and_nics(self):
        self.make_rg("rg1")
        r = self.put_net("rg1", "routeTables", "rt", {"location": "eastus", "properties": {"routes": [
            {"name": "fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance"}}]}}, expect=None)
        self.assertEqual((r.status, r.code), (400, "InvalidNextHopIpAddress"))
        r = self.put_net("rg1", "routeTables", "rt", {"location": "eastus", "properties": {"routes": [
            {"name": "fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "virtualappliance",
                                          "nextHopIpAddress": "10.100.1.4"}},
            {"name": "adb", "properties": {"addressPrefix": "AzureDatabricks", "nextHopType": "Internet"}}]}})
        self.assertEqual(r.json["properties"]["routes"][0]["properties"]["nextHopType"], "VirtualAppliance")
        self.put_net("rg1", "publicIPAddresses", "fwip", {"location": "eastus"})
        self.put_net("rg1", "virtualNetworks", "hub", {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.100.0.0/16"]},
            "subnets": [{"name": "AzureFirewallSubnet", "properties": {"addressPrefix": "10.100.1.0/26"}},
                        {"name": "work", "properties": {"addressPrefix": "10.100.2.0/24"}}]}})
        hub = self.net_id("rg1", "virtualNetworks", "hub")
        fw = {"location": "eastus", "properties": {
            "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": hub + "/subnets/AzureFirewallSubnet"},
                                                              "publicIPAddress": {"id": self.net_id("rg1", "publicIPAddresses", "fwip")}}}],
            "networkRuleCollections": [{"name": "net", "properties": {"priority": 100, "action": {"type": "Allow"}, "rules": [
                {"name": "relay", "protocols": ["TCP"], "sourceAddresses": ["10.179.0.0/16"],
                 "destinationAddresses": ["AzureDatabricks"], "destinationPorts": ["443"]}]}}],
            "applicationRuleCollections": [{"name": "app", "properties": {"priority": 200, "action": {"type": "Allow"}, "rules": [
                {"name": "r", "sourceAddresses": ["*"], "protocols": [{"protocolType": "Https", "port": 443}],
                 "targetFqdns": ["tunnel.eastus.azuredatabricks.net"]}]}}]}}
        r = self.put_net("rg1", "azureFirewalls", "fw", dict(fw, properties=dict(fw["properties"], firewallPolicy={"id": "x"})), expect=None)
        self.assertEqual((r.status, r.code), (400, "FirewallPolicyNotSupported"))
        r = self.put_net("rg1", "azureFirewalls", "fw", fw)
        self.assertEqual(r.json["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"], "10.100.1.4")
        nic = lambda ip=None: {"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig", "properties": dict(
            {"subnet": {"id": hub + "/subnets/work"}}, **({"privateIPAllocationMethod": "Static", "privateIPAddress": ip} if ip else {}))}]}}
        a = self.put_net("rg1", "networkInterfaces", "nic1", nic()).json
        b = self.put_net("rg1", "networkInterfaces", "nic2", nic()).json
        ips = [x["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] for x in (a, b)]
        self.assertEqual(ips, ["10.100.2.4", "10.100.2.5"])  # Azure reserves .0-.3
        self.assertRegex(a["properties"]["macAddress"], r"^00-0D-3A-")
        for ip, code in (("10.100.2.4", "PrivateIPAddressInUse"), ("10.100.2.2", "PrivateIPAddressNotInSubnet"),
                         ("10.100.3.9", "PrivateIPAddressNotInSubnet")):
            r = self.put_net("rg1", "networkInterfaces", "nic3", nic(ip), expect=None)
            self.assertEqual((r.status, r.code), (400, code), ip)
        self.assertEqual(self.put_net("rg1", "networkInterfaces", "nic3", nic("10.100.2.200")).status, 201)
        sub = self.api.get(hub + "/subnets/work", V_NET).json
        self.assertEqual(len(sub["properties"]["ipConfigurations"]), 3)
        r = self.api.put(hub + "/subnets/work", {"properties": {"addressPrefix": "10.100.2.0/24"}}, version=V_NET)
        self.assertEqual(r.status, 200)
        hubbody = self.api.get(hub, V_NET).json
        hubbody["properties"]["subnets"] = [s for s in hubbody["properties"]["subnets"] if s["name"] != "work"]
        r = self.api.put(hub, hubbody, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "InUseSubnetCannotBeDeleted"))
        self.assertEqual(self.api.delete(hub, V_NET).status, 400)
        lb = {"location": "eastus", "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": self.net_id("rg1", "publicIPAddresses", "lbip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "outboundRules": [{"name": "out", "properties": {
                "frontendIPConfigurations": [{"id": self.net_id("rg1", "loadBalancers", "lb") + "/frontendIPConfigurations/fe"}],
                "backendAddressPool": {"id": self.net_id("rg1", "loadBalancers", "lb") + "/backendAddressPools/pool"},
                "allocatedOutboundPorts": 8, "protocol": "All"}}]}}
        r = self.put_net("rg1", "loadBalancers", "lb", lb, expect=None)
        self.assertEqual((r.status, r.code), (400, "InvalidResourceReference"))
        self.put_net("rg1", "publicIPAddresses", "lbip", {"location": "eastus"})
        r = self.put_net("rg1", "loadBalancers", "lb", lb)
        self.assertEqual(r.json["properties"]["outboundRules"][0]["properties"]["allocatedOutboundPorts"], 8)
        # Deleting NICs and the firewall frees the subnet.
        for name in ("nic1", "nic2", "nic3"):
            self.assertEqual(self.api.delete(self.net_path("rg1", "networkInterfaces", name), V_NET).status, 202)
        self.assertEqual(self.api.delete(self.net_path("rg1", "azureFirewalls", "fw"), V_NET).status, 202)
        r = self.api.delete(hub, V_NET)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")


class VnetInjectionTest(ArmTest):
    def setUp(self):
        super().setUp()
        self.register("Microsoft.ManagedIdentity")
        self.make_rg("rg1")

    def put_ws(self, name, expect_status, code=None, **kw):
        npip = kw.pop("npip", True)
        r = self.api.put(self.ws_path("rg1", name), self.ws_body(npip=npip, **kw))
        self.assertEqual((r.status, r.code) if code else r.status, (expect_status, code) if code else expect_status, r)
        return r

    def test_sync_checks_of_network_compat_6(self):
        vnet = self.injected_vnet()
        ip = self.inject_params(vnet)
        self.put_ws("ws-1", 400, "InvalidParameter", customVirtualNetworkId=vnet)
        self.put_ws("ws-1", 400, "InvalidParameter", **dict(ip, customVirtualNetworkId=vnet.replace("vnet1", "nope")))
        self.put_ws("ws-1", 400, "InvalidParameter", **dict(ip, customPrivateSubnetName="public"))
        r = self.put_ws("ws-1", 400, "InvalidParameter", location="westus", **ip)
        self.assertIn("region", r.json["error"]["message"])
        nsg_id = self.net_id("rg1", "networkSecurityGroups", "nsg1")
        dlg = [{"name": "d", "properties": {"serviceName": "Microsoft.Databricks/workspaces"}}]
        self.put_net("rg1", "virtualNetworks", "big", {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.32.0.0/12"]},
            "subnets": [{"name": n, "properties": {"addressPrefix": "10.32.%d.0/24" % i, "delegations": dlg,
                                                   "networkSecurityGroup": {"id": nsg_id}}}
                        for i, n in enumerate(("public", "private"))]}})
        r = self.put_ws("ws-1", 400, "InvalidParameter", **self.inject_params(self.net_id("rg1", "virtualNetworks", "big")))
        self.assertIn("between /16 and /24", r.json["error"]["message"])
        small = self.injected_vnet(vnet="small", nsg="nsgs", prefix="10.180", sizes=(27, 24))
        r = self.put_ws("ws-1", 400, "InvalidParameter", **self.inject_params(small))
        self.assertIn("/26", r.json["error"]["message"])
        nodel = self.injected_vnet(vnet="nodel", nsg="nsgn", prefix="10.181", delegate=False)
        r = self.put_ws("ws-1", 400, "InvalidParameter", **self.inject_params(nodel))
        self.assertIn("required public subnet delegation to Microsoft.Databricks/workspaces on public not found",
                      r.json["error"]["message"])
        nonsg = self.injected_vnet(vnet="nonsg", nsg="nsgx", prefix="10.182")
        vb = self.api.get(nonsg, V_NET).json
        for s in vb["properties"]["subnets"]:
            del s["properties"]["networkSecurityGroup"]
        self.assertEqual(self.api.put(nonsg, vb, version=V_NET).status, 200)
        r = self.put_ws("ws-1", 400, "InvalidParameter", **self.inject_params(nonsg))
        self.assertIn("network security group", r.json["error"]["message"])
        body = self.ws_body(**ip)
        body["properties"]["publicNetworkAccess"] = "Disabled"
        r = self.api.put(self.ws_path("rg1", "ws-1"), body)
        self.assertEqual((r.status, r.code), (400, "InvalidParameter"))
        # Missing subnet: accepted, then the operation fails with Azure's code.
        r = self.put_ws("ws-2", 201, **dict(ip, customPublicSubnetName="missing"))
        st = self.api.wait(r)
        self.assertEqual((st.json["status"], st.json["error"]["code"]), ("Failed", "SubnetIsNotWithinVnetError"))
        self.assertIn("The subnet missing CIDR range '<null>' is not within the Virtual Network CIDR range '10.179.0.0/16'",
                      st.json["error"]["message"])
        self.assertEqual(self.api.get(self.ws_path("rg1", "ws-2")).json["properties"]["provisioningState"], "Failed")
        # A subnet in use by another workspace: 409.
        self.create_ws("rg1", "ws-3", self.ws_body(**ip))
        self.put_ws("ws-4", 409, "Conflict", **ip)
        r = self.put_ws("ws-3", 400, "VirtualNetworkIdChangeNotAllowed", **self.inject_params(small))

    def test_rules_per_mode_and_their_content(self):
        for i, (npip, pna, req, want) in enumerate(((True, "Enabled", "AllRules", SCC_ON),
                                                     (False, "Enabled", "AllRules", SCC_OFF),
                                                     (True, "Disabled", "NoAzureDatabricksRules", PRIVATE_LINK))):
            vnet = self.injected_vnet(vnet="v%d" % i, nsg="n%d" % i, prefix="10.%d" % (150 + i))
            body = self.ws_body(npip=npip, **self.inject_params(vnet))
            body["properties"].update(publicNetworkAccess=pna, requiredNsgRules=req)
            self.create_ws("rg1", "ws%d" % i, body)
            rules = self.nsg_rules(nsg="n%d" % i)
            self.assertEqual(set(rules), want, i)
        rules = self.nsg_rules(nsg="n1")
        ssh = rules[PREFIX + "control-plane-to-worker-ssh"]["properties"]
        self.assertEqual((ssh["direction"], ssh["priority"], ssh["sourceAddressPrefix"], ssh["destinationPortRange"]),
                         ("Inbound", 101, "AzureDatabricks", "22"))
        web = rules[PREFIX + "worker-to-databricks-webapp"]["properties"]
        self.assertEqual(web["destinationPortRanges"], ["443", "3306", "8443-8451"])
        self.assertEqual(rules[PREFIX + "worker-to-eventhub"]["properties"]["destinationPortRange"], "9093")

    def test_rules_and_intent_policy_are_protected(self):
        vnet = self.injected_vnet()
        self.put_net("rg1", "networkSecurityGroups", "other", {"location": "eastus"})
        self.create_ws("rg1", "ws1", self.ws_body(**self.inject_params(vnet)))
        nsg = self.net_path("rg1", "networkSecurityGroups", "nsg1")
        ours = PREFIX + "worker-to-sql"
        r = self.api.delete(nsg + "/securityRules/" + ours, V_NET)
        self.assertEqual((r.status, r.code), (400, "ConflictWithNetworkIntentPolicy"))
        self.assertIn("Found conflicts with NetworkIntentPolicy", r.json["error"]["message"])
        r = self.api.put(nsg + "/securityRules/" + ours, rule(101, "Outbound", "1433"), version=V_NET)
        self.assertEqual((r.status, r.code), (400, "ConflictWithNetworkIntentPolicy"))
        r = self.api.put(nsg + "/securityRules/mine", rule(100, "Inbound"), version=V_NET)
        self.assertEqual((r.status, r.code), (400, "ConflictWithNetworkIntentPolicy"))
        r = self.api.put(nsg, {"location": "eastus", "properties": {"securityRules": []}}, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "ConflictWithNetworkIntentPolicy"))
        self.assertEqual(self.api.put(nsg + "/securityRules/mine", rule(300, "Inbound"), version=V_NET).status, 201)
        self.assertEqual(self.api.delete(nsg, V_NET).status, 400)
        sub = vnet + "/subnets/public"
        cur = self.api.get(sub, V_NET).json
        props = dict(cur["properties"])
        props.pop("networkSecurityGroup")
        r = self.api.put(sub, {"properties": props}, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "NetworkSecurityGroupCannotBeRemovedDueToNipOnSubnet"))
        props = dict(cur["properties"], networkSecurityGroup={"id": self.net_id("rg1", "networkSecurityGroups", "other")})
        r = self.api.put(sub, {"properties": props}, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "NetworkSecurityGroupCannotBeRemovedDueToNipOnSubnet"))
        props = dict(cur["properties"], delegations=[])
        r = self.api.put(sub, {"properties": props}, version=V_NET)
        self.assertEqual((r.status, r.code), (400, "SubnetMissingRequiredDelegation"))
        r = self.api.delete(sub, V_NET)
        self.assertEqual((r.status, r.code), (400, "InUseSubnetCannotBeDeleted"))
        # Deleting the workspace removes its rules and its policy, not the
        # delegation, the NSG or the user's own rule.
        r = self.api.delete(self.ws_path("rg1", "ws1"))
        self.api.wait(r)
        self.assertEqual(set(self.nsg_rules()), {"mine"})
        self.assertEqual(self.api.get(sub, V_NET).json["properties"]["delegations"][0]["properties"]["serviceName"],
                         "Microsoft.Databricks/workspaces")
        self.assertEqual(self.api.delete(sub, V_NET).status, 202)

    def test_precreated_identical_rules_are_accepted(self):
        vnet = self.injected_vnet(vnet="pre", nsg="npre", prefix="10.190")
        # Copy the rules a first workspace wrote, then give them to a fresh NSG.
        self.create_ws("rg1", "tmp", self.ws_body(**self.inject_params(vnet)))
        rules = [{"name": n, "properties": r["properties"]} for n, r in self.nsg_rules(nsg="npre").items()]
        self.put_net("rg1", "networkSecurityGroups", "copy", {"location": "eastus", "properties": {"securityRules": rules}})
        vnet2 = self.injected_vnet(vnet="pre2", nsg="copy", prefix="10.191")
        self.create_ws("rg1", "ws2", self.ws_body(**self.inject_params(vnet2)))
        self.assertEqual(set(self.nsg_rules(nsg="copy")), SCC_ON)
        # A user rule where ours go is refused up front.
        vnet3 = self.injected_vnet(vnet="pre3", nsg="clash", prefix="10.192")
        self.api.put(self.net_path("rg1", "networkSecurityGroups", "clash") + "/securityRules/x", rule(101, "Outbound"), version=V_NET)
        r = self.api.put(self.ws_path("rg1", "ws3"), self.ws_body(**self.inject_params(vnet3)))
        self.assertEqual((r.status, r.code), (400, "SecurityRuleConflict"))

    def test_scc_upgrade_failure_recovery_and_rollback(self):
        vnet = self.injected_vnet()
        ip = self.inject_params(vnet)
        self.create_ws("rg1", "ws1", self.ws_body(npip=False, **ip))
        self.assertEqual(set(self.nsg_rules()), SCC_OFF)
        # Managed VNet workspaces can't be upgraded.
        self.create_ws("rg1", "managed", self.ws_body(npip=False))
        r = self.api.put(self.ws_path("rg1", "managed"), self.ws_body(npip=True))
        self.assertEqual((r.status, r.code), (400, "InvalidParameter"))
        self.assertIn("VNet injection", r.json["error"]["message"])
        # ManagedIdentity unregistered: refused before anything changes.
        self.api.call("POST", "/subscriptions/%s/providers/Microsoft.ManagedIdentity/unregister" % self.sub, version=V_RES)
        r = self.api.put(self.ws_path("rg1", "ws1"), {"location": "eastus", "properties": {"parameters": {"enableNoPublicIp": {"value": True}}}})
        self.assertEqual((r.status, r.code), (409, "MissingSubscriptionRegistration"))
        self.register("Microsoft.ManagedIdentity")
        # Running compute: the operation fails, the workspace is Failed and unchanged.
        self.sccctl_arm("workspace", "set-running-compute", "ws1", "-g", "rg1", "--clusters", "1", "--warehouses", "1")
        upgrade = {"location": "eastus", "properties": {"parameters": {"enableNoPublicIp": {"value": True}}}}
        r = self.api.put(self.ws_path("rg1", "ws1"), upgrade)  # the seed's template sends only this
        self.assertEqual(r.status, 200, r)
        st = self.api.wait(r)
        self.assertEqual((st.json["status"], st.json["error"]["code"]), ("Failed", "WorkspaceUpdateFailed"))
        self.assertIn("Stop all clusters, pools and classic SQL warehouses", st.json["error"]["message"])
        w = self.api.get(self.ws_path("rg1", "ws1")).json
        self.assertEqual(w["properties"]["provisioningState"], "Failed")
        self.assertFalse(w["properties"]["parameters"]["enableNoPublicIp"]["value"])
        self.assertEqual(w["properties"]["parameters"]["customVirtualNetworkId"]["value"], vnet)
        self.assertEqual(set(self.nsg_rules()), SCC_OFF)
        # Recovery: stop compute, redo the same update.
        self.sccctl_arm("workspace", "set-running-compute", "ws1", "-g", "rg1")
        r = self.sccctl_arm("workspace", "update", "ws1", "-g", "rg1", "--no-public-ip", "true", "--wait")
        w = self.api.get(self.ws_path("rg1", "ws1")).json
        self.assertEqual(w["properties"]["provisioningState"], "Succeeded")
        self.assertTrue(w["properties"]["parameters"]["enableNoPublicIp"]["value"])
        self.assertEqual(set(self.nsg_rules()), SCC_ON)
        # Temporary rollback: set it false again; the inbound rules return.
        r = self.api.put(self.ws_path("rg1", "ws1"), self.ws_body(npip=False, **ip))
        self.assertEqual(self.api.wait(r).json["status"], "Succeeded")
        self.assertEqual(set(self.nsg_rules()), SCC_OFF)

    def test_group_delete_takes_workspaces_and_their_networks(self):
        vnet = self.injected_vnet()
        self.create_ws("rg1", "ws1", self.ws_body(**self.inject_params(vnet)))
        self.create_ws("rg1", "ws2", self.ws_body(mrg="m2"))
        r = self.api.delete(self.rg_path("rg1"), V_RES)
        self.assertEqual(r.status, 202)
        self.assertIn(self.api.wait(r).status, (200, 204))
        for p, v in ((self.rg_path("rg1"), V_RES), (self.rg_path("m2"), V_RES), (vnet, V_NET)):
            self.assertEqual(self.api.get(p, v).status, 404, p)
        self.assertEqual(self.api.get("/subscriptions/%s/resources" % self.sub, V_RES).json["value"], [])


class NetworkCliTest(ArmTest):
    def test_sccctl_network_shortcuts_build_an_injectable_vnet(self):
        g = ["-g", "rg1"]
        self.sccctl_arm("group", "create", "rg1", "--location", "eastus")
        self.sccctl_arm("network", "nsg", "create", "nsg1", *g, "--location", "eastus")
        self.sccctl_arm("network", "nsg-rule", "create", "nsg1", "https", *g, "--priority", "300",
                        "--direction", "Inbound", "--access", "Allow", "--protocol", "Tcp", "--port", "443")
        self.sccctl_arm("network", "public-ip", "create", "pip", *g, "--location", "eastus")
        self.sccctl_arm("network", "nat", "create", "nat", *g, "--location", "eastus", "--public-ip", "pip")
        self.sccctl_arm("network", "vnet", "create", "vnet1", *g, "--location", "eastus", "--address-prefix", "10.179.0.0/16")
        for name, cidr in (("public", "10.179.0.0/24"), ("private", "10.179.1.0/24")):
            self.sccctl_arm("network", "subnet", "create", "vnet1", name, *g, "--address-prefix", cidr,
                            "--nsg", "nsg1", "--nat-gateway", "nat", "--delegate-databricks")
        self.sccctl_arm("provider", "register", "Microsoft.ManagedIdentity")
        vnet = self.net_id("rg1", "virtualNetworks", "vnet1")
        self.sccctl_arm("workspace", "create", "ws1", *g, "--location", "eastus", "--no-public-ip", "true",
                        "--vnet", vnet, "--public-subnet", "public", "--private-subnet", "private", "--wait")
        out = json.loads(self.sccctl_arm("network", "show", "nsg", "nsg1", *g).stdout)
        self.assertEqual({r["name"] for r in out["properties"]["securityRules"]}, SCC_ON | {"https"})
        out = json.loads(self.sccctl_arm("network", "list", "vnet", *g).stdout)
        self.assertEqual([v["name"] for v in out["value"]], ["vnet1"])
        r = self.sccctl_arm("network", "delete", "nsg", "nsg1", *g, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"InUseNetworkSecurityGroupCannotBeDeleted", r.stderr)
        out = json.loads(self.sccctl_arm("resource", "show", vnet + "/subnets/public").stdout)
        self.assertEqual(out["name"], "public")
        body = json.dumps({"location": "eastus", "properties": {"ipConfigurations": [
            {"name": "c", "properties": {"subnet": {"id": vnet + "/subnets/private"}}}]}})
        self.sccctl_arm("resource", "put", self.net_id("rg1", "networkInterfaces", "nic"), "--body", body)
        desired = json.loads(self.sccctl_arm("network", "desired").stdout)
        self.assertEqual(desired["version"], 1)
        subs = {s["id"].rsplit("/", 1)[1]: s for s in desired["vnets"][0]["subnets"]}
        self.assertEqual(subs["public"]["nat_gateway"], self.net_id("rg1", "natGateways", "nat"))
        self.assertRegex(desired["nat_gateways"][0]["public_ips"][0], r"^203\.0\.113\.\d+$")
        rules = desired["network_security_groups"][0]["rules"]
        self.assertEqual({r["name"] for r in rules}, SCC_ON | {"https"})
        r = self.sccctl_arm("network", "subnet", "create", "vnet1", "public", *g, "--address-prefix", "10.179.0.0/24",
                            "--delegate-databricks", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"NetworkSecurityGroupCannotBeRemovedDueToNipOnSubnet", r.stderr)


if __name__ == "__main__":
    unittest.main()
