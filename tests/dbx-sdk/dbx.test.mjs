// Drives sccd's per-workspace Databricks API (databricks-compat.md) with the
// official Databricks SDK for JS, @databricks/sdk-experimental (pinned in
// package-lock.json): clusters, instance pools, job runs, warehouses, errors.  Run by
// tests/integration/test_dbx_sdk.py, which starts sccd and a workspace and
// sets SCC_WS_HOST (the workspace's host name), SCC_API_ADDR (ip:port of
// sccd's API listener), SCC_TOKEN, SCC_CA and SCC_PY (a python file that
// prints a marker and its argv).
//
// Reaching the workspace.  Its origin is https://<SCC_WS_HOST>:<port>, but
// the name does not resolve.  The SDK's ApiClient takes an `agent` in its
// second constructor argument (ClientOptions) and hands it to node:https
// for every request (dist/api-client.js getAgent, dist/fetch.js); it only
// builds its own agent when none is given.  Ours is an https.Agent whose
// `lookup` answers every name with SCC_API_ADDR's IP, so the TCP connection
// goes to the IP while node:https keeps the URL's host name for SNI, the
// Host header and the certificate check, and whose `ca` is SCC_CA (the
// server certificate carries *.<shard>.scc.localhost).  rejectUnauthorized
// is on; skipVerify: false says the same in the SDK's config (without it
// the SDK's own agent would accept any certificate, finding 8).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import sdk from "@databricks/sdk-experimental"; // CommonJS: named imports miss some exports

const { WorkspaceClient, ApiError, Time, TimeUnits } = sdk;

const wsHost = process.env.SCC_WS_HOST;
const [apiIp, apiPort] = splitAddr(process.env.SCC_API_ADDR);
const token = process.env.SCC_TOKEN;
const ca = fs.readFileSync(process.env.SCC_CA, "utf8");
const pyFile = process.env.SCC_PY;
const host = `https://${wsHost}:${apiPort}`;
const workspaceId = wsHost.match(/^adb-(\d+)\./)[1];
const looked = new Set(); // the names our lookup was asked for

function splitAddr(addr) {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), addr.slice(i + 1)];
}

// dns.lookup's contract: with options.all (what net uses when it races
// address families) an array, otherwise one address and its family.
function lookup(name, options, cb) {
  if (typeof options === "function") [cb, options] = [options, {}];
  looked.add(name);
  const family = net.isIPv6(apiIp) ? 6 : 4;
  if (options && options.all) cb(null, [{ address: apiIp, family }]);
  else cb(null, apiIp, family);
}

function agentWith(extra = {}) {
  return new https.Agent({ keepAlive: true, timeout: 10000, lookup, ca, rejectUnauthorized: true,
                           ...extra });
}

function client(agent = agentWith()) {
  return new WorkspaceClient(
    { host, token, authType: "pat", skipVerify: false, retryTimeoutSeconds: 20 },
    { agent, product: "scc-dbx-sdk-test", productVersion: "0.0.1" });
}

const w = client();
const outputs = {}; // runs/get-output answers, for the checks that follow
const waitFor = (seconds) => ({ timeout: new Time(seconds, TimeUnits.seconds) });

// An ApiError for an unknown cluster: Databricks' 400 INVALID_PARAMETER_VALUE
// "Cluster <id> does not exist" or the plain 404 RESOURCE_DOES_NOT_EXIST.
function isMissing(e, id) {
  assert.ok(e instanceof ApiError, `not an ApiError: ${e}`);
  if (e.statusCode === 404) assert.equal(e.errorCode, "RESOURCE_DOES_NOT_EXIST", e.message);
  else {
    assert.equal(e.statusCode, 400, e.message);
    assert.equal(e.errorCode, "INVALID_PARAMETER_VALUE", e.message);
  }
  assert.match(e.message, /does not exist/);
  assert.ok(e.message.includes(id), e.message);
  return true;
}

