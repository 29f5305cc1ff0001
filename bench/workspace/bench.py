#!/usr/bin/env python3
"""Workspace API benchmark (bench/README.md, "Workspace API"): against a fresh
sccd with the netns provider (root), in one run:

  - cluster create -> RUNNING (every node's agent has its tunnel), for 0 and
    4 workers;
  - runs/submit of a trivial task -> TERMINATED SUCCESS, against the same
    command through `sccctl exec` on the same driver (the tunnel alone);
  - get-output of a task that wrote 5 MB, once the task has ended (from the
    store) and through the tunnel (while it still runs).

usage: sudo python3 bench/workspace/bench.py [BUILD_DIR] [ROUNDS]
Every address is inside the namespaces the provider makes; it removes them
when sccd stops (--provider-cleanup).
"""
import http.client
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SCCD, SCCCTL = BUILD + "/src/control/sccd", BUILD + "/src/cli/sccctl"
LTS = "16.4.x-scala2.12"


class Conn(http.client.HTTPSConnection):
    def __init__(self, name, addr, ctx):
        super().__init__(name, timeout=60, context=ctx)
        self.addr = addr

    def connect(self):
        self.sock = self._context.wrap_socket(socket.create_connection(self.addr, self.timeout),
                                              server_hostname=self.host)


