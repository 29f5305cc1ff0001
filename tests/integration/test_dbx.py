"""The workspace API (databricks-compat.md): clusters that are real VMs whose
agents dial the relay, and runs started, read and cancelled on the driver
through its tunnel, on each workspace's own origin
(adb-<workspaceId>.<shard>.<domain>), against a real sccd with the provider."""
import http.client
import json
import os
import signal
import socket
import sqlite3
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scc import free_port, wait_for  # noqa: E402
from test_arm_lib import read  # noqa: E402
from test_compute import ComputeTest  # noqa: E402

LTS = "16.4.x-scala2.12"


class _Conn(http.client.HTTPSConnection):
    """Connects to the API's address, with the workspace's name in SNI."""

    def __init__(self, name, addr, ctx):
        super().__init__(name, timeout=20, context=ctx)
        self._addr = addr

    def connect(self):
        sock = socket.create_connection(self._addr, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Workspace:
    """A Databricks client of one workspace origin, in a few lines."""

    def __init__(self, sccd, url, token):
        ip, port = sccd.endpoints["api"].rsplit(":", 1)
        self.name, self.token = url, token
        self.host = "%s:%s" % (url, port)
        self.ctx = ssl.create_default_context(cafile=os.path.join(sccd.data, "pki", "ca.crt"))
        self.conn = _Conn(url, (ip, int(port)), self.ctx)

    def call(self, method, path, body=None, token=None, raw=None):
        h = {"Host": self.host, "Authorization": "Bearer " + (token or self.token)}
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            h["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                text = r.read()
                return r.status, json.loads(text or b"{}"), dict(r.getheaders())
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                if attempt:
                    raise
        return None

    def ok(self, method, path, body=None):
        st, js, _ = self.call(method, path, body)
        assert st == 200, (method, path, st, js)
        return js


class DbxTest(ComputeTest):
    SCC = True  # the workspace ws1 every test starts with
    SCCD = ()   # more sccd flags

    def setUp(self):
        super().setUp()
        # A fixed relay port, so that agents keep dialling it across a restart.
        self.port = free_port("127.0.0.2")
        self.boot_sccd(extra=self.SCCD, relay_port=self.port)
        self.setup_group()
        self.workspace(scc=self.SCC, **({} if self.SCC else self.injected()))
        self.url = self.ws["properties"]["workspaceUrl"]
        self.w = Workspace(self.d, self.url, read(os.path.join(self.d.data, "admin.token")))
        self.addCleanup(lambda: self.w.conn.close())

    def cluster(self, cid):
        return self.w.ok("GET", "/api/2.1/clusters/get?cluster_id=" + cid)

    def wait_cluster(self, cid, state, timeout=60):
        return wait_for(lambda: (lambda c: c if c["state"] == state else None)(self.cluster(cid)),
                        timeout, interval=0.3, what="cluster %s %s" % (cid, state))

    def new_cluster(self, workers=0, **spec):
        body = dict({"cluster_name": "c", "spark_version": LTS, "num_workers": workers,
                     "autotermination_minutes": 0}, **spec)
        return self.w.ok("POST", "/api/2.1/clusters/create", body)["cluster_id"]

    def submit(self, cid, task, **extra):
        body = dict({"run_name": "t", "tasks": [dict({"task_key": "main",
                                                      "existing_cluster_id": cid}, **task)]},
                    **extra)
        return self.w.ok("POST", "/api/2.2/jobs/runs/submit", body)["run_id"]

    def get_run(self, rid):
        return self.w.ok("GET", "/api/2.2/jobs/runs/get?run_id=%d" % rid)

    def wait_run(self, rid, timeout=60):
        return wait_for(lambda: (lambda r: r if r["state"]["life_cycle_state"] in (
            "TERMINATED", "INTERNAL_ERROR", "SKIPPED") else None)(self.get_run(rid)),
                        timeout, interval=0.3, what="run %d to end" % rid)

    def output(self, run):
        return self.w.ok("GET", "/api/2.1/jobs/runs/get-output?run_id=%d"
                         % run["tasks"][0]["run_id"])

    def kill9(self):
        os.killpg(self.d.pid, signal.SIGKILL)
        self.d.p.wait()

    def restart(self):
        self.w.conn.close()
        self.boot_sccd(extra=self.SCCD, name="sccd2", relay_port=self.port)
        self.w = Workspace(self.d, self.url, read(os.path.join(self.d.data, "admin.token")))

    def pool_of_one(self):
        """An instance pool that keeps one VM idle (asked for, not waited for)."""
        return self.w.ok("POST", "/api/2.0/instance-pools/create", {
            "instance_pool_name": "p", "node_type_id": "Standard_DS3_v2",
            "min_idle_instances": 1})["instance_pool_id"]

    def wait_idle(self, pid, n=1):
        wait_for(lambda: self.w.ok("GET", "/api/2.0/instance-pools/get?instance_pool_id=" +
                                   pid)["stats"]["idle_count"] == n, 60, what="idle instances")

    def vms_of(self, cid):
        mrg = self.ws["properties"]["managedResourceGroupId"]
        r = self.call("GET", mrg + "/providers/Microsoft.Compute/virtualMachines",
                      version="2024-07-01", expect=200)
        return [v for v in r.json["value"] if v["tags"].get("ClusterName") == cid]


class TestClusters(DbxTest):

    def test_cluster_runs_tasks_on_its_driver_through_the_tunnel(self):
        w = self.w
        st, me, hdrs = w.call("GET", "/api/2.0/preview/scim/v2/Me")
        self.assertEqual(st, 200, me)
        self.assertEqual(hdrs.get("X-Databricks-Org-Id"), self.ws["properties"]["workspaceId"])
        st, wk, _ = w.call("GET", "/.well-known/databricks-config", token="-")  # public
        self.assertEqual(st, 200, wk)
        self.assertEqual(wk["workspace_id"], self.ws["properties"]["workspaceId"])
        keys = [v["key"] for v in w.ok("GET", "/api/2.1/clusters/spark-versions")["versions"]]
        self.assertIn(LTS, keys)
        self.assertTrue(w.ok("GET", "/api/2.0/clusters/list-node-types")["node_types"])
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list"), {})

        t0 = time.monotonic()
        cid = self.new_cluster(workers=1, cluster_name="etl")
        self.assertRegex(cid, r"^\d{4}-\d{6}-[a-z0-9]{8}$")
        self.assertIn(self.cluster(cid)["state"], ("PENDING", "RUNNING"))
        c = self.wait_cluster(cid, "RUNNING")
        started = time.monotonic() - t0
        self.assertRegex(c["driver"]["private_ip"], r"^10\.")  # the container subnet's
        self.assertRegex(c["driver"]["host_private_ip"], r"^10\.")  # the host subnet's
        self.assertEqual(len(c["executors"]), 1)
        self.assertEqual(c["cluster_name"], "etl")
        self.assertEqual(c["default_tags"]["ClusterId"], cid)
        self.assertNotIn("_scc", c)
        # Its nodes are the workspace's VMs, and (SCC) none has a public IP.
        vms = self.vms_of(cid)
        self.assertEqual(len(vms), 2)
        for v in vms:
            nic = self.host_nic(v["id"])
            self.assertNotIn("publicIPAddress",
                             nic["properties"]["ipConfigurations"][0]["properties"])
        types = [e["type"] for e in w.ok("POST", "/api/2.1/clusters/events",
                                         {"cluster_id": cid, "order": "ASC"})["events"]]
        self.assertEqual(types[0], "CREATING")
        self.assertIn("RUNNING", types)
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list")["clusters"][0]["cluster_id"], cid)

        # A command task: output of both streams, in order of the streams.
        rid = self.submit(cid, {"scc_command_task": {
            "argv": ["sh", "-c", "echo out-$DATABRICKS_RUN_ID; echo err >&2; ip -4 -o addr"]}})
        r = self.wait_run(rid)
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertEqual(r["status"]["termination_details"]["code"], "SUCCESS")
        task = r["tasks"][0]
        self.assertEqual(task["run_id"], rid + 1)
        out = self.output(r)
        self.assertEqual(out["metadata"]["run_id"], task["run_id"])  # the task run
        self.assertEqual(out["metadata"]["state"]["result_state"], "SUCCESS")
        self.assertIn("out-%d\n" % rid, out["logs"])
        self.assertIn("err\n", out["logs"])
        self.assertIn(" %s/" % c["driver"]["host_private_ip"], out["logs"])  # it ran on the driver
        self.assertNotIn("error", out)
        # The parent run's output is refused, as Databricks does.
        st, js, _ = w.call("GET", "/api/2.1/jobs/runs/get-output?run_id=%d" % rid)
        self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"))

        # A Python task: the file is the node's, parameters are argv.
        py = self.path("job.py")
        with open(py, "w") as f:
            f.write("import sys\nprint('python says', sys.argv[1:])\n")
        r = self.wait_run(self.submit(cid, {"spark_python_task": {"python_file": "file:" + py,
                                                                   "parameters": ["a", "b"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertIn("python says ['a', 'b']", self.output(r)["logs"])

        # A failing task: FAILED, with why.
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["sh", "-c", "exit 3"]}}))
        self.assertEqual(r["state"]["result_state"], "FAILED")
        self.assertEqual(r["status"]["termination_details"]["code"], "RUN_EXECUTION_ERROR")
        self.assertIn("exited with code 3", self.output(r)["error"])

        # Cancel a long task: the whole process group goes.
        rid = self.submit(cid, {"scc_command_task": {"argv": ["sh", "-c", "echo go; sleep 60"]}})
        wait_for(lambda: self.get_run(rid)["state"]["life_cycle_state"] == "RUNNING", 20,
                 what="the task to start")
        wait_for(lambda: "go" in self.output(self.get_run(rid)).get("logs", ""), 20,
                 what="live output of a running task")
        w.ok("POST", "/api/2.1/jobs/runs/cancel", {"run_id": rid})
        r = self.wait_run(rid, timeout=30)
        self.assertEqual(r["state"]["result_state"], "CANCELED")
        self.assertTrue(r["state"]["user_cancelled_or_timedout"])

        # A timeout ends a task TIMEDOUT.
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["sleep", "60"]}},
                                      timeout_seconds=2), timeout=30)
        self.assertEqual(r["state"]["result_state"], "TIMEDOUT")

        runs = w.ok("GET", "/api/2.2/jobs/runs/list?limit=2")
        self.assertEqual(len(runs["runs"]), 2)
        self.assertTrue(runs["has_more"])
        self.assertNotIn("tasks", runs["runs"][0])
        more = w.ok("GET", "/api/2.2/jobs/runs/list?limit=25&page_token=" + runs["next_page_token"])
        self.assertEqual(len(more["runs"]), 3)
        self.assertFalse(more["has_more"])

        # Terminate: its VMs go, the output of its runs stays.
        first = self.output(self.get_run(runs["runs"][-1]["run_id"]))
        w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.assertEqual(self.cluster(cid)["state"], "TERMINATING")
        c = self.wait_cluster(cid, "TERMINATED")
        self.assertEqual(c["termination_reason"]["code"], "USER_REQUEST")
        self.assertEqual(c["state_message"], "User Request")
        self.assertEqual(self.vms_of(cid), [])
        self.assertEqual(self.output(self.get_run(runs["runs"][-1]["run_id"]))["logs"], first["logs"])
        # A run on a terminated cluster starts it again.
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "again"]}}),
                          timeout=90)
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertEqual(self.cluster(cid)["state"], "RUNNING")
        w.ok("POST", "/api/2.1/clusters/permanent-delete", {"cluster_id": cid})
        st, js, _ = w.call("GET", "/api/2.1/clusters/get?cluster_id=" + cid)
        self.assertEqual((st, js["message"]), (400, "Cluster %s does not exist" % cid))
        wait_for(lambda: self.vms_of(cid) == [], 30, what="the VMs to go")
        print("cluster RUNNING %.1fs after create" % started)

    def test_bad_requests_get_clear_errors_and_change_nothing(self):
        w = self.w
        st, js, _ = w.call("GET", "/api/2.1/clusters/list", token="scca1.nope.nope")
        self.assertEqual((st, js["error_code"]), (401, "UNAUTHENTICATED"))
        # A token of another workspace gets the same answer as a bad one.
        self.workspace(scc=True, ws="ws2")
        other = self.sccctl(self.d, "token", "create", "--scope", "workspace/ws2").stdout
        st2, js2, _ = w.call("GET", "/api/2.1/clusters/list", token=other.decode().strip())
        self.assertEqual((st2, js2), (st, js))
        mine = self.sccctl(self.d, "token", "create", "--scope", "workspace/ws1").stdout
        st, js, _ = w.call("GET", "/api/2.1/clusters/list", token=mine.decode().strip())
        self.assertEqual(st, 200, js)

        cases = [
            ("POST", "/api/2.1/clusters/create", {"num_workers": 1}, 400,
             "INVALID_PARAMETER_VALUE", "spark_version"),
            ("POST", "/api/2.1/clusters/create", {"spark_version": "1.0.x"}, 400,
             "INVALID_PARAMETER_VALUE", "spark version"),
            ("POST", "/api/2.1/clusters/create", {"spark_version": LTS, "num_workers": -1}, 400,
             "INVALID_PARAMETER_VALUE", "num_workers"),
            ("POST", "/api/2.1/clusters/create", {"spark_version": LTS, "node_type_id": "x"}, 400,
             "INVALID_PARAMETER_VALUE", "Node type"),
            ("POST", "/api/2.1/clusters/create",
             {"spark_version": LTS, "autoscale": {"min_workers": 3, "max_workers": 2}}, 400,
             "INVALID_PARAMETER_VALUE", "autoscale"),
            ("GET", "/api/2.1/clusters/get?cluster_id=0101-000000-nothere", None, 400,
             "INVALID_PARAMETER_VALUE", "Cluster 0101-000000-nothere does not exist"),
            ("POST", "/api/2.1/clusters/start", {"cluster_id": "x"}, 400,
             "INVALID_PARAMETER_VALUE", "does not exist"),
            ("POST", "/api/2.2/jobs/runs/submit", {"tasks": []}, 400,
             "INVALID_PARAMETER_VALUE", "tasks"),
            ("POST", "/api/2.2/jobs/runs/submit",
             {"tasks": [{"task_key": "a", "existing_cluster_id": "nope",
                         "scc_command_task": {"argv": ["true"]}}]}, 400,
             "INVALID_PARAMETER_VALUE", "Cluster nope does not exist"),
            ("GET", "/api/2.2/jobs/runs/get?run_id=123", None, 400,
             "INVALID_PARAMETER_VALUE", "Run 123 does not exist"),
            ("POST", "/api/2.1/clusters/frobnicate", {}, 404, "ENDPOINT_NOT_FOUND", "frobnicate"),
            ("GET", "/api/2.0/nothing", None, 404, "ENDPOINT_NOT_FOUND", "nothing"),
        ]
        for method, path, body, status, code, text in cases:
            st, js, hdrs = w.call(method, path, body)
            self.assertEqual((st, js.get("error_code")), (status, code), (path, body, js))
            self.assertIn(text, js["message"], (path, body))
            self.assertIn("X-Databricks-Org-Id", hdrs)
        st, js, _ = w.call("POST", "/api/2.1/clusters/create", raw=b"{not json")
        self.assertEqual((st, js["error_code"]), (400, "MALFORMED_REQUEST"))
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list"), {})
        self.assertEqual(w.ok("GET", "/api/2.2/jobs/runs/list")["runs"], [])

        # Task checks need a cluster: unsupported types and bad tasks are refused.
        cid = self.new_cluster()
        for task, text in (({"notebook_task": {"notebook_path": "/x"}}, "notebook_task"),
                           ({}, "exactly one task type"),
                           ({"spark_python_task": {"python_file": "dbfs:/x.py"}}, "absolute"),
                           ({"scc_command_task": {"argv": []}}, "non-empty"),
                           ({"new_cluster": {"spark_version": LTS},
                             "scc_command_task": {"argv": ["true"]}}, "give one of"),
                           ({"job_cluster_key": "j",
                             "scc_command_task": {"argv": ["true"]}}, "give one of")):
            body = {"tasks": [dict({"task_key": "k", "existing_cluster_id": cid}, **task)]}
            st, js, _ = w.call("POST", "/api/2.2/jobs/runs/submit", body)
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), task)
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.2/jobs/runs/list")["runs"], [])
        st, js, _ = w.call("POST", "/api/2.1/clusters/start", {"cluster_id": cid})
        self.assertEqual((st, js["error_code"]), (400, "INVALID_STATE"))
        self.assertRegex(js["message"], r"unexpected state (Pending|Running)\.")
        w.ok("POST", "/api/2.1/clusters/permanent-delete", {"cluster_id": cid})
        wait_for(lambda: w.ok("GET", "/api/2.1/clusters/list") == {} and not self.vms_of(cid), 60,
                 what="the cluster to go")


