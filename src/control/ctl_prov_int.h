/*
 * ctl_prov_int.h - what the provider's files share: the parsed document
 * (the model, with every reference resolved and every VM's egress worked
 * out), the provider vtable, status helpers, and the runner that executes
 * ip(8), nft(8) and processes, optionally inside a network namespace.
 */
#ifndef SCC_CONTROL_CTL_PROV_INT_H
#define SCC_CONTROL_CTL_PROV_INT_H

#include "common/buf.h"
#include "common/log.h"
#include "ctl_prov.h"
#include "ctl_prov_nft.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_PROV_PATH_MAX   1024
#define CTL_PROV_NS_MAX     48 /* "<prefix>-vnet-<8 hex>" fits with room */
#define CTL_PROV_PREFIX_MAX 11
#define CTL_PROV_HASH_LEN   8
#define CTL_PROV_DOC_MAX    (16u << 20)
#define CTL_PROV_NAT_IPS    16

/* ---- the model: the document, validated and cross-linked ---- */

enum ctl_prov_egress {
    CTL_PROV_EG_NONE,      /* no outbound method at all */
    CTL_PROV_EG_DROP,      /* a route sends it to next hop None */
    CTL_PROV_EG_NAT,       /* the subnet's NAT gateway */
    CTL_PROV_EG_FIREWALL,  /* a UDR to a firewall's private IP */
    CTL_PROV_EG_APPLIANCE, /* a UDR to a VM acting as an appliance */
    CTL_PROV_EG_PIP,       /* the VM's own public IP */
    CTL_PROV_EG_LB,        /* a load balancer outbound rule */
    CTL_PROV_EG_DEFAULT,   /* the subnet's default outbound access */
};

enum ctl_prov_hop {
    CTL_PROV_HOP_APPLIANCE,
    CTL_PROV_HOP_INTERNET,
    CTL_PROV_HOP_NONE,
    CTL_PROV_HOP_VNETLOCAL,
    CTL_PROV_HOP_GATEWAY, /* VirtualNetworkGateway: not simulated, drops */
};

struct ctl_prov_vnet;
struct ctl_prov_fw;
struct ctl_prov_vm;

struct ctl_prov_nsg {
    const char *id;
    const json_t *rules; /* borrowed from the document */
};

struct ctl_prov_nat {
    const char *id;
    char h[CTL_PROV_HASH_LEN + 1];
    uint32_t ips[CTL_PROV_NAT_IPS];
    size_t nips;
    unsigned idle_s;
    bool failed;
};

struct ctl_prov_route {
    const char *name;
    struct ctl_prov_set dst;
    enum ctl_prov_hop hop;
    uint32_t hop_ip;
    struct ctl_prov_fw *fw; /* when hop_ip is a firewall */
    struct ctl_prov_vm *vm; /* when hop_ip is a VM */
};

struct ctl_prov_rt {
    const char *id;
    struct ctl_prov_route *routes;
    size_t nroutes;
    bool failed;
};

struct ctl_prov_subnet {
    const char *id;
    uint32_t net;
    unsigned len;
    struct ctl_prov_vnet *vnet;
    size_t index; /* in its VNet */
    struct ctl_prov_nsg *nsg;
    struct ctl_prov_nat *nat;
    struct ctl_prov_rt *rt;
    bool default_outbound;
    bool failed;
};

struct ctl_prov_vnet {
    const char *id;
    char h[CTL_PROV_HASH_LEN + 1];
    struct ctl_prov_set space;
    struct ctl_prov_subnet *subnets;
    size_t nsubnets;
    uint32_t default_outbound_ip; /* 0: none */
    bool failed;
};

struct ctl_prov_fw {
    const char *id;
    char h[CTL_PROV_HASH_LEN + 1];
    struct ctl_prov_subnet *subnet;
    uint32_t private_ip, public_ip;
    const json_t *net, *app; /* rule collections, borrowed */
    bool failed;
};

