#include "ctl.h"
#include "ctl_wire.h"

#include "common/err.h"
#include "common/ident.h"
#include "common/parse.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OPT(n, t, f, d, lo, hi, h)                                                                 \
    {                                                                                              \
        n, t, offsetof(struct ctl_cfg, f), d, lo, hi, h, NULL                                      \
    }
#define DAY_MS 86400000u

const struct scc_cfg_opt ctl_cfg_opts[] = {
        OPT("data-dir", SCC_CFG_STR, data_dir, NULL, 0, 0,
            "state: scc.db, pki/, admin.token, sccd.sock"),
        OPT("role", SCC_CFG_STR, role, "all", 0, 0,
            "all (control plane and relay) or relay (the relay alone)"),
        OPT("api-listen", SCC_CFG_HOSTPORT, api_listen, "127.0.0.1:8443", 0, 0,
            "management API (HTTPS, the ARM wire format)"),
        OPT("relay-listen", SCC_CFG_LIST, relay_listen, "127.0.0.2:8443", 0, 0,
            "relay for agents' tunnels (TLS), not the API's address; repeat for several"),
        OPT("metrics-listen", SCC_CFG_STR, metrics_listen, "127.0.0.1:9464", 0, 0,
            "relay /metrics, /healthz, /readyz (plain HTTP, keep it on loopback; '' to disable)"),
        OPT("admin-socket", SCC_CFG_STR, admin_socket, NULL, 0, 0,
            "Unix socket for sccctl (default DIR/sccd.sock; DIR/relay.sock with --role relay)"),
        OPT("trust-domain", SCC_CFG_STR, trust_domain, "scc.local", 0, 0,
            "SPIFFE trust domain of node identities"),
        OPT("san", SCC_CFG_LIST, san, NULL, 0, 0,
            "extra DNS name or IP for the server certificate (repeatable)"),
        OPT("node-cert-ttl", SCC_CFG_SECONDS, node_cert_ttl_s, "30d", 60, 90 * 86400,
            "lifetime of node certificates"),
        OPT("join-token-ttl", SCC_CFG_DURATION, join_token_ttl_ms, "10m", 1000, 7 * DAY_MS,
            "default lifetime of join tokens"),
        OPT("keepalive", SCC_CFG_DURATION, keepalive_ms, "20s", 100, 3600000,
            "PING interval on tunnels"),
        OPT("dead-after", SCC_CFG_DURATION, dead_after_ms, "45s", 300, 3600000,
            "silence after which a tunnel is evicted"),
        OPT("handshake-timeout", SCC_CFG_DURATION, handshake_timeout_ms, "10s", 100, 600000,
            "TLS handshake deadline on the relay port"),
        OPT("request-timeout", SCC_CFG_DURATION, request_timeout_ms, "30s", 100, 600000,
            "deadline for a node's answer to a request"),
        OPT("max-tunnels", SCC_CFG_U32, max_tunnels, "100000", 1, 10000000,
            "tunnels before new ones are shed with retry-after"),
        OPT("max-handshakes", SCC_CFG_U32, max_handshakes, "512", 1, 1000000,
            "concurrent TLS handshakes before accepting pauses"),
        OPT("retry-after", SCC_CFG_U32, retry_after_s, "30", 1, 86400,
            "seconds shed agents are told to wait"),
        OPT("log-level", SCC_CFG_STR, log_level, "info", 0, 0, "error, warn, info or debug"),
        OPT("config", SCC_CFG_STR, config, NULL, 0, 0, "JSON file with any of these options"),
        OPT("api-max-conns", SCC_CFG_U32, api_max_conns, "10000", 1, 1000000,
            "management API connections before new ones are refused"),
        OPT("lro-delay", SCC_CFG_DURATION, lro_delay_ms, "1s", 0, 3600000,
            "time a workspace create, update or delete takes (spread over its steps)"),
        OPT("lro-retry-after", SCC_CFG_U32, lro_retry_after_s, "1", 0, 3600,
            "Retry-After seconds on long-running operation responses (0: none)"),
        OPT("workspace-domain", SCC_CFG_STR, workspace_domain, "scc.localhost", 0, 0,
            "domain of workspace URLs: adb-<workspaceId>.<shard>.<domain>"),
        OPT("cluster-launch-timeout", SCC_CFG_SECONDS, cluster_launch_s, "5m", 10, 86400,
            "workspace API: how long a cluster's nodes have to open their tunnels after launch"),
        OPT("cluster-node-grace", SCC_CFG_SECONDS, cluster_grace_s, "2m", 1, 86400,
            "workspace API: how long a running cluster's node (and a task's driver) may be "
            "without its tunnel before the cluster ends COMMUNICATION_LOST"),
        OPT("tenant-id", SCC_CFG_STR, tenant_id, "00000000-0000-0000-0000-000000000001", 0, 0,
            "tenant GUID reported with subscriptions"),
        OPT("provider", SCC_CFG_STR, provider, "none", 0, 0,
            "make networks and VMs real: none, auto (netns as root, else process), netns "
            "(namespaces, veths, nftables; root) or process (agents as plain processes)"),
        OPT("provider-prefix", SCC_CFG_STR, provider_prefix, "scc", 0, 0,
            "names of the provider's namespaces, links and nft tables ([a-z][a-z0-9]*, <= 11)"),
        OPT("provider-agent", SCC_CFG_STR, provider_agent, NULL, 0, 0,
            "scc-agent booted inside VMs (default: next to sccd)"),
        OPT("provider-cleanup", SCC_CFG_BOOL, provider_cleanup, "false", 0, 0,
            "on stop, remove every VM, namespace, link and rule of the prefix (else they keep "
            "running and the next start adopts them)"),
        OPT("public-api-ip", SCC_CFG_STR, public_api_ip, "198.51.100.10", 0, 0,
            "the API's address on the simulated internet (netns provider; port 443)"),
        OPT("public-relay-ip", SCC_CFG_STR, public_relay_ip, "198.51.100.11", 0, 0,
            "the relay's address on the simulated internet (netns provider; port 443)"),
        OPT("public-ip-range", SCC_CFG_STR, public_ip_range, "203.0.113.2-203.0.113.254", 0, 0,
            "where public IP resources get their addresses (inside 203.0.113.2-254)"),
};
const size_t ctl_cfg_nopts = sizeof(ctl_cfg_opts) / sizeof(ctl_cfg_opts[0]);

