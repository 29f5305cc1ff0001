// Drives sccd's management API with the official Azure SDK for JS
// management clients, pointed at sccd by endpoint and a static bearer
// token over HTTPS (arm-compat.md §5).  Run by tests/integration/test_arm_sdk.py,
// which starts sccd and sets SCC_API, SCC_TOKEN, SCC_SUB and SCC_CA.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { AzureDatabricksManagementClient } from "@azure/arm-databricks";
import { ResourceManagementClient } from "@azure/arm-resources";

const endpoint = process.env.SCC_API;
const sub = process.env.SCC_SUB;
const token = process.env.SCC_TOKEN;
const ca = fs.readFileSync(process.env.SCC_CA, "utf8");
const credential = {
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600 * 1000 }),
};
const options = { endpoint, tlsOptions: { ca }, retryOptions: { maxRetries: 0 } };
const lro = { updateIntervalInMs: 20 };

async function names(iter) {
  const out = [];
  for await (const x of iter) out.push(x.name);
  return out;
}

test("HLC clients: providers, resource group, No Public IP workspace", async () => {
  const res = new ResourceManagementClient(credential, sub, options);
  const dbx = new AzureDatabricksManagementClient(credential, sub, options);

  for (const ns of ["Microsoft.Databricks", "Microsoft.ManagedIdentity", "Microsoft.Network"]) {
    const p = await res.providers.register(ns);
    assert.equal(p.registrationState, "Registered");
    assert.equal((await res.providers.get(ns)).registrationState, "Registered");
  }

  const rg = await res.resourceGroups.createOrUpdate("sdk-rg", { location: "eastus", tags: { t: "1" } });
  assert.equal(rg.name, "sdk-rg");
  assert.equal(rg.properties.provisioningState, "Succeeded");
  assert.equal((await res.resourceGroups.checkExistence("sdk-rg")).body, true);
  assert.equal((await res.resourceGroups.checkExistence("no-such-rg")).body, false);

  const body = {
    location: "eastus",
    sku: { name: "premium" },
    managedResourceGroupId: `/subscriptions/${sub}/resourceGroups/databricks-rg-sdk-ws`,
    parameters: { enableNoPublicIp: { value: true } },
    publicNetworkAccess: "Enabled",
    requiredNsgRules: "AllRules",
  };
  const ws = await dbx.workspaces.beginCreateOrUpdateAndWait("sdk-rg", "sdk-ws", body, lro);
  assert.equal(ws.provisioningState, "Succeeded");
  assert.equal(ws.parameters.enableNoPublicIp.value, true);
  assert.equal(ws.parameters.enableNoPublicIp.type, "Bool");
  assert.match(ws.workspaceUrl, /^adb-\d{16}\.\d+\./);
  assert.match(ws.workspaceId, /^\d{16}$/);
  assert.ok(ws.createdDateTime instanceof Date);

  const got = await dbx.workspaces.get("sdk-rg", "sdk-ws");
  assert.equal(got.id, ws.id);
  assert.equal(got.managedResourceGroupId, body.managedResourceGroupId);
  assert.deepEqual(await names(dbx.workspaces.listByResourceGroup("sdk-rg")), ["sdk-ws"]);
  assert.ok((await names(dbx.workspaces.listBySubscription())).includes("sdk-ws"));

  const managed = await res.resourceGroups.get("databricks-rg-sdk-ws");
  assert.equal(managed.managedBy, ws.id);

  const updated = await dbx.workspaces.beginUpdateAndWait("sdk-rg", "sdk-ws", { tags: { env: "sdk" } }, lro);
  assert.deepEqual(updated.tags, { env: "sdk" });

  await dbx.workspaces.beginDeleteAndWait("sdk-rg", "sdk-ws", lro);
  await assert.rejects(dbx.workspaces.get("sdk-rg", "sdk-ws"), (e) => {
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, "ResourceNotFound");
    return true;
  });
  await assert.rejects(res.resourceGroups.get("databricks-rg-sdk-ws"), (e) => e.statusCode === 404);

  await res.resourceGroups.beginDeleteAndWait("sdk-rg", lro);
  assert.equal((await res.resourceGroups.checkExistence("sdk-rg")).body, false);
});

test("HLC client: ARM errors surface as RestError with code and message", async () => {
  const dbx = new AzureDatabricksManagementClient(credential, sub, options);
  await assert.rejects(
    dbx.workspaces.beginCreateOrUpdateAndWait("no-such-rg", "sdk-ws", {
      location: "eastus", sku: { name: "premium" },
      managedResourceGroupId: `/subscriptions/${sub}/resourceGroups/m`,
    }, lro),
    (e) => e.statusCode === 404 && e.code === "ResourceGroupNotFound");
});

const [major] = process.versions.node.split(".").map(Number);