struct ctl_prov_lb {
    const char *id;
    char h[CTL_PROV_HASH_LEN + 1];
    uint32_t frontend;
    unsigned idle_s;
    uint32_t next_port; /* allocation cursor on the frontend */
    bool failed;
};

struct ctl_prov_vm {
    const char *id;
    char h[CTL_PROV_HASH_LEN + 1];
    struct ctl_prov_subnet *subnet;
    uint32_t ip, pip; /* pip 0: none */
    bool legacy;
    const char *token, *relay;
    uint16_t legacy_port;
    struct ctl_prov_lb *lb; /* an outbound rule names it */
    uint16_t lb_lo, lb_hi;
    /* worked out by the model */
    enum ctl_prov_egress egress, relay_egress;
    uint32_t egress_ip;      /* the address the internet sees; 0: none */
    struct ctl_prov_fw *fw;  /* egress through this firewall */
    struct ctl_prov_vm *nva; /* egress through this appliance VM */
    char why[400];           /* why there is no egress */
    bool failed;
};

struct ctl_prov_model {
    json_t *doc; /* owned reference */
    uint32_t api_ip, relay_ip;
    uint16_t api_port, relay_port;
    const char *relay_local; /* control_plane.relay.local, may be NULL */
    const json_t *service_tags;
    struct ctl_prov_set hosts; /* internet.hosts */
    unsigned test_idle_s;      /* test.nat_idle_timeout_seconds, 0: none */
    struct ctl_prov_vnet *vnets;
    size_t nvnets;
    struct ctl_prov_nsg *nsgs;
    size_t nnsgs;
    struct ctl_prov_nat *nats;
    size_t nnats;
    struct ctl_prov_rt *rts;
    size_t nrts;
    struct ctl_prov_fw *fws;
    size_t nfws;
    struct ctl_prov_lb *lbs;
    size_t nlbs;
    struct ctl_prov_vm *vms;
    size_t nvms;
    json_t *status; /* owned: id -> status object */
};

/*
 * ctl_prov_model_new - parse and cross-link desired.  SCC_EPROTO (err
 * says where) when the document is malformed; problems confined to one
 * resource (a dangling reference, an address outside its subnet) mark it
 * failed in the status instead.  isolated goes into every status.
 */
int ctl_prov_model_new(const json_t *desired, bool isolated, bool allow_test_knobs,
                       struct ctl_prov_model **out, char *err, size_t cap);
void ctl_prov_model_free(struct ctl_prov_model *m);

/* ctl_prov_model_parse - the parsing half of ctl_prov_model_new, on a
 * zeroed model whose status object exists (ctl_prov_doc.c). */
int ctl_prov_model_parse(struct ctl_prov_model *m, const json_t *doc, bool isolated, bool knobs,
                         char *err, size_t cap);

/* ctl_prov_egress_name - "nat_gateway", "firewall", ..., "none". */
const char *ctl_prov_egress_name(enum ctl_prov_egress e);

/* ctl_prov_vnet_set - the VirtualNetwork tag as seen from a subnet of v:
 * its address space, its VMs' public IPs (Azure evaluates NSGs after the
 * public IP's 1:1 NAT), and the prefixes of the subnet's appliance UDRs. */
int ctl_prov_vnet_set(const struct ctl_prov_model *m, const struct ctl_prov_subnet *s,
                      struct ctl_prov_set *out);

/* ctl_prov_hash - the 8 hex digits naming a resource (FNV-1a of its
 * lower-cased id, since ARM ids are case-insensitive). */
void ctl_prov_hash(const char *id, char out[CTL_PROV_HASH_LEN + 1]);

/* ---- status ---- */

/* ctl_prov_status_ok / _fail - set a resource's state; a failure wins
 * over success and messages accumulate ("a; b"). */