class Workspace:
    def __init__(self, data, url, api):
        ip, port = api.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=data + "/pki/ca.crt")
        self.host = "%s:%s" % (url, port)
        self.token = open(data + "/admin.token").read().strip()
        self.conn = Conn(url, (ip, int(port)), ctx)

    def call(self, method, path, body=None):
        h = {"Host": self.host, "Authorization": "Bearer " + self.token}
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = self.conn.getresponse()
        text = r.read()
        assert r.status == 200, (path, r.status, text[:300])
        return json.loads(text or b"{}")

    def until(self, path, ok, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.call("GET", path)
            if ok(got):
                return got
            time.sleep(0.05)
        raise RuntimeError("timed out: " + path)


def ctl(data, *args):
    return subprocess.run([SCCCTL, "--data-dir", data] + list(args), check=True,
                          capture_output=True, text=True).stdout


def stats(xs):
    xs = sorted(xs)
    return "median %.3f s, min %.3f, max %.3f (n=%d)" % (statistics.median(xs), xs[0], xs[-1],
                                                         len(xs))


def cluster_up(w, workers, **spec):
    t0 = time.monotonic()
    cid = w.call("POST", "/api/2.1/clusters/create",
                 dict({"spark_version": LTS, "num_workers": workers,
                       "autotermination_minutes": 0}, **spec))
    cid = cid["cluster_id"]
    c = w.until("/api/2.1/clusters/get?cluster_id=" + cid, lambda c: c["state"] == "RUNNING")
    return cid, time.monotonic() - t0, c


def cluster_down(w, cid):
    w.call("POST", "/api/2.1/clusters/permanent-delete", {"cluster_id": cid})
    w.until("/api/2.1/clusters/list", lambda x: cid not in json.dumps(x), 120)


def run(w, cid, argv):
    t0 = time.monotonic()
    rid = w.call("POST", "/api/2.2/jobs/runs/submit", {"tasks": [{
        "task_key": "t", "existing_cluster_id": cid, "scc_command_task": {"argv": argv}}]})
    r = w.until("/api/2.2/jobs/runs/get?run_id=%d" % rid["run_id"],
                lambda r: r["state"]["life_cycle_state"] == "TERMINATED")
    assert r["state"]["result_state"] == "SUCCESS", r
    return r, time.monotonic() - t0


def main():
    work = tempfile.mkdtemp(prefix="scc-bench-ws.")
    data = work + "/d"
    prefix = "sccbw%d" % (os.getpid() % 100000)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sccd = subprocess.Popen([SCCD, "--data-dir", data, "--api-listen", "127.0.0.1:%d" % port,
                             "--relay-listen", "127.0.0.2:0", "--metrics-listen", "",
                             "--provider", "netns", "--provider-prefix", prefix,
                             "--public-api-ip", "198.51.100.230", "--public-relay-ip",
                             "198.51.100.231", "--public-ip-range", "203.0.113.250-203.0.113.254",
                             "--provider-cleanup", "--lro-delay", "0", "--log-level", "warn"],
                            stdout=open(work + "/sccd.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if os.path.exists(data + "/endpoints.json"):
                break
            time.sleep(0.1)
        api = json.load(open(data + "/endpoints.json"))["api"]
        ctl(data, "provider", "register", "Microsoft.ManagedIdentity")
        ctl(data, "group", "create", "rg1", "--location", "eastus")
        ctl(data, "workspace", "create", "ws1", "-g", "rg1", "--location", "eastus",
            "--no-public-ip", "true", "--wait", "--quiet")
        url = json.loads(ctl(data, "--output", "json", "workspace", "show", "ws1", "-g",
                             "rg1"))["properties"]["workspaceUrl"]
        w = Workspace(data, url, api)

        for workers in (0, 4):
            times = []
            for _ in range(ROUNDS):
                cid, t, _ = cluster_up(w, workers)
                times.append(t)
                cluster_down(w, cid)
            print("cluster create -> RUNNING, %d worker(s): %s" % (workers, stats(times)))

        # The same from an instance pool that keeps five VMs idle (each
        # round waits for it to refill, so every cluster finds them).
        pool = w.call("POST", "/api/2.0/instance-pools/create", {
            "instance_pool_name": "warm", "node_type_id": "Standard_DS3_v2",
            "min_idle_instances": 5})["instance_pool_id"]
        for workers in (0, 4):
            times = []
            for _ in range(ROUNDS):
                w.until("/api/2.0/instance-pools/get?instance_pool_id=" + pool,
                        lambda p: p["stats"]["idle_count"] == 5)
                cid, t, _ = cluster_up(w, workers, instance_pool_id=pool)
                times.append(t)
                cluster_down(w, cid)
            print("cluster create -> RUNNING from a warm pool, %d worker(s): %s"
                  % (workers, stats(times)))
        w.call("POST", "/api/2.0/instance-pools/delete", {"instance_pool_id": pool})

        cid, _, c = cluster_up(w, 0)
        node = "ws1/%s/%s" % (cid, c["driver"]["node_id"])
        api_t, exec_t = [], []
        for _ in range(ROUNDS * 4):
            api_t.append(run(w, cid, ["true"])[1])
            t0 = time.monotonic()
            ctl(data, "exec", node, "--", "true")
            exec_t.append(time.monotonic() - t0)
        print("runs/submit -> TERMINATED SUCCESS (`true`): %s" % stats(api_t))
        print("  peer, sccctl exec NODE -- true (the tunnel alone): %s" % stats(exec_t))

        # A schedule that fires every second: how late after its second each
        # run starts (run start_time, in ms, past the whole second), and how
        # long from that second to the run's task on the driver.
        jid = w.call("POST", "/api/2.2/jobs/create", {
            "name": "tick", "max_concurrent_runs": 5, "tasks": [{
                "task_key": "t", "existing_cluster_id": cid,
                "scc_command_task": {"argv": ["true"]}}],
            "schedule": {"quartz_cron_expression": "* * * * * ?",
                         "timezone_id": "UTC"}})["job_id"]
        time.sleep(ROUNDS * 4 + 1.5)
        w.call("POST", "/api/2.2/jobs/update", {"job_id": jid, "new_settings": {
            "schedule": {"quartz_cron_expression": "* * * * * ?", "timezone_id": "UTC",
                         "pause_status": "PAUSED"}}})
        runs = w.call("GET", "/api/2.2/jobs/runs/list?job_id=%d&limit=25" % jid)["runs"]
        late = [(r["start_time"] % 1000) / 1000.0 for r in runs]
        started = []
        for r in runs:
            t = w.until("/api/2.2/jobs/runs/get?run_id=%d" % r["run_id"],
                        lambda x: x["state"]["life_cycle_state"] == "TERMINATED")["tasks"][0]
            started.append((t["start_time"] - r["start_time"] // 1000 * 1000) / 1000.0)
        print("schedule every second: run made after its second: %s" % stats(late))
        print("  its task started on the driver after its second: %s" % stats(started))

        big = ["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x"]
        r, _ = run(w, cid, big)
        task = r["tasks"][0]["run_id"]
        out_t = []
        for _ in range(ROUNDS):
            t0 = time.monotonic()
            out = w.call("GET", "/api/2.1/jobs/runs/get-output?run_id=%d" % task)
            out_t.append(time.monotonic() - t0)
            assert len(out["logs"]) == 5000000, len(out["logs"])
        print("get-output of 5 MB, ended task (from the store): %s" % stats(out_t))
        rid = w.call("POST", "/api/2.2/jobs/runs/submit", {"tasks": [{
            "task_key": "t", "existing_cluster_id": cid,
            "scc_command_task": {"argv": ["sh", "-c", big[2] + "; sleep 60"]}}]})["run_id"]
        w.until("/api/2.2/jobs/runs/get?run_id=%d" % rid,
                lambda r: r["state"]["life_cycle_state"] == "RUNNING")
        time.sleep(1)
        live_t = []
        for _ in range(ROUNDS):
            t0 = time.monotonic()
            out = w.call("GET", "/api/2.1/jobs/runs/get-output?run_id=%d" % (rid + 1))
            live_t.append(time.monotonic() - t0)
            assert len(out["logs"]) == 5000000, len(out["logs"])
        print("get-output of 5 MB, running task (through the tunnel): %s" % stats(live_t))
        w.call("POST", "/api/2.1/jobs/runs/cancel", {"run_id": rid})
    finally:
        sccd.send_signal(signal.SIGTERM)
        sccd.wait(60)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
