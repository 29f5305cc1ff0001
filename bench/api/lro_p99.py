#!/usr/bin/env python3
"""p50/p99 of a workspace create through to Succeeded, measured the way the
Azure SDKs wait: PUT, then poll Azure-AsyncOperation until a terminal
status (every 10 ms here, where the SDK default is 2 s).

usage: lro_p99.py DATA_DIR [COUNT]"""
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse


def main():
    data, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100
    ep = json.load(open(os.path.join(data, "endpoints.json")))
    host, port = ep["api"].rsplit(":", 1)
    token = open(os.path.join(data, "admin.token")).read().strip()
    sub = open(os.path.join(data, "subscription")).read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(data, "pki", "ca.crt"))
    c = http.client.HTTPSConnection(host, int(port), context=ctx)
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def call(method, path, body=None):
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    call("POST", "/subscriptions/%s/providers/Microsoft.ManagedIdentity/register?api-version=2021-04-01" % sub)
    call("PUT", "/subscriptions/%s/resourcegroups/lro?api-version=2025-03-01" % sub, {"location": "eastus"})
    times = []
    for i in range(count):
        path = ("/subscriptions/%s/resourceGroups/lro/providers/Microsoft.Databricks/workspaces/ws-%d"
                "?api-version=2023-02-01" % (sub, i))
        t0 = time.monotonic()
        st, hdr, _ = call("PUT", path, {"location": "eastus", "sku": {"name": "premium"},
                                        "properties": {"parameters": {"enableNoPublicIp": {"value": True}}}})
        assert st == 201, st
        url = urllib.parse.urlsplit(hdr["Azure-AsyncOperation"])
        while True:
            _, _, body = call("GET", url.path + "?" + url.query)
            if json.loads(body)["status"] in ("Succeeded", "Failed"):
                break
            time.sleep(0.01)
        times.append(time.monotonic() - t0)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(len(times) * p))] * 1000
    print("workspace create -> Succeeded, n=%d: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (count, pct(0.50), pct(0.99), times[-1] * 1000))


if __name__ == "__main__":
    main()