json_t *ctl_prov_status_ok(json_t *status, const char *id, bool isolated);
void ctl_prov_status_fail(json_t *status, const char *id, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void ctl_prov_status_note(json_t *status, const char *id, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool ctl_prov_status_failed(const json_t *status);

/* ---- the provider object ---- */

struct ctl_prov_ops {
    const char *kind;
    bool isolated;
    int (*apply)(struct ctl_prov *p, struct ctl_prov_model *m, char *err, size_t cap);
    int (*status)(struct ctl_prov *p, json_t *status, char *err, size_t cap);
    int (*gc)(struct ctl_prov *p, json_t *removed, char *err, size_t cap);
    int (*teardown)(struct ctl_prov *p, char *err, size_t cap);
};

struct ctl_prov {
    const struct ctl_prov_ops *ops;
    char prefix[CTL_PROV_PREFIX_MAX + 1];
    char state_dir[CTL_PROV_PATH_MAX];
    char agent_bin[CTL_PROV_PATH_MAX];
    char ca_file[CTL_PROV_PATH_MAX];
    char helper_bin[CTL_PROV_PATH_MAX];
    char ip_bin[CTL_PROV_PATH_MAX];
    char nft_bin[CTL_PROV_PATH_MAX];
    bool test_knobs;
    int agent_legacy; /* scc-agent has --legacy-listen: -1 unknown, 0, 1 */
    struct scc_log_ctx log;
};

extern const struct ctl_prov_ops ctl_prov_netns_ops;
extern const struct ctl_prov_ops ctl_prov_process_ops;

/* ctl_prov_path - snprintf into out, SCC_ETRUNC if it does not fit. */
int ctl_prov_path(char *out, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ctl_prov_rmtree - remove path and everything below it (no symlinks
 * followed).  0 if it is gone. */
int ctl_prov_rmtree(const char *path);

/* ctl_prov_record_load / _save - the JSON object a provider keeps in
 * state_dir/name between runs (what its last apply wanted, for gc).
 * load: the object, or NULL when there is none (or it does not parse);
 * save: atomic, 0600; 0 or a negative error. */
json_t *ctl_prov_record_load(const struct ctl_prov *p, const char *name);
int ctl_prov_record_save(const struct ctl_prov *p, const char *name, const json_t *o);

/* ---- VMs' and helpers' processes (ctl_prov_run.c) ---- */

/* The agent's command line for vm, as cloud-init would start it; argv
 * points into storage (NULL-terminated, at most cap entries). */
int ctl_prov_agent_argv(const struct ctl_prov *p, const struct ctl_prov_vm *vm, const char *dir,
                        const char *relay, bool legacy_listen, struct scc_buf *storage,
                        const char **argv, size_t cap);

/*
 * ctl_prov_proc_ensure - keep one process running: pidfile holds
 * "pid starttime fingerprint"; when that process is alive (and inside
 * netns, if given) with the same fingerprint nothing happens, otherwise
 * it is stopped and argv started (detached, its own session, output
 * appended to log).  *pid receives the running pid; *started says whether
 * it was (re)started.
 */
int ctl_prov_proc_ensure(const struct ctl_prov *p, const char *netns, const char *pidfile,
                         const char *const *argv, const char *log, pid_t *pid, bool *started,
                         char *err, size_t cap);

/* ctl_prov_proc_stop - stop the process of pidfile (TERM, then KILL after
 * a grace period) and remove the file.  0 when nothing runs any more. */
int ctl_prov_proc_stop(const char *pidfile, pid_t *was);

/* ctl_prov_proc_pid - the live pid of pidfile, or 0. */
pid_t ctl_prov_proc_pid(const char *pidfile);

/* ---- running commands ---- */

struct ctl_prov_cmd {
    const char *netns;       /* NULL: the caller's namespace */
    const char *const *argv; /* argv[0] is an absolute path */
    const char *in;          /* stdin, may be NULL */
    size_t in_len;
    int timeout_ms;            /* 0: 30 s */
    struct scc_buf *out, *err; /* optional captures (bounded by their max) */
    int status;                /* exit status, or 128+signal */
};

/* ctl_prov_cmd_run - fork, enter netns, exec; feed stdin, capture output,
 * kill it after the timeout.  Returns 0 when it ran (see c->status),
 * SCC_ETIMEOUT, or -errno when it could not start. */
int ctl_prov_cmd_run(struct ctl_prov_cmd *c);

/* ctl_prov_ip - `ip [-n NS] -force -batch -` with lines on stdin; err
 * receives ip's complaints.  Returns 0 or SCC_EUNAVAIL; failed (optional,
 * sized nlines) marks the lines ip reported ("Command failed -:N"). */
int ctl_prov_ip(const struct ctl_prov *p, const char *netns, const char *lines, struct scc_buf *err,
                bool *failed, size_t nlines);

/* ctl_prov_nft - `nft -f -` inside netns (NULL: here); *out optional. */
int ctl_prov_nft(const struct ctl_prov *p, const char *netns, const char *text, struct scc_buf *out,
                 struct scc_buf *err);

/*
 * ctl_prov_ns_links - for each namespace name, the names of its links,
 * read over netlink in one forked child: output lines "=NAME" then one
 * line per link, or "!NAME errno" if the namespace cannot be entered.
 * names[i] == "" means the caller's namespace.
 */
int ctl_prov_ns_links(const char *const *names, size_t n, struct scc_buf *out);

/* ctl_prov_ns_sysctl - write "path value" lines (path under /proc/sys)
 * inside netns; failures come back as "path: errno text" lines in err. */
int ctl_prov_ns_sysctl(const char *netns, const char *lines, struct scc_buf *err);

/* ctl_prov_ns_ino - inode of /run/netns/NAME (the namespace's identity),
 * or of our own namespace for "".  0 if absent. */
unsigned long ctl_prov_ns_ino(const char *name);

/* ctl_prov_pids_in_ns - every pid whose network namespace is ino. */
int ctl_prov_pids_in_ns(unsigned long ino, pid_t *pids, size_t cap, size_t *n);

/* ctl_prov_kill_all - TERM every pid, wait up to grace_ms, KILL the rest. */
void ctl_prov_kill_all(const pid_t *pids, size_t n, int grace_ms);

/*
 * A batch of processes to stop together, so that removing a hundred VMs
 * costs one grace period, not a hundred: the processes inside namespaces
 * (add them before the namespaces are deleted) and those of pid files
 * (the files are removed).  ctl_prov_reap_run stops them all and resets.
 */
struct ctl_prov_reap {
    pid_t *pids;
    size_t npids, cappids;
    unsigned long *inos;
    size_t ninos, capinos;
};

void ctl_prov_reap_init(struct ctl_prov_reap *r);
int ctl_prov_reap_ns(struct ctl_prov_reap *r, const char *netns);
int ctl_prov_reap_pidfile(struct ctl_prov_reap *r, const char *pidfile);
void ctl_prov_reap_run(struct ctl_prov_reap *r, int grace_ms);

/*
 * ctl_prov_prune - remove what a provider's state directory holds and its
 * last apply no longer wants: dirs[0] is the directory of pid files (their
 * processes are stopped together, in one grace period), the others hold
 * directories (VMs', firewalls'), removed after those processes stopped.
 * keep(dir, name, path, arg) says what stays.  Each removal is appended to
 * removed ("pidfile PATH", "dir PATH") when it is not NULL.
 */
typedef bool (*ctl_prov_keep_fn)(const char *dir, const char *name, const char *path, void *arg);
void ctl_prov_prune(const struct ctl_prov *p, const char *const *dirs, size_t n,
                    ctl_prov_keep_fn keep, void *arg, json_t *removed);

#endif /* SCC_CONTROL_CTL_PROV_INT_H */