test("TLS is verified against the CA, with the workspace name as SNI", async () => {
  const me = await w.currentUser.me();
  assert.ok(me.userName || me.id, JSON.stringify(me));
  assert.deepEqual([...looked], [wsHost]);

  // The same origin through an agent like the SDK's: X-Databricks-Org-Id
  // names this workspace.  Without a token, as the Go and Python SDKs read
  // this document while they resolve their config.
  const r = await new Promise((resolve, reject) => {
    https.get(`${host}/.well-known/databricks-config`, { agent: agentWith() }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ res, body }));
    }).on("error", reject);
  });
  assert.equal(r.res.statusCode, 200, r.body);
  assert.equal(r.res.headers["x-databricks-org-id"], workspaceId);
  assert.equal(String(JSON.parse(r.body).workspace_id), workspaceId);

  // Without our CA the handshake fails: the agent really verifies.
  const strict = client(agentWith({ ca: undefined }));
  await assert.rejects(strict.currentUser.me(), (e) => {
    assert.match(`${e.code} ${e.message}`, /CERT|certificate/i);
    return true;
  });
});

test("catalogue: spark versions and node types", async () => {
  const { versions } = await w.clusters.sparkVersions();
  assert.ok(versions.length > 0);
  const key = await w.clusters.selectSparkVersion({ longTermSupport: true });
  assert.match(key, /-scala2\.12$/);
  assert.ok(versions.find((v) => v.key === key).name.includes("LTS"));

  const { node_types: types } = await w.clusters.listNodeTypes();
  assert.ok(types.length > 0);
  for (const t of types) {
    for (const f of ["node_type_id", "instance_type_id", "description", "category"])
      assert.equal(typeof t[f], "string", `${f} of ${JSON.stringify(t)}`);
    assert.ok(Number.isInteger(t.memory_mb) && t.num_cores > 0, JSON.stringify(t));
  }
  const nt = await w.clusters.selectNodeType({ minCores: 1 });
  assert.ok(types.some((t) => t.node_type_id === nt));
});

test("a cluster runs a python task and a failing command, then terminates", async () => {
  const sparkVersion = await w.clusters.selectSparkVersion({ longTermSupport: true });
  const name = `sdk-${process.pid}`;
  const created = await w.clusters.create({
    cluster_name: name, spark_version: sparkVersion, num_workers: 0,
    autotermination_minutes: 0,
  });
  const id = created.cluster_id;
  assert.equal(typeof id, "string");
  let live = true;
  try {
    const running = await created.wait(waitFor(60));
    assert.equal(running.state, "RUNNING");

    const c = await w.clusters.get({ cluster_id: id });
    assert.equal(c.state, "RUNNING");
    assert.equal(c.cluster_name, name);
    assert.equal(c.spark_version, sparkVersion);
    assert.equal(c.num_workers, 0);
    assert.ok(c.driver && net.isIP(c.driver.private_ip), JSON.stringify(c.driver));

    // spark_python_task: `python3 FILE params...` on the driver.
    const submitted = await w.jobs.submit({
      run_name: "sdk-python",
      tasks: [{ task_key: "py", existing_cluster_id: id,
                spark_python_task: { python_file: pyFile, parameters: ["alpha", "beta gamma"] } }],
    });
    assert.equal(typeof submitted.run_id, "number");
    const done = await submitted.wait(waitFor(60));
    assert.equal(done.state.life_cycle_state, "TERMINATED");
    assert.equal(done.state.result_state, "SUCCESS", JSON.stringify(done.state));

    const run = await w.jobs.getRun({ run_id: submitted.run_id });
    assert.equal(run.run_id, submitted.run_id);
    assert.equal(run.tasks.length, 1);
    const task = run.tasks[0];
    assert.equal(task.task_key, "py");
    assert.notEqual(task.run_id, run.run_id);
    assert.equal(task.existing_cluster_id, id);
    const out = await w.jobs.getRunOutput({ run_id: task.run_id });
    const lines = out.logs.split("\n");
    const at = lines.indexOf("SCC-DBX-SDK-MARKER");
    assert.ok(at >= 0, out.logs);
    assert.deepEqual(JSON.parse(lines[at + 1]), [pyFile, "alpha", "beta gamma"]); // sys.argv
    outputs.python = { task, out };
    assert.equal(out.error, undefined);

    // scc_command_task: sccd's own task type, passed through verbatim by the SDK.
    const failing = await w.jobs.submit({
      run_name: "sdk-exit-3",
      tasks: [{ task_key: "sh", existing_cluster_id: id,
                scc_command_task: { argv: ["sh", "-c", "exit 3"] } }],
    });
    const failed = await failing.wait(waitFor(60));
    assert.equal(failed.state.life_cycle_state, "TERMINATED");
    assert.equal(failed.state.result_state, "FAILED", JSON.stringify(failed.state));
    const failedOut = await w.jobs.getRunOutput({ run_id: failed.tasks[0].run_id });
    assert.match(failedOut.error, /\b3\b/);

    const ids = [];
    for await (const x of w.clusters.list({})) ids.push(x.cluster_id);
    assert.ok(ids.includes(id), `${id} not in ${ids}`);

    const deleting = await w.clusters.delete({ cluster_id: id });
    const gone = await deleting.wait(waitFor(60));
    live = false;
    assert.equal(gone.state, "TERMINATED");
    assert.equal(gone.termination_reason?.code, "USER_REQUEST");
  } finally {
    if (live) await w.clusters.delete({ cluster_id: id }).catch(() => {});
  }
});