test("modular client (arm-databricks 4.0.0, api-version 2026-01-01)", { skip: major < 20 && "needs Node 20" }, async () => {
  const res = new ResourceManagementClient(credential, sub, options);
  const { AzureDatabricksManagementClient: V4 } = await import("arm-databricks-v4");
  const dbx = new V4(credential, sub, options);
  await res.resourceGroups.createOrUpdate("sdk-rg4", { location: "eastus" });
  const ws = await dbx.workspaces.createOrUpdate("sdk-rg4", "sdk-ws4", {
    location: "eastus",
    sku: { name: "premium" },
    computeMode: "Hybrid",
    managedResourceGroupId: `/subscriptions/${sub}/resourceGroups/databricks-rg-sdk-ws4`,
    parameters: { enableNoPublicIp: { value: true } },
  }, lro);
  assert.equal(ws.provisioningState, "Succeeded");
  assert.equal(ws.parameters.enableNoPublicIp.value, true);
  assert.equal(ws.computeMode, "Hybrid");
  const got = await dbx.workspaces.get("sdk-rg4", "sdk-ws4");
  assert.equal(got.id, ws.id);
  await dbx.workspaces.delete("sdk-rg4", "sdk-ws4", lro);
  await assert.rejects(dbx.workspaces.get("sdk-rg4", "sdk-ws4"), (e) => e.statusCode === 404);
  await res.resourceGroups.beginDeleteAndWait("sdk-rg4", lro);
});

test("HLC client: template deployment of the seed's NPIP template (arm-resources 6.1.0)", async () => {
  const res = new ResourceManagementClient(credential, sub, options);
  const dbx = new AzureDatabricksManagementClient(credential, sub, options);
  const template = JSON.parse(fs.readFileSync(new URL("../fixtures/upgrade-npip-template.json", import.meta.url)));
  await res.providers.register("Microsoft.ManagedIdentity");
  await res.resourceGroups.createOrUpdate("sdk-dep", { location: "eastus" });

  const deployment = {
    properties: { mode: "Incremental", template, parameters: { workspaceName: { value: "sdk-dep-ws" } } },
  };
  const valid = await res.deployments.beginValidateAndWait("sdk-dep", "npip", deployment, lro);
  assert.equal(valid.properties.provisioningState, "Succeeded");
  assert.equal(valid.properties.validatedResources.length, 1);

  const done = await res.deployments.beginCreateOrUpdateAndWait("sdk-dep", "npip", deployment, lro);
  assert.equal(done.properties.provisioningState, "Succeeded");
  assert.equal(done.properties.mode, "Incremental");
  assert.ok(done.properties.timestamp instanceof Date);
  assert.equal(done.properties.parameters.enableNoPublicIp.value, true);
  assert.equal(done.properties.outputResources[0].id,
    `/subscriptions/${sub}/resourceGroups/sdk-dep/providers/Microsoft.Databricks/workspaces/sdk-dep-ws`);
  const ws = await dbx.workspaces.get("sdk-dep", "sdk-dep-ws");
  assert.equal(ws.provisioningState, "Succeeded");
  assert.match(ws.managedResourceGroupId, /\/resourceGroups\/databricks-rg-sdk-dep-ws-[a-z2-7]{13}$/);

  assert.equal((await res.deployments.get("sdk-dep", "npip")).properties.provisioningState, "Succeeded");
  assert.equal((await res.deployments.checkExistence("sdk-dep", "npip")).body, true);
  assert.equal((await res.deployments.checkExistence("sdk-dep", "nope")).body, false);
  assert.deepEqual(await names(res.deployments.listByResourceGroup("sdk-dep")), ["npip"]);
  const ops = [];
  for await (const op of res.deploymentOperations.list("sdk-dep", "npip")) ops.push(op);
  assert.equal(ops.length, 1);
  assert.equal(ops[0].properties.provisioningState, "Succeeded");
  assert.equal(ops[0].properties.targetResource.resourceName, "sdk-dep-ws");
  const exported = await res.deployments.exportTemplate("sdk-dep", "npip");
  assert.deepEqual(exported.template, template);

  // Bad input is refused before anything runs, with ARM's code.
  const bad = { properties: { ...deployment.properties,
    parameters: { workspaceName: { value: "x-ws" }, pricingTier: { value: "gold" } } } };
  await assert.rejects(res.deployments.beginCreateOrUpdateAndWait("sdk-dep", "bad", bad, lro),
    (e) => e.statusCode === 400 && e.code === "InvalidTemplate" && /gold/.test(e.message));
  await assert.rejects(res.deployments.beginValidateAndWait("sdk-dep", "bad", bad, lro),
    (e) => e.statusCode === 400 && e.code === "InvalidTemplate");
  // A failing resource fails the long-running operation with DeploymentFailed.
  const failing = { properties: { mode: "Incremental", template: {
    $schema: template.$schema, contentVersion: "1.0.0.0",
    resources: [{ type: "Microsoft.Network/virtualNetworks", apiVersion: "2024-07-01", name: "bad-net",
      location: "eastus", properties: { addressSpace: { addressPrefixes: ["10.0.0.0/99"] } } }] } } };
  await assert.rejects(res.deployments.beginCreateOrUpdateAndWait("sdk-dep", "fails", failing, lro),
    (e) => /DeploymentFailed/.test(e.message));

  await res.deployments.beginDeleteAndWait("sdk-dep", "npip", lro);
  assert.equal((await res.deployments.checkExistence("sdk-dep", "npip")).body, false);
  await dbx.workspaces.beginDeleteAndWait("sdk-dep", "sdk-dep-ws", lro);
  await res.resourceGroups.beginDeleteAndWait("sdk-dep", lro);
});