# A service on the driver's loopback: echoes what it got as JSON, a big
# body on /big, and after a WebSocket-style upgrade, what it reads, upper-cased.
DRIVER_SERVICE = r"""
import json, socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
print("listening", flush=True)

def serve(c):
    data = b""
    while b"\r\n\r\n" not in data:
        more = c.recv(65536)
        if not more:
            return
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    hdrs = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}
    while len(body) < int(hdrs.get("content-length", 0)):
        body += c.recv(65536)
    if hdrs.get("upgrade") == "websocket":
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\n")
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d.upper())
    else:
        out = (b"x" * 3000000 if path == "/big" else
               json.dumps({"method": method, "path": path, "headers": hdrs,
                           "body": body.decode()}).encode())
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(out) + out)
    c.close()

while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


class TestResize(DbxTest):

    def test_running_cluster_grows_and_shrinks_keeping_its_driver(self):
        w = self.w
        cid = self.new_cluster(0)
        c = self.wait_cluster(cid, "RUNNING")
        driver = c["driver"]["node_id"]
        for body, text in (({}, "num_workers or autoscale"),
                           ({"num_workers": 100}, "num_workers"),
                           ({"num_workers": 1, "autoscale": {"min_workers": 1,
                                                            "max_workers": 2}},
                            "num_workers or autoscale"),
                           ({"autoscale": {"min_workers": 3, "max_workers": 2}}, "autoscale")):
            st, js, _ = w.call("POST", "/api/2.1/clusters/resize", dict(body, cluster_id=cid))
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), js)
            self.assertIn(text, js["message"])
        self.assertEqual(self.cluster(cid)["state"], "RUNNING")  # nothing changed

        w.ok("POST", "/api/2.1/clusters/resize", {"cluster_id": cid, "num_workers": 2})
        self.assertEqual(self.cluster(cid)["state"], "RESIZING")
        # A run on a resizing cluster goes to its driver at once.
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "busy"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((c["num_workers"], len(c["executors"]), c["driver"]["node_id"]),
                         (2, 2, driver))
        self.assertEqual(len(self.vms_of(cid)), 3)
        types = [e["type"] for e in w.ok("POST", "/api/2.1/clusters/events",
                                         {"cluster_id": cid, "order": "ASC"})["events"]]
        self.assertIn("RESIZING", types)
        self.assertEqual(types[-1], "UPSIZE_COMPLETED")

        w.ok("POST", "/api/2.1/clusters/resize",
             {"cluster_id": cid, "autoscale": {"min_workers": 1, "max_workers": 3}})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((c["autoscale"]["min_workers"], len(c["executors"])), (1, 1))
        self.assertNotIn("num_workers", c)
        self.assertEqual(len(self.vms_of(cid)), 2)
        self.assertEqual(c["driver"]["node_id"], driver)

        # edit of a running cluster with another size: resized, then restarted.
        w.ok("POST", "/api/2.1/clusters/edit", {"cluster_id": cid, "spark_version": LTS,
                                               "num_workers": 0, "autotermination_minutes": 0})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((c["num_workers"], c["executors"], c["driver"]["node_id"]),
                         (0, [], driver))
        self.assertIn("last_restarted_time", c)
        self.assertEqual([v["name"] for v in self.vms_of(cid)], [driver])

        w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.wait_cluster(cid, "TERMINATED")
        st, js, _ = w.call("POST", "/api/2.1/clusters/resize", {"cluster_id": cid,
                                                                 "num_workers": 1})
        self.assertEqual((st, js["error_code"]), (400, "INVALID_STATE"), js)


    def test_update_changes_the_fields_of_its_mask_and_create_is_idempotent(self):
        w = self.w
        body = {"cluster_name": "c", "spark_version": LTS, "num_workers": 0,
                "autotermination_minutes": 0, "idempotency_token": "deploy-42"}
        cid = w.ok("POST", "/api/2.1/clusters/create", body)["cluster_id"]
        self.assertEqual(w.ok("POST", "/api/2.1/clusters/create", body)["cluster_id"], cid)
        st, js, _ = w.call("POST", "/api/2.1/clusters/create",
                           dict(body, idempotency_token="x" * 65))
        self.assertEqual(st, 400, js)
        self.wait_cluster(cid, "RUNNING")
        for b, text in (({"cluster_id": cid, "cluster": {"num_workers": 1}}, "update_mask"),
                        ({"cluster_id": cid, "update_mask": "num_workers,nope",
                          "cluster": {"num_workers": 1}}, "update_mask names nope"),
                        ({"cluster_id": cid, "update_mask": "num_workers",
                          "cluster": {"num_workers": -1}}, "num_workers")):
            st, js, _ = w.call("POST", "/api/2.1/clusters/update", b)
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), js)
            self.assertIn(text, js["message"])
        self.assertEqual(self.cluster(cid)["state"], "RUNNING")  # nothing changed

        w.ok("POST", "/api/2.1/clusters/update", {"cluster_id": cid,
                                                  "update_mask": "cluster_name, custom_tags",
                                                  "cluster": {"cluster_name": "renamed"}})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((c["cluster_name"], c["spec"]["cluster_name"]), ("renamed", "renamed"))
        self.assertIn("last_restarted_time", c)  # a running cluster restarts
        w.ok("POST", "/api/2.1/clusters/update", {"cluster_id": cid, "update_mask": "autoscale",
                                                  "cluster": {"autoscale": {"min_workers": 1,
                                                                            "max_workers": 2}}})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((len(c["executors"]), c["cluster_name"]), (1, "renamed"))
        self.assertNotIn("num_workers", c["spec"])

        w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.wait_cluster(cid, "TERMINATED")
        # The token's cluster has ended: the same token makes a new one.
        self.assertNotEqual(w.ok("POST", "/api/2.1/clusters/create", body)["cluster_id"], cid)


class TestWorkspaceDeleted(DbxTest):

    def test_deleting_the_workspace_removes_its_clusters_and_runs(self):
        cid = self.new_cluster()
        self.wait_cluster(cid, "RUNNING")
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "x"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS")
        r = self.call("DELETE", self.ws_id(), expect=202)
        self.assertEqual(self.api.wait(r).status, 204)
        st, js, _ = self.w.call("GET", "/api/2.1/clusters/list")
        self.assertEqual((st, js["error_code"]), (401, "UNAUTHENTICATED"))
        db = os.path.join(self.d.data, "scc.db")

        def rows():
            with sqlite3.connect(db) as c:
                return c.execute("SELECT count(*) FROM dbx_objects").fetchone()[0]
        wait_for(lambda: rows() == 0, 30, what="the workspace's documents to go")


class TestJobClusters(DbxTest):

    def test_new_cluster_runs_on_a_cluster_of_its_own_that_ends_with_it(self):
        spec = {"spark_version": LTS, "num_workers": 1}
        # A bad new_cluster is refused and makes nothing.
        st, js, _ = self.w.call("POST", "/api/2.2/jobs/runs/submit", {"tasks": [
            {"task_key": "a", "new_cluster": spec, "scc_command_task": {"argv": ["true"]}},
            {"task_key": "b", "new_cluster": {"num_workers": 1},
             "scc_command_task": {"argv": ["true"]}}]})
        self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"))
        self.assertIn("Task b: new_cluster: Missing required field: spark_version", js["message"])
        self.assertEqual(self.w.ok("GET", "/api/2.1/clusters/list"), {})

        rid = self.w.ok("POST", "/api/2.2/jobs/runs/submit", {"tasks": [
            {"task_key": "a", "new_cluster": spec,
             "scc_command_task": {"argv": ["sh", "-c", "echo job-$DATABRICKS_CLUSTER_ID"]}}]}
                        )["run_id"]
        r = self.wait_run(rid, timeout=90)
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        cid = r["tasks"][0]["cluster_instance"]["cluster_id"]
        self.assertEqual(r["tasks"][0]["new_cluster"], spec)
        self.assertIn("job-%s\n" % cid, self.output(r)["logs"])
        c = self.wait_cluster(cid, "TERMINATED")
        self.assertEqual((c["cluster_source"], c["termination_reason"]["code"]),
                         ("JOB", "JOB_FINISHED"))
        self.assertEqual(self.vms_of(cid), [])

    def test_tasks_of_one_job_cluster_key_share_a_cluster_that_ends_with_the_last(self):
        w = self.w
        spec = {"spark_version": LTS, "num_workers": 0}
        jcs = [{"job_cluster_key": "shared", "new_cluster": spec}]
        hold = "i=0; while [ ! -e /tmp/scc-it-go-$DATABRICKS_CLUSTER_ID ] && [ $i -lt 300 ]; " \
               "do sleep 0.1; i=$((i+1)); done; echo held"

        def task(key, **kw):
            return dict({"task_key": key, "scc_command_task": {"argv": ["true"]}}, **kw)
        for body, text in (
                ({"tasks": [task("a", job_cluster_key="nope")], "job_clusters": jcs},
                 "job_cluster_key nope is not"),
                ({"tasks": [task("a", job_cluster_key="shared")], "job_clusters": jcs * 2},
                 "its own job_cluster_key"),
                ({"tasks": [task("a", job_cluster_key="shared", new_cluster=spec)],
                  "job_clusters": jcs}, "give one of"),
                ({"tasks": [task("a", job_cluster_key="x")], "job_clusters": [
                    {"job_cluster_key": "x", "new_cluster": {"num_workers": 1}}]},
                 "Job cluster x: new_cluster: Missing required field: spark_version"),
                ({"tasks": [task("a", environment_key="e")]}, "serverless")):
            st, js, _ = w.call("POST", "/api/2.2/jobs/runs/submit", body)
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), js)
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list"), {})  # nothing made

        # a and b share "shared"; b waits for a; c has a cluster of its own.
        # The shared cluster stays while b runs after a ended.
        rid = w.ok("POST", "/api/2.2/jobs/runs/submit", {"job_clusters": jcs, "tasks": [
            task("a", job_cluster_key="shared",
                 scc_command_task={"argv": ["sh", "-c", "echo a-$DATABRICKS_CLUSTER_ID"]}),
            task("b", job_cluster_key="shared", depends_on=[{"task_key": "a"}],
                 scc_command_task={"argv": ["sh", "-c", hold]}),
            task("c", new_cluster=spec)]})["run_id"]
        run = wait_for(lambda: (lambda r: r if r["tasks"][1]["state"]["life_cycle_state"] ==
                                "RUNNING" else None)(self.get_run(rid)), 60, what="b to run")
        shared = run["tasks"][0]["cluster_instance"]["cluster_id"]
        self.assertEqual(run["tasks"][1]["cluster_instance"]["cluster_id"], shared)
        self.assertNotEqual(run["tasks"][2]["cluster_instance"]["cluster_id"], shared)
        self.assertEqual(run["job_clusters"], jcs)
        self.assertEqual(run["tasks"][0]["state"]["result_state"], "SUCCESS")
        self.assertEqual(self.cluster(shared)["state"], "RUNNING")  # b still needs it
        open("/tmp/scc-it-go-" + shared, "w").close()
        self.addCleanup(os.unlink, "/tmp/scc-it-go-" + shared)
        r = self.wait_run(rid)
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        outs = [w.ok("GET", "/api/2.1/jobs/runs/get-output?run_id=%d" % t["run_id"])["logs"]
                for t in r["tasks"][:2]]
        self.assertEqual(outs, ["a-%s\n" % shared, "held\n"])
        c = self.wait_cluster(shared, "TERMINATED")
        self.assertEqual((c["cluster_source"], c["termination_reason"]["code"]),
                         ("JOB", "JOB_FINISHED"))

        # A job's settings keep their job_clusters, and run-now uses them.
        jid = w.ok("POST", "/api/2.2/jobs/create", {"name": "j", "job_clusters": jcs, "tasks": [
            task("a", job_cluster_key="shared")]})["job_id"]
        r = self.wait_run(w.ok("POST", "/api/2.2/jobs/run-now", {"job_id": jid})["run_id"])
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertEqual(w.ok("GET", "/api/2.2/jobs/get?job_id=%d" % jid)["settings"][
            "job_clusters"], jcs)


class TestNodeLost(DbxTest):
    SCCD = ("--cluster-node-grace", "3s")

    def test_a_node_whose_tunnel_stays_away_ends_its_cluster_and_run(self):
        cid = self.new_cluster()
        c = self.wait_cluster(cid, "RUNNING")
        rid = self.submit(cid, {"scc_command_task": {"argv": ["sleep", "60"]}})
        wait_for(lambda: self.get_run(rid)["state"]["life_cycle_state"] == "RUNNING", 20,
                 what="the task to start")
        # Its certificate revoked, the driver cannot come back.
        self.sccctl(self.d, "node", "revoke", "ws1/%s/%s" % (cid, c["driver"]["node_id"]))
        r = self.wait_run(rid, timeout=30)
        self.assertEqual(r["state"]["life_cycle_state"], "INTERNAL_ERROR", r)
        self.assertEqual(r["status"]["termination_details"]["code"], "DRIVER_ERROR")
        # The run and the cluster see it in the same tick; either says why.
        self.assertRegex(r["state"]["state_message"],
                         "Could not reach driver of cluster %s|Cluster %s was terminated during "
                         "the run: COMMUNICATION_LOST" % (cid, cid))
        c = self.wait_cluster(cid, "TERMINATED", timeout=30)
        self.assertEqual((c["termination_reason"]["code"], c["termination_reason"]["type"]),
                         ("COMMUNICATION_LOST", "CLOUD_FAILURE"))
        types = [e["type"] for e in self.w.ok("POST", "/api/2.1/clusters/events",
                                              {"cluster_id": cid})["events"]]
        self.assertIn("NODES_LOST", types)


class TestJobs(DbxTest):

    def test_a_job_keeps_its_settings_and_runs_now(self):
        w = self.w
        cid = self.new_cluster()
        task = {"task_key": "t", "existing_cluster_id": cid,
                "spark_python_task": {"python_file": "/bin/true.py", "parameters": ["a"]}}
        # Settings that could not run are refused when written.
        for body, text in (({"name": "j", "tasks": []}, "tasks"),
                           ({"name": "j", "tasks": [dict(task, existing_cluster_id="nope")]},
                            "Cluster nope does not exist"),
                           ({"name": "j", "tasks": [task], "max_concurrent_runs": 0},
                            "max_concurrent_runs")):
            st, js, _ = w.call("POST", "/api/2.1/jobs/create", body)
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), body)
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.1/jobs/list")["jobs"], [])

        py = self.path("job.py")
        with open(py, "w") as f:
            f.write("import sys, time\ntime.sleep(1.5)\nprint('job says', sys.argv[1:])\n")
        task["spark_python_task"]["python_file"] = py
        jid = w.ok("POST", "/api/2.1/jobs/create", {"name": "nightly", "tasks": [task]})["job_id"]
        job = w.ok("GET", "/api/2.1/jobs/get?job_id=%d" % jid)
        self.assertEqual((job["settings"]["name"], job["settings"]["max_concurrent_runs"]),
                         ("nightly", 1))
        w.ok("POST", "/api/2.1/jobs/update", {"job_id": jid, "new_settings": {"name": "hourly"}})
        self.assertEqual(w.ok("GET", "/api/2.2/jobs/get?job_id=%d" % jid)["settings"]["name"],
                         "hourly")
        listed = w.ok("GET", "/api/2.1/jobs/list")["jobs"]
        self.assertEqual([j["job_id"] for j in listed], [jid])
        self.assertNotIn("tasks", listed[0]["settings"])

        self.wait_cluster(cid, "RUNNING")
        first = w.ok("POST", "/api/2.1/jobs/run-now", {"job_id": jid, "python_params": ["x"]})
        # A second run while the first is active: skipped (max_concurrent_runs 1).
        second = w.ok("POST", "/api/2.1/jobs/run-now", {"job_id": jid})["run_id"]
        r2 = self.get_run(second)
        self.assertEqual((r2["state"]["life_cycle_state"], r2["state"]["result_state"]),
                         ("SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED"))
        r = self.wait_run(first["run_id"])
        self.assertEqual((r["run_type"], r["job_id"], r["run_name"]), ("JOB_RUN", jid, "hourly"))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertIn("job says ['x']", self.output(r)["logs"])
        runs = w.ok("GET", "/api/2.2/jobs/runs/list?job_id=%d" % jid)["runs"]
        self.assertEqual(sorted(x["run_id"] for x in runs), sorted([first["run_id"], second]))
        w.ok("POST", "/api/2.1/jobs/reset", {"job_id": jid, "new_settings": {
            "name": "again", "tasks": [dict(task, spark_python_task={"python_file": py})]}})
        self.assertEqual(w.ok("GET", "/api/2.1/jobs/get?job_id=%d" % jid)["settings"]["tasks"][0]
                         ["spark_python_task"], {"python_file": py})
        w.ok("POST", "/api/2.1/jobs/delete", {"job_id": jid})
        st, js, _ = w.call("GET", "/api/2.1/jobs/get?job_id=%d" % jid)
        self.assertEqual((st, js["message"]), (400, "Job %d does not exist." % jid))
        self.assertEqual(self.get_run(first["run_id"])["job_id"], jid)  # its runs stay

    def test_a_queue_holds_runs_past_max_concurrent_runs(self):
        w = self.w
        cid = self.new_cluster()
        slow = {"task_key": "t", "existing_cluster_id": cid,
                "scc_command_task": {"argv": ["sh", "-c", "sleep 1.5; echo done"]}}
        jid = w.ok("POST", "/api/2.2/jobs/create", {"name": "q", "tasks": [slow],
                                                    "queue": {"enabled": True}})["job_id"]
        self.wait_cluster(cid, "RUNNING")
        first, second, third = (w.ok("POST", "/api/2.2/jobs/run-now", {"job_id": jid})["run_id"]
                                for _ in range(3))
        for rid in (second, third):
            r = self.get_run(rid)
            self.assertEqual((r["state"]["life_cycle_state"], r["status"]["state"],
                              r["status"]["queue_details"]["code"]),
                             ("QUEUED", "QUEUED", "ACTIVE_RUNS_LIMIT_REACHED"), r)
        w.ok("POST", "/api/2.2/jobs/runs/cancel", {"run_id": third})
        r3 = self.wait_run(third)
        self.assertEqual(r3["state"]["result_state"], "CANCELED", r3)
        r1, r2 = self.wait_run(first), self.wait_run(second)
        self.assertEqual((r1["state"]["result_state"], r2["state"]["result_state"]),
                         ("SUCCESS", "SUCCESS"))
        self.assertGreaterEqual(r2["tasks"][0]["start_time"], r1["end_time"])  # one at a time
        self.assertEqual(self.output(r2)["logs"], "done\n")
        self.assertFalse(r3["tasks"][0].get("start_time"))  # it never ran

        # A queued run makes its job cluster only when it leaves the queue;
        # one whose job is deleted while it waits ends CANCELED.
        spec = {"spark_version": LTS, "num_workers": 0}
        j2 = w.ok("POST", "/api/2.2/jobs/create", {"name": "q2", "queue": {"enabled": True},
                                                   "tasks": [dict(slow, existing_cluster_id=None,
                                                                  new_cluster=spec)]})["job_id"]
        a, b = (w.ok("POST", "/api/2.2/jobs/run-now", {"job_id": j2})["run_id"]
                for _ in range(2))
        jobs = [c for c in w.ok("GET", "/api/2.1/clusters/list")["clusters"]
                if c["cluster_source"] == "JOB"]
        self.assertEqual(len(jobs), 1)  # a's only
        rb = self.wait_run(b, timeout=90)
        self.assertEqual(rb["state"]["result_state"], "SUCCESS", rb)
        self.assertNotEqual(rb["tasks"][0]["cluster_instance"]["cluster_id"],
                            self.get_run(a)["tasks"][0]["cluster_instance"]["cluster_id"])
        c, d = (w.ok("POST", "/api/2.2/jobs/run-now", {"job_id": j2})["run_id"]
                for _ in range(2))
        self.assertEqual(self.get_run(d)["state"]["life_cycle_state"], "QUEUED")
        w.ok("POST", "/api/2.2/jobs/delete", {"job_id": j2})
        rd = self.wait_run(d)
        self.assertEqual(rd["state"]["result_state"], "CANCELED", rd)
        self.assertEqual(self.wait_run(c, timeout=90)["state"]["result_state"], "SUCCESS")

    def test_a_schedule_starts_runs_survives_kill_9_and_pauses(self):
        w = self.w
        cid = self.new_cluster()
        task = {"task_key": "t", "existing_cluster_id": cid,
                "scc_command_task": {"argv": ["echo", "tick"]}}
        for sch, text in (({"quartz_cron_expression": "0 0 12 * *", "timezone_id": "UTC"},
                           "6 or 7 fields"),
                          ({"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "Mars/Base"},
                           "Mars/Base is not known"),
                          ({"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "../x"},
                           "IANA"),
                          ({"quartz_cron_expression": "0 0 12 * * ?", "timezone_id": "UTC",
                            "pause_status": "MAYBE"}, "pause_status"),
                          ("hourly", "must be an object")):
            st, js, _ = w.call("POST", "/api/2.1/jobs/create",
                               {"name": "j", "tasks": [task], "schedule": sch})
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), sch)
            self.assertIn("schedule: ", js["message"])
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.1/jobs/list")["jobs"], [])

        self.wait_cluster(cid, "RUNNING")
        every2 = {"quartz_cron_expression": "*/2 * * * * ?", "timezone_id": "Europe/Berlin"}
        jid = w.ok("POST", "/api/2.1/jobs/create", {"name": "often", "tasks": [task],
                                                    "schedule": every2})["job_id"]

        def periodic():
            return [r for r in self.w.ok("GET", "/api/2.2/jobs/runs/list?job_id=%d&limit=25"
                                    % jid).get("runs", []) if r.get("trigger") == "PERIODIC"]
        wait_for(lambda: len(periodic()) >= 2, 20, what="two scheduled runs")
        r = self.wait_run(periodic()[-1]["run_id"])
        self.assertEqual((r["state"]["result_state"], r["run_type"]), ("SUCCESS", "JOB_RUN"), r)
        self.assertEqual(self.output(r)["logs"], "tick\n")
        # The schedule is in the store: after a kill -9 it goes on.
        self.kill9()
        self.restart()
        seen = len(periodic())
        wait_for(lambda: len(periodic()) > seen, 20, what="a scheduled run after the restart")
        # Paused, it starts nothing more.
        self.w.ok("POST", "/api/2.1/jobs/update", {"job_id": jid, "new_settings": {
            "schedule": dict(every2, pause_status="PAUSED")}})
        time.sleep(0.5)
        seen = len(periodic())
        time.sleep(4.5)
        self.assertEqual(len(periodic()), seen)


class TestWarehouses(DbxTest):

    def wh(self, wid):
        return self.w.ok("GET", "/api/2.0/sql/warehouses/" + wid)

    def wait_wh(self, wid, state, timeout=60):
        return wait_for(lambda: (lambda x: x if x["state"] == state else None)(self.wh(wid)),
                        timeout, interval=0.3, what="warehouse %s %s" % (wid, state))

    def mrg_vms(self):
        mrg = self.ws["properties"]["managedResourceGroupId"]
        return self.call("GET", mrg + "/providers/Microsoft.Compute/virtualMachines",
                         version="2024-07-01", expect=200).json["value"]

    def test_warehouse_is_a_cluster_of_vms_that_starts_and_stops(self):
        w = self.w
        for body, status, text in (
                ({"cluster_size": "Small"}, 400, "name"),
                ({"name": "wh", "cluster_size": "Huge"}, 400, "cluster_size"),
                ({"name": "wh", "cluster_size": "Small", "enable_serverless_compute": True},
                 400, "Serverless"),
                ({"name": "wh", "cluster_size": "Small", "auto_stop_mins": 5}, 400,
                 "auto_stop_mins"),
                ({"name": "wh", "cluster_size": "Small", "min_num_clusters": 2,
                  "max_num_clusters": 1}, 400, "max_num_clusters")):
            st, js, _ = w.call("POST", "/api/2.0/sql/warehouses", body)
            self.assertEqual(st, status, js)
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.0/sql/warehouses"), {})

        wid = w.ok("POST", "/api/2.0/sql/warehouses",
                   {"name": "bi", "cluster_size": "X-Small", "auto_stop_mins": 0})["id"]
        self.assertRegex(wid, "^[0-9a-f]{16}$")
        st, js, _ = w.call("POST", "/api/2.0/sql/warehouses",
                           {"name": "bi", "cluster_size": "Small"})
        self.assertEqual((st, js["error_code"]), (409, "RESOURCE_ALREADY_EXISTS"))
        self.assertIn(self.wh(wid)["state"], ("STARTING", "RUNNING"))
        x = self.wait_wh(wid, "RUNNING")
        self.assertEqual(x["health"]["status"], "HEALTHY")
        self.assertEqual(x["odbc_params"]["path"], "/sql/1.0/warehouses/" + wid)
        self.assertEqual(x["odbc_params"]["hostname"], self.url)
        self.assertEqual(len(self.mrg_vms()), 2)  # X-Small: a driver and a worker
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list"), {})  # not a cluster to users
        self.assertEqual([x["id"] for x in w.ok("GET", "/api/2.0/sql/warehouses")["warehouses"]],
                         [wid])

        # start and stop come without a body, as the JS SDK sends them.
        st, js, _ = w.call("POST", "/api/2.0/sql/warehouses/%s/stop" % wid, raw=b"")
        self.assertEqual(st, 200, js)
        self.wait_wh(wid, "STOPPED")
        self.assertEqual(self.mrg_vms(), [])
        w.ok("POST", "/api/2.0/sql/warehouses/%s/edit" % wid, {"cluster_size": "2X-Small"})
        self.assertEqual(self.wh(wid)["cluster_size"], "2X-Small")
        st, js, _ = w.call("POST", "/api/2.0/sql/warehouses/%s/start" % wid, raw=b"")
        self.assertEqual(st, 200, js)
        self.wait_wh(wid, "RUNNING")
        self.assertEqual(len(self.mrg_vms()), 1)  # the new size
        st, js, _ = w.call("DELETE", "/api/2.0/sql/warehouses/" + wid)
        self.assertEqual(st, 200, js)
        st, js, _ = w.call("GET", "/api/2.0/sql/warehouses/" + wid)
        self.assertEqual((st, js["error_code"]), (404, "RESOURCE_DOES_NOT_EXIST"))
        wait_for(lambda: self.mrg_vms() == [], 30, what="the warehouse's VMs to go")


class TestPools(DbxTest):
    NT = "Standard_DS3_v2"

    def pool(self, pid):
        return self.w.ok("GET", "/api/2.0/instance-pools/get?instance_pool_id=" + pid)

    def wait_pool(self, pid, what, **stats):
        return wait_for(lambda: (lambda p: p if all(p["stats"][k] == v for k, v in stats.items())
                                 else None)(self.pool(pid)), 60, interval=0.3, what=what)

    def test_pool_keeps_idle_vms_that_clusters_start_on(self):
        w, nt = self.w, self.NT
        for body, text in (
                ({"node_type_id": nt}, "instance_pool_name"),
                ({"instance_pool_name": "p", "node_type_id": "m5.large"}, "Node type m5.large"),
                ({"instance_pool_name": "p", "node_type_id": nt, "min_idle_instances": 3,
                  "max_capacity": 2}, "max_capacity"),
                ({"instance_pool_name": "p", "node_type_id": nt, "min_idle_instances": -1},
                 "min_idle_instances"),
                ({"instance_pool_name": "p", "node_type_id": nt, "min_idle_instances": 101},
                 "min_idle_instances"),
                ({"instance_pool_name": "p", "node_type_id": nt,
                  "idle_instance_autotermination_minutes": "5"}, "idle_instance")):
            st, js, _ = w.call("POST", "/api/2.0/instance-pools/create", body)
            self.assertEqual((st, js["error_code"]), (400, "INVALID_PARAMETER_VALUE"), js)
            self.assertIn(text, js["message"])
        self.assertEqual(w.ok("GET", "/api/2.0/instance-pools/list"), {})
        st, js, _ = w.call("POST", "/api/2.1/clusters/create", {
            "cluster_name": "c", "spark_version": LTS, "instance_pool_id": "nope-pool"})
        self.assertEqual(st, 400, js)
        self.assertIn("Instance pool nope-pool does not exist", js["message"])
        self.assertEqual(w.ok("GET", "/api/2.1/clusters/list"), {})  # nothing made

        pid = w.ok("POST", "/api/2.0/instance-pools/create", {
            "instance_pool_name": "warm", "node_type_id": nt, "min_idle_instances": 2,
            "max_capacity": 3})["instance_pool_id"]
        p = self.wait_pool(pid, "two idle instances", idle_count=2, used_count=0)
        self.assertEqual((p["state"], p["status"]["pending_instance_errors"]), ("ACTIVE", []))
        warm = sorted(v["name"] for v in self.vms_of(pid))
        self.assertEqual(len(warm), 2)  # real VMs of the workspace
        self.assertEqual([x["instance_pool_id"] for x in
                          w.ok("GET", "/api/2.0/instance-pools/list")["instance_pools"]], [pid])

        # A cluster of the pool starts on its idle VMs, whose agents already
        # hold their tunnels: no VM is made for it.
        cid = self.new_cluster(1, instance_pool_id=pid)
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((c["node_type_id"], c["instance_pool_id"]), (nt, pid))
        self.assertEqual(sorted([c["driver"]["node_id"]] +
                                [e["node_id"] for e in c["executors"]]), warm)
        self.assertEqual(self.vms_of(cid), [])
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "pooled"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertEqual(self.output(r)["logs"], "pooled\n")
        # The pool makes one more (max_capacity 3), and a second cluster
        # needing two is refused at once, saying why.
        self.wait_pool(pid, "the pool refilled up to its capacity", idle_count=1, used_count=2)
        c2 = self.wait_cluster(self.new_cluster(1, instance_pool_id=pid), "TERMINATED")
        reason = c2["termination_reason"]
        self.assertEqual(reason["code"], "INSTANCE_POOL_MAX_CAPACITY_REACHED", c2)
        self.assertEqual(reason["parameters"]["instance_pool_id"], pid)
        self.assertIn("max_capacity 3", reason["parameters"]["databricks_error_message"])

        base = {"instance_pool_id": pid, "instance_pool_name": "warm", "max_capacity": 3}
        st, js, _ = w.call("POST", "/api/2.0/instance-pools/edit",
                           dict(base, node_type_id="Standard_DS4_v2"))
        self.assertEqual(st, 400, js)
        self.assertIn("cannot change", js["message"])
        w.ok("POST", "/api/2.0/instance-pools/edit", dict(base, node_type_id=nt,
                                                           min_idle_instances=1))
        self.assertEqual(self.pool(pid)["min_idle_instances"], 1)

        # An instance serves one cluster: when it ends, its VMs are deleted.
        w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.wait_cluster(cid, "TERMINATED")
        self.wait_pool(pid, "the used instances given back", idle_count=1, used_count=0)
        left = wait_for(lambda: (lambda v: v if len(v) == 1 else None)(
            [v["name"] for v in self.vms_of(pid)]), 30, what="the used instances' VMs deleted")
        self.assertNotIn(left[0], warm)

        w.ok("POST", "/api/2.0/instance-pools/delete", {"instance_pool_id": pid})
        self.assertEqual(w.ok("GET", "/api/2.0/instance-pools/list"), {})
        wait_for(lambda: self.vms_of(pid) == [], 30, what="the pool's VMs to go")
        wait_for(lambda: w.call("GET", "/api/2.0/instance-pools/get?instance_pool_id=" + pid)[0]
                 == 400, 10, what="the deleted pool to go")

    def test_pool_cluster_grows_from_its_pool_and_a_failed_add_keeps_it(self):
        w = self.w
        pid = w.ok("POST", "/api/2.0/instance-pools/create", {
            "instance_pool_name": "small", "node_type_id": self.NT, "min_idle_instances": 0,
            "max_capacity": 3, "idle_instance_autotermination_minutes": 0})["instance_pool_id"]
        cid = self.new_cluster(0, instance_pool_id=pid)
        driver = self.wait_cluster(cid, "RUNNING")["driver"]["node_id"]
        w.ok("POST", "/api/2.1/clusters/resize", {"cluster_id": cid, "num_workers": 1})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual((len(c["executors"]), c["driver"]["node_id"]), (1, driver))
        self.wait_pool(pid, "two in use", used_count=2)
        # Three workers need three more: past max_capacity 3.  The cluster
        # stays, at the size it has, and says why.
        w.ok("POST", "/api/2.1/clusters/resize", {"cluster_id": cid, "num_workers": 3})
        c = wait_for(lambda: (lambda c: c if c["state"] == "RUNNING" and
                              c["num_workers"] == 1 else None)(self.cluster(cid)), 30,
                     what="the resize to fail")
        self.assertEqual(len(c["executors"]), 1)
        events = w.ok("POST", "/api/2.1/clusters/events",
                      {"cluster_id": cid, "order": "ASC"})["events"]
        failed = [e for e in events if e["type"] == "ADD_NODES_FAILED"]
        self.assertEqual(failed[0]["details"]["reason"]["code"],
                         "INSTANCE_POOL_MAX_CAPACITY_REACHED", events)
        self.assertNotEqual(events[-1]["type"], "UPSIZE_COMPLETED")
        # Back to the driver alone: the worker's VM goes with the pool.
        w.ok("POST", "/api/2.1/clusters/resize", {"cluster_id": cid, "num_workers": 0})
        c = self.wait_cluster(cid, "RUNNING")
        self.assertEqual(c["executors"], [])
        self.wait_pool(pid, "one in use", used_count=1)
        wait_for(lambda: [v["name"] for v in self.vms_of(pid)] == [driver], 30,
                 what="the worker's VM deleted")
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "ok"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)


class TestDriverProxy(DbxTest):

    def fresh(self, method, path, body=None, token=None, headers=None):
        """One request on its own connection (the proxy closes it after)."""
        ip, port = self.d.endpoints["api"].rsplit(":", 1)
        conn = _Conn(self.url, (ip, int(port)), self.w.ctx)
        h = {"Host": self.w.host}
        if token is not False:
            h["Authorization"] = "Bearer " + (token or self.w.token)
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            conn.close()

    def test_driver_proxy_reaches_the_drivers_loopback_through_its_tunnel(self):
        port = 18000 + os.getpid() % 1000
        py = self.path("service.py")
        with open(py, "w") as f:
            f.write(DRIVER_SERVICE)
        cid = self.new_cluster()
        self.wait_cluster(cid, "RUNNING")
        rid = self.submit(cid, {"spark_python_task": {"python_file": py,
                                                      "parameters": [str(port)]}})
        wait_for(lambda: "listening" in self.output(self.get_run(rid)).get("logs", ""), 30,
                 what="the service on the driver")
        wsid = self.ws["properties"]["workspaceId"]
        base = "/driver-proxy-api/o/%%s/%s/%d" % (cid, port)

        st, body, hdrs = self.fresh("GET", base % "0" + "/some/path?x=1&y=%2F")
        self.assertEqual(st, 200, body)
        got = json.loads(body)
        self.assertEqual((got["method"], got["path"]), ("GET", "/some/path?x=1&y=%2F"))
        self.assertNotIn("authorization", got["headers"])  # the control plane's token stays here
        self.assertEqual(got["headers"]["host"], "127.0.0.1:%d" % port)
        self.assertEqual(got["headers"]["x-forwarded-host"], self.w.host)
        st, body, _ = self.fresh("POST", base % wsid + "/echo", b'{"a": 1}',
                                 headers={"Content-Type": "application/json"})
        self.assertEqual((st, json.loads(body)["body"]), (200, '{"a": 1}'))
        st, body, _ = self.fresh("GET", base % "0" + "/big")
        self.assertEqual((st, len(body), body.count(b"x")), (200, 3000000, 3000000))
        for b in (base % "0", "/driver-proxy/o/0/%s/%d" % (cid, port)):  # no path: "/"
            st, body, _ = self.fresh("GET", b)
            self.assertEqual((st, json.loads(body)["path"]), (200, "/"))

        # A WebSocket-style upgrade: 101, then bytes both ways.
        ip, aport = self.d.endpoints["api"].rsplit(":", 1)
        s = self.w.ctx.wrap_socket(socket.create_connection((ip, int(aport)), 10),
                                   server_hostname=self.url)
        s.sendall(("GET %s/ws HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                   % (base % "0", self.w.host, self.w.token)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        for word in (b"hello", b"through the tunnel"):
            s.sendall(word)
            got = b""
            while len(got) < len(word):
                got += s.recv(4096)
            self.assertEqual(got, word.upper())
        s.close()

        # Errors: JSON, and never a hang.
        for path, token, status, code in (
                (base % "0", "scca1.x.y", 401, "UNAUTHENTICATED"),
                (base % "999", None, 404, "ENDPOINT_NOT_FOUND"),
                ("/driver-proxy-api/o/0/%s/1" % cid, None, 502, "BAD_GATEWAY"),
                ("/driver-proxy-api/o/0/nope/%d" % port, None, 400, "INVALID_PARAMETER_VALUE"),
                ("/driver-proxy-api/o/0/%s/99999" % cid, None, 404, "ENDPOINT_NOT_FOUND")):
            st, body, hdrs = self.fresh("GET", path, token=token)
            js = json.loads(body)
            self.assertEqual((st, js["error_code"]), (status, code), (path, js))
            self.assertNotIn("refused", js["message"])  # the JS SDK would retry for minutes
        st, body, _ = self.fresh("GET", base % "0", token=False)
        self.assertEqual(st, 401)

        # Terminating the cluster ends the run on it, saying so, and closes the proxy.
        self.w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.wait_cluster(cid, "TERMINATED")
        st, body, _ = self.fresh("GET", base % "0")
        self.assertEqual((st, json.loads(body)["error_code"]), (400, "INVALID_STATE"))
        r = self.wait_run(rid, timeout=20)
        self.assertEqual(r["state"]["life_cycle_state"], "INTERNAL_ERROR")
        self.assertIn("was terminated during the run: USER_REQUEST", r["state"]["state_message"])
        self.assertEqual(self.cluster(cid)["state"], "TERMINATED")  # and stays so


class TestNoOutbound(DbxTest):

    def test_cluster_without_a_way_to_the_relay_ends_with_npip_tunnel_setup_failure(self):
        ws2 = self.workspace(scc=True, ws="ws2", **self.injected(nat=False))
        self.w = Workspace(self.d, ws2["properties"]["workspaceUrl"],
                           read(os.path.join(self.d.data, "admin.token")))
        self.addCleanup(lambda: self.w.conn.close())
        cid = self.new_cluster()
        c = self.wait_cluster(cid, "TERMINATED")
        reason = c["termination_reason"]
        self.assertEqual((reason["code"], reason["type"]), ("NPIP_TUNNEL_SETUP_FAILURE",
                                                            "CLIENT_ERROR"), c)
        msg = reason["parameters"]["databricks_error_message"]
        for text in ("/subnets/public", "no NAT gateway", "cannot reach the relay"):
            self.assertIn(text, msg)
        self.assertTrue(c["state_message"].startswith("Npip Tunnel Setup Failure: "), c)
        self.ws = ws2
        self.assertEqual(self.vms_of(cid), [])  # the failed VMs went with it
        # A run on it fails, saying why, instead of waiting for ever.
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["true"]}}), timeout=60)
        self.assertEqual(r["state"]["life_cycle_state"], "INTERNAL_ERROR", r)
        self.assertIn("NPIP_TUNNEL_SETUP_FAILURE", r["state"]["state_message"])
        # A SQL warehouse there says the same in its health.
        wid = self.w.ok("POST", "/api/2.0/sql/warehouses",
                        {"name": "bi", "cluster_size": "2X-Small"})["id"]
        x = wait_for(lambda: (lambda x: x if x["state"] == "STOPPED" else None)(
            self.w.ok("GET", "/api/2.0/sql/warehouses/" + wid)), 60, what="the warehouse stopped")
        self.assertEqual(x["health"]["status"], "FAILED", x)
        self.assertEqual(x["health"]["failure_reason"]["code"], "NPIP_TUNNEL_SETUP_FAILURE")
        # So does a pool there, and a cluster that asks it for nodes.
        pid = self.pool_of_one()
        p = wait_for(lambda: (lambda p: p if p["status"]["pending_instance_errors"] else None)(
            self.w.ok("GET", "/api/2.0/instance-pools/get?instance_pool_id=" + pid)), 60,
            what="the pool's error")
        self.assertIn("cannot reach the relay", p["status"]["pending_instance_errors"][0]["message"])
        self.assertEqual(p["stats"]["idle_count"], 0)
        c = self.wait_cluster(self.new_cluster(instance_pool_id=pid), "TERMINATED")
        reason = c["termination_reason"]
        self.assertEqual(reason["code"], "INSTANCE_POOL_CLUSTER_FAILURE", c)
        self.assertIn("cannot reach the relay", reason["parameters"]["databricks_error_message"])
        wait_for(lambda: self.vms_of(pid) == [], 30, what="the pool's failed VMs to go")


class TestUpgrade(DbxTest):
    SCC = False

    def test_seed_upgrade_with_a_running_cluster(self):
        """The seed's procedure: a legacy workspace with a running cluster
        cannot be upgraded (Failed, saying why); terminate the cluster,
        upgrade, start it again: its nodes have no public IP."""
        cid = self.new_cluster()
        self.wait_cluster(cid, "RUNNING")
        vm = self.vms_of(cid)[0]
        self.assertIn("publicIPAddress",
                      self.host_nic(vm["id"])["properties"]["ipConfigurations"][0]["properties"])
        body = {"location": "eastus", "properties": {"parameters": {
            "enableNoPublicIp": {"value": True}}}}
        st = self.api.wait(self.call("PUT", self.ws_id(), body, expect=200)).json
        self.assertEqual((st["status"], st["error"]["code"]), ("Failed", "WorkspaceUpdateFailed"))
        self.assertIn("1 node VM(s)", st["error"]["message"])
        self.assertEqual(self.cluster(cid)["state"], "RUNNING")  # nothing changed for it
        self.w.ok("POST", "/api/2.1/clusters/delete", {"cluster_id": cid})
        self.wait_cluster(cid, "TERMINATED")
        st = self.api.wait(self.call("PUT", self.ws_id(), body, expect=200)).json
        self.assertEqual(st["status"], "Succeeded", st)
        self.w.ok("POST", "/api/2.1/clusters/start", {"cluster_id": cid})
        self.wait_cluster(cid, "RUNNING")
        vm = self.vms_of(cid)[0]
        self.assertEqual(vm["tags"]["scc-mode"], "scc")
        self.assertNotIn("publicIPAddress",
                         self.host_nic(vm["id"])["properties"]["ipConfigurations"][0]["properties"])
        r = self.wait_run(self.submit(cid, {"scc_command_task": {"argv": ["echo", "npip"]}}))
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)


    def test_idle_pool_instances_block_the_upgrade(self):
        """A pool with idle instances is running compute: the upgrade fails
        until the pool lets them go."""
        pid = self.pool_of_one()
        self.wait_idle(pid)
        body = {"location": "eastus", "properties": {"parameters": {
            "enableNoPublicIp": {"value": True}}}}
        st = self.api.wait(self.call("PUT", self.ws_id(), body, expect=200)).json
        self.assertEqual((st["status"], st["error"]["code"]), ("Failed", "WorkspaceUpdateFailed"))
        self.assertIn("1 node VM(s)", st["error"]["message"])
        self.w.ok("POST", "/api/2.0/instance-pools/edit", {
            "instance_pool_id": pid, "instance_pool_name": "p", "node_type_id": "Standard_DS3_v2",
            "min_idle_instances": 0, "idle_instance_autotermination_minutes": 0})
        wait_for(lambda: self.vms_of(pid) == [], 30, what="the idle instance to go")
        # The pool's deleteNodes may still be the workspace's operation.
        r = wait_for(lambda: (lambda r: r if r.status != 409 else None)(
            self.call("PUT", self.ws_id(), body)), 30, what="the pool's operation to end")
        self.assertEqual(r.status, 200, r)
        st = self.api.wait(r).json
        self.assertEqual(st["status"], "Succeeded", st)


class TestRestart(DbxTest):

    def test_kill_9_loses_no_cluster_run_pool_or_output(self):
        pid = self.pool_of_one()
        cid = self.new_cluster()
        self.wait_cluster(cid, "RUNNING")
        self.wait_idle(pid)
        idle = [v["name"] for v in self.vms_of(pid)]
        rid = self.submit(cid, {"scc_command_task": {
            "argv": ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.5; done"]}})
        wait_for(lambda: self.get_run(rid)["state"]["life_cycle_state"] == "RUNNING", 20,
                 what="the task to start")
        self.kill9()
        time.sleep(1)
        self.restart()
        r = self.wait_run(rid, timeout=60)
        self.assertEqual(r["state"]["result_state"], "SUCCESS", r)
        self.assertEqual(self.output(r)["logs"], "".join("line%d\n" % i for i in range(1, 7)))
        self.assertEqual(self.cluster(cid)["state"], "RUNNING")
        # The pool's idle VM is still the one it had: none made twice.
        c2 = self.wait_cluster(self.new_cluster(instance_pool_id=pid), "RUNNING")
        self.assertEqual([c2["driver"]["node_id"]], idle)

    def lose_answer(self, kind, oid, change):
        """Make the store say what it says when sccd dies after a
        createNodes committed and before its answer was recorded."""
        with sqlite3.connect(os.path.join(self.d.data, "scc.db")) as c:
            body = json.loads(c.execute("SELECT body FROM dbx_objects WHERE kind=? AND id=?",
                                        (kind, oid)).fetchone()[0])
            change(body)
            body["_scc"]["creating"] = True
            c.execute("UPDATE dbx_objects SET body=? WHERE kind=? AND id=?",
                      (json.dumps(body), kind, oid))

    def test_vms_of_a_launch_whose_answer_was_lost_are_not_left_behind(self):
        pid = self.pool_of_one()
        cid = self.new_cluster()
        self.wait_cluster(cid, "RUNNING")
        self.wait_idle(pid)
        old = {cid: [v["name"] for v in self.vms_of(cid)], pid: [v["name"] for v in
                                                                  self.vms_of(pid)]}
        self.kill9()

        def pending(c):
            c["state"] = "PENDING"
            c["_scc"]["nodes"] = []
        self.lose_answer("cluster", cid, pending)
        self.lose_answer("pool", pid, lambda p: p["_scc"].update(instances=[]))
        self.restart()
        # The cluster's unknown VMs are deleted and it launches anew; the
        # pool deletes the VM it does not know and makes one it does.
        self.wait_cluster(cid, "RUNNING")
        wait_for(lambda: len(self.vms_of(cid)) == 1 and len(self.vms_of(pid)) == 1 and
                 self.w.ok("GET", "/api/2.0/instance-pools/get?instance_pool_id=" +
                           pid)["stats"]["idle_count"] == 1, 30, what="one VM each")
        for oid in (cid, pid):
            self.assertNotIn(self.vms_of(oid)[0]["name"], old[oid])

    def test_a_resize_whose_answer_was_lost_keeps_the_running_nodes(self):
        cid = self.new_cluster(1)
        c = self.wait_cluster(cid, "RUNNING")
        driver = c["driver"]["node_id"]
        worker = c["executors"][0]["node_id"]
        self.kill9()

        def resizing(c):  # growing from 0 to 1 worker, the worker made, not recorded
            c["state"] = "RESIZING"
            c["_scc"]["size"] = 2
            c["_scc"]["nodes"] = c["_scc"]["nodes"][:1]
        self.lose_answer("cluster", cid, resizing)
        self.restart()
        c = wait_for(lambda: (lambda c: c if c["state"] == "RUNNING" and
                              len(self.vms_of(cid)) == 2 else None)(self.cluster(cid)), 30,
                     what="the cluster resized again")
        self.assertEqual(c["driver"]["node_id"], driver)  # never touched
        names = sorted(v["name"] for v in self.vms_of(cid))
        self.assertIn(driver, names)
        self.assertNotIn(worker, names)  # the unrecorded one went, a new one came


if __name__ == "__main__":
    unittest.main()