test("a SQL warehouse starts, stops and starts again through the SDK's waiters", async () => {
  const name = `sdk-wh-${process.pid}`;
  const created = await w.warehouses.create({ name, cluster_size: "2X-Small", auto_stop_mins: 0 });
  const id = created.id;
  assert.match(id, /^[0-9a-f]{16}$/);
  try {
    const running = await created.wait(waitFor(60)); // reads health on every poll
    assert.equal(running.state, "RUNNING");
    assert.equal(running.health.status, "HEALTHY");
    const names = [];
    for await (const x of w.warehouses.list({})) names.push(x.name);
    assert.ok(names.includes(name), `${name} not in ${names}`);
    const stopped = await (await w.warehouses.stop({ id })).wait(waitFor(60));
    assert.equal(stopped.state, "STOPPED");
    const again = await (await w.warehouses.start({ id })).wait(waitFor(60));
    assert.equal(again.state, "RUNNING");
  } finally {
    await w.warehouses.delete({ id });
  }
  await assert.rejects(w.warehouses.get({ id }), (e) => /does not exist|not found/i.test(e.message));
});

test("an instance pool keeps an idle VM a cluster starts on", async () => {
  const created = await w.instancePools.create({
    instance_pool_name: `sdk-pool-${process.pid}`, node_type_id: "Standard_DS3_v2",
    min_idle_instances: 1, max_capacity: 2, idle_instance_autotermination_minutes: 0,
  });
  const pool = created.instance_pool_id;
  assert.match(pool, /-pool$/);
  let cid;
  try {
    for (let i = 0; i < 300; i++) {
      const p = await w.instancePools.get({ instance_pool_id: pool });
      if (p.stats?.idle_count === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const listed = [];
    for await (const p of w.instancePools.list()) listed.push(p.instance_pool_id);
    assert.ok(listed.includes(pool), `${pool} not in ${listed}`);
    const sparkVersion = await w.clusters.selectSparkVersion({ longTermSupport: true });
    const c = await (await w.clusters.create({
      cluster_name: "pooled", spark_version: sparkVersion, num_workers: 0,
      autotermination_minutes: 0, instance_pool_id: pool,
    })).wait(waitFor(60));
    cid = c.cluster_id;
    assert.equal(c.state, "RUNNING");
    assert.equal(c.instance_pool_id, pool);
    const p = await w.instancePools.get({ instance_pool_id: pool });
    assert.equal(p.stats.used_count, 1, JSON.stringify(p.stats));
  } finally {
    if (cid) await w.clusters.delete({ cluster_id: cid }).catch(() => {});
    await w.instancePools.delete({ instance_pool_id: pool });
  }
});

test("an unknown cluster id is the SDK's does-not-exist error", async () => {
  const id = "0101-000000-nosuchcl";
  await assert.rejects(w.clusters.get({ cluster_id: id }), (e) => isMissing(e, id));
});

// databricks-compat.md §7.3: get-output's `metadata` is the task run.
test("get-output's metadata is the task run", () => {
  const { task, out } = outputs.python;
  assert.equal(out.metadata.run_id, task.run_id);
});
