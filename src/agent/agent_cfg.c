#include "agent.h"

#include "common/cfg.h"
#include "common/err.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OPT(n, t, f, d, lo, hi, h, e)                                                              \
    {                                                                                              \
        n, t, offsetof(struct agent_cfg, f), d, lo, hi, h, e                                       \
    }
#define MS_1H 3600000u

const struct scc_cfg_opt agent_cfg_opts[] = {
        OPT("relay", SCC_CFG_LIST, relay, NULL, 0, 0,
            "relay to dial, HOST:PORT; repeat for several relays (one tunnel each)", NULL),
        OPT("ca", SCC_CFG_STR, ca, NULL, 0, 0, "CA certificate of the control plane (PEM)", NULL),
        OPT("join-token", SCC_CFG_STR, join_token, NULL, 0, 0,
            "single-use join token (needed only until the node is enrolled)", "SCC_JOIN_TOKEN"),
        OPT("join-token-file", SCC_CFG_STR, join_token_file, NULL, 0, 0,
            "read the join token from this file instead", NULL),
        OPT("state-dir", SCC_CFG_STR, state_dir, NULL, 0, 0,
            "where the node key, certificate and run spools live", NULL),
        OPT("proxy", SCC_CFG_STR, proxy, NULL, 0, 0,
            "HTTP CONNECT proxy, http://[user:pass@]host:port", "https_proxy,HTTPS_PROXY"),
        OPT("no-proxy", SCC_CFG_STR, no_proxy, NULL, 0, 0,
            "comma-separated hosts or domain suffixes to reach without the proxy",
            "no_proxy,NO_PROXY"),
        OPT("node", SCC_CFG_STR, node, NULL, 0, 0,
            "identity this node expects, ws/cluster/node (refuse a token for another)", NULL),
        OPT("mode", SCC_CFG_STR, mode, "scc", 0, 0,
            "scc: dial the relay, open no port; legacy: listen on --listen for the control plane",
            NULL),
        OPT("listen", SCC_CFG_HOSTPORT, listen, "0.0.0.0:5557", 0, 0,
            "legacy mode's management port (TLS, only the control plane's certificate)", NULL),
        OPT("allow-connect", SCC_CFG_LIST, allow_connect, "127.0.0.0/8,::1/128", 0, 0,
            "address ranges CONNECT streams may reach", NULL),
        OPT("keepalive", SCC_CFG_DURATION, keepalive_ms, "20s", 100, MS_1H,
            "HTTP/2 PING interval (keep NAT mappings warm, measure RTT)", NULL),
        OPT("dead-after", SCC_CFG_DURATION, dead_after_ms, "45s", 300, MS_1H,
            "silence after which the tunnel is declared dead and replaced", NULL),
        OPT("backoff-base", SCC_CFG_DURATION, backoff_base_ms, "1s", 1, MS_1H,
            "first reconnect delay ceiling (full jitter)", NULL),
        OPT("backoff-max", SCC_CFG_DURATION, backoff_max_ms, "30s", 1, MS_1H,
            "cap on the reconnect delay", NULL),
        OPT("handshake-timeout", SCC_CFG_DURATION, handshake_timeout_ms, "10s", 100, 600000,
            "TLS handshake deadline", NULL),
        OPT("connect-timeout", SCC_CFG_DURATION, connect_timeout_ms, "10s", 100, 600000,
            "TCP connect deadline (relay, proxy, CONNECT targets)", NULL),
        OPT("request-timeout", SCC_CFG_DURATION, request_timeout_ms, "30s", 100, 600000,
            "deadline for a request body to arrive", NULL),
        OPT("kill-grace", SCC_CFG_DURATION, kill_grace_ms, "5s", 0, 600000,
            "time between SIGTERM and SIGKILL when a run is cancelled", NULL),
        OPT("max-runs", SCC_CFG_U32, max_runs, "64", 1, 100000, "concurrent runs", NULL),
        OPT("spool-max-mb", SCC_CFG_U32, spool_max_mb, "1024", 1, 1048576,
            "output kept per run and stream, MiB", NULL),
        OPT("max-streams", SCC_CFG_U32, max_streams, "256", 1, 65536,
            "concurrent HTTP/2 streams per tunnel", NULL),
        OPT("stream-window-kb", SCC_CFG_U32, stream_window_kb, "4096", 64, 16384,
            "HTTP/2 receive window per stream, KiB", NULL),
        OPT("trim-memory", SCC_CFG_BOOL, trim_memory, "true", 0, 0,
            "return start-up memory to the kernel once the tunnel is up", NULL),
        OPT("log-level", SCC_CFG_STR, log_level, "info", 0, 0, "error, warn, info or debug", NULL),
        OPT("config", SCC_CFG_STR, config, NULL, 0, 0, "JSON file with any of these options", NULL),
};
const size_t agent_cfg_nopts = sizeof(agent_cfg_opts) / sizeof(agent_cfg_opts[0]);

int
agent_cfg_check(const struct agent_cfg *cfg, char *err, size_t cap)
{
    if (cfg->relay == NULL || cfg->relay[0] == '\0') {
        snprintf(err, cap, "--relay HOST:PORT is required");
        return SCC_EINVAL;
    }
    if (cfg->ca == NULL) {
        snprintf(err, cap, "--ca FILE is required (the control plane's CA certificate)");
        return SCC_EINVAL;
    }
    if (cfg->state_dir == NULL) {
        snprintf(err, cap, "--state-dir DIR is required");
        return SCC_EINVAL;
    }
    if (strcmp(cfg->mode, "scc") != 0 && strcmp(cfg->mode, "legacy") != 0) {
        snprintf(err, cap, "--mode must be scc or legacy, not '%s'", cfg->mode);
        return SCC_EINVAL;
    }
    if (cfg->join_token && cfg->join_token_file) {
        snprintf(err, cap, "give --join-token or --join-token-file, not both");
        return SCC_EINVAL;
    }
    if (cfg->dead_after_ms <= cfg->keepalive_ms) {
        snprintf(err, cap, "--dead-after must be longer than --keepalive");
        return SCC_EINVAL;
    }
    if (cfg->backoff_max_ms < cfg->backoff_base_ms) {
        snprintf(err, cap, "--backoff-max must be at least --backoff-base");
        return SCC_EINVAL;
    }
    return 0;
}