int
ctl_cfg_check(const struct ctl_cfg *cfg, char *err, size_t cap)
{
    char item[300], host[256];
    uint16_t port;

    if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0') {
        snprintf(err, cap, "--data-dir DIR is required");
        return SCC_EINVAL;
    }
    if (strcmp(cfg->role, "all") != 0 && strcmp(cfg->role, "relay") != 0) {
        snprintf(err, cap, "--role must be all or relay, not '%s'", cfg->role);
        return SCC_EINVAL;
    }
    if (!scc_ident_td_is_valid(cfg->trust_domain, strlen(cfg->trust_domain))) {
        snprintf(err, cap, "--trust-domain: '%s' is not a valid trust domain", cfg->trust_domain);
        return SCC_EINVAL;
    }
    if (cfg->dead_after_ms <= cfg->keepalive_ms) {
        snprintf(err, cap, "--dead-after must be longer than --keepalive");
        return SCC_EINVAL;
    }
    if (ctl_wire_cfg_check(cfg, err, cap) < 0)
        return SCC_EINVAL;
    for (const char *p = cfg->relay_listen; scc_list_next(&p, item, sizeof(item));) {
        if (strcmp(item, cfg->api_listen) == 0) {
            snprintf(err, cap, "--relay-listen must differ from --api-listen");
            return SCC_EINVAL;
        }
        if (scc_parse_hostport(item, host, sizeof(host), &port, true) < 0) {
            snprintf(err, cap, "--relay-listen: '%s' is not HOST:PORT", item);
            return SCC_EINVAL;
        }
    }
    return 0;
}

static int
join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? SCC_ETRUNC : 0;
}

int
ctl_paths_init(struct ctl_paths *p, const char *d)
{
    int rc = 0;

    rc |= join(p->db, sizeof(p->db), d, "scc.db");
    rc |= join(p->pki, sizeof(p->pki), d, "pki");
    rc |= join(p->ca_crt, sizeof(p->ca_crt), d, "pki/ca.crt");
    rc |= join(p->ca_key, sizeof(p->ca_key), d, "pki/ca.key");
    rc |= join(p->server_crt, sizeof(p->server_crt), d, "pki/server.crt");
    rc |= join(p->server_key, sizeof(p->server_key), d, "pki/server.key");
    rc |= join(p->control_crt, sizeof(p->control_crt), d, "pki/control.crt");
    rc |= join(p->control_key, sizeof(p->control_key), d, "pki/control.key");
    rc |= join(p->admin_token, sizeof(p->admin_token), d, "admin.token");
    rc |= join(p->admin_socket, sizeof(p->admin_socket), d, "sccd.sock");
    rc |= join(p->endpoints, sizeof(p->endpoints), d, "endpoints.json");
    /* A Unix socket path must fit sockaddr_un's 108 bytes. */
    if (rc != 0 || strlen(p->admin_socket) >= 108)
        return SCC_ETRUNC;
    return 0;
}
