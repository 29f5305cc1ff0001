/*
 * ctl_prov_nft.h - the provider's pure parts: address and port sets,
 * service-tag resolution, and the compilers that turn NSGs, NAT gateways,
 * load balancer outbound rules and firewall rule collections into
 * nftables ruleset text.
 *
 * Nothing here touches the system, so all of it is unit-tested
 * (tests/unit/test_prov_nft.c).  The text is what `nft -f` loads inside
 * the namespace that owns the resource; docs/provider.md explains it to
 * operators.
 */
#ifndef SCC_CONTROL_CTL_PROV_NFT_H
#define SCC_CONTROL_CTL_PROV_NFT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scc_buf;

/* ---- sets of IPv4 addresses or ports, as sorted disjoint intervals ---- */

struct ctl_prov_ival {
    uint32_t lo, hi; /* inclusive, host byte order */
};

struct ctl_prov_set {
    struct ctl_prov_ival *v; /* owned */
    size_t n, cap;
};

#define CTL_PROV_IP_MAX   UINT32_MAX
#define CTL_PROV_PORT_MAX 65535u

void ctl_prov_set_init(struct ctl_prov_set *s);
void ctl_prov_set_fini(struct ctl_prov_set *s);

/* ctl_prov_set_add - add [lo, hi]; the set stays sorted and merged.
 * SCC_EINVAL if lo > hi, SCC_ENOMEM. */
int ctl_prov_set_add(struct ctl_prov_set *s, uint32_t lo, uint32_t hi);
int ctl_prov_set_add_set(struct ctl_prov_set *s, const struct ctl_prov_set *from);

/* ctl_prov_set_is_all - the set covers [0, max]: no match is needed. */
bool ctl_prov_set_is_all(const struct ctl_prov_set *s, uint32_t max);

/* ctl_prov_set_has - v is in the set. */
bool ctl_prov_set_has(const struct ctl_prov_set *s, uint32_t v);

/*
 * ctl_prov_set_format - nft syntax: one element alone ("10.0.0.0/8",
 * "443") or an anonymous set ("{ 10.0.0.1-10.0.0.5, 192.0.2.0/24 }").
 * Intervals that are exact prefixes print as CIDRs.  ip selects address
 * or port notation.  SCC_EINVAL for an empty set.
 */
int ctl_prov_set_format(const struct ctl_prov_set *s, bool ip, struct scc_buf *out);

/* ---- parsing ---- */

/* ctl_prov_ip_parse - dotted quad into host byte order.  SCC_EINVAL. */
int ctl_prov_ip_parse(const char *s, uint32_t *out);

/* ctl_prov_ip_format - dotted quad of ip (host order) into out[16]. */
void ctl_prov_ip_format(uint32_t ip, char *out, size_t cap);

/*
 * ctl_prov_cidr_parse - "a.b.c.d/n" (or a bare address, /32).  With
 * strict, host bits must be zero (SCC_EINVAL otherwise, as Azure's
 * InvalidCIDRNotation); without, they are masked off.
 */
int ctl_prov_cidr_parse(const char *s, bool strict, uint32_t *net, unsigned *len);

/* ctl_prov_cidr_last - last address of net/len. */
uint32_t ctl_prov_cidr_last(uint32_t net, unsigned len);

/* ctl_prov_addr_parse - an IP, a CIDR or a range "a-b" added to out.
 * "*" adds everything.  SCC_EINVAL on anything else. */
int ctl_prov_addr_parse(const char *s, struct ctl_prov_set *out);

/* ctl_prov_ports_parse - "*", "443" or "8443-8451" added to out. */
int ctl_prov_ports_parse(const char *s, struct ctl_prov_set *out);

/* ---- service tags ---- */

/*
 * What a name means where Azure accepts an address prefix: "*", an IP,
 * a CIDR, a range, or a service tag.  Tags come from the document's
 * service_tags (exact name first, then case-insensitively, then the part
 * before a dot: "Storage.EastUS" falls back to "Storage"), except
 * VirtualNetwork, which is the VNet of the evaluating subnet.  Internet
 * defaults to 0.0.0.0/0 and AzureLoadBalancer to nothing when absent.
 */
struct ctl_prov_tags {
    const json_t *service_tags;      /* borrowed; may be NULL */
    const struct ctl_prov_set *vnet; /* borrowed; may be NULL (empty) */
};

int ctl_prov_tags_resolve(const struct ctl_prov_tags *t, const char *name, struct ctl_prov_set *out,
                          char *err, size_t cap);

/* ctl_prov_tags_resolve_list - a string or an array of strings; a
 * missing value (NULL) means "*". */
int ctl_prov_tags_resolve_list(const struct ctl_prov_tags *t, const json_t *v,
                               struct ctl_prov_set *out, char *err, size_t cap);

/* ---- compilers: each appends text to out, errors explained in err ---- */

/*
 * ctl_prov_nft_nsg_chain - one direction of one NSG as a regular chain
 * named chain: the rules of that direction by ascending priority, then the
 * three default rules.  Allow is "accept" inbound and "return" outbound
 * (the base chain goes on to the destination's inbound check); Deny is
 * "drop".  Every rule is counted and carries its name as a comment.
 * rules: the NSG's "rules" array, or NULL for none.
 * SCC_EINVAL for a malformed rule, an unknown tag, a duplicate priority.
 */
int ctl_prov_nft_nsg_chain(struct scc_buf *out, const char *chain, const json_t *rules,
                           bool inbound, const struct ctl_prov_tags *tags, char *err, size_t cap);

/* ctl_prov_nft_deny_chain - a chain that drops (and counts) everything:
 * what a subnet gets when its NSG cannot be compiled (fail closed). */
int ctl_prov_nft_deny_chain(struct scc_buf *out, const char *chain, const char *why);

/* The VNet router: NSGs on its VM ports and the SNAT of instance public
 * IPs and default outbound access on its public link. */
struct ctl_prov_nft_port {
    const char *ifname; /* the VM's port in the router */
    int subnet;         /* index into subnets */
};

struct ctl_prov_nft_subnet {
    const json_t *nsg_rules; /* NULL: no NSG, everything allowed */
    bool has_nsg;
    struct ctl_prov_set vnet; /* VirtualNetwork for this subnet */
    char err[256];            /* out: why its NSG failed closed */
};

struct ctl_prov_nft_snat {
    uint32_t net; /* source prefix */
    unsigned len;
    uint32_t to; /* public address */
};

struct ctl_prov_nft_vnet {
    const char *table;
    const char *pub_if; /* NULL when the router has no public link */
    const json_t *service_tags;
    struct ctl_prov_nft_subnet *subnets;
    size_t nsubnets;
    const struct ctl_prov_nft_port *ports;
    size_t nports;
    const struct ctl_prov_nft_snat *snat; /* most specific first */
    size_t nsnat;
};

/* ctl_prov_nft_vnet - the router's table.  A subnet whose NSG does not
 * compile gets a deny-all chain and its reason in subnets[i].err; the
 * function still succeeds.  SCC_ENOMEM / SCC_ETOOBIG only. */
int ctl_prov_nft_vnet(struct scc_buf *out, struct ctl_prov_nft_vnet *v);

/* A NAT gateway: SNAT to its public IPs, idle flows answered with a TCP
 * reset once conntrack has expired them, unsolicited inbound dropped. */
struct ctl_prov_nft_nat {
    const char *table;
    const char *pub_if;
    const uint32_t *ips;
    size_t nips;
};

int ctl_prov_nft_nat(struct scc_buf *out, const struct ctl_prov_nft_nat *n);

/* A load balancer's outbound rules: each VM gets exactly its port range
 * on the frontend address, and a connection beyond it is dropped and
 * counted in the VM's named counter. */
struct ctl_prov_nft_lbvm {
    uint32_t ip;
    uint16_t lo, hi;     /* SNAT port range, inclusive */
    const char *counter; /* named counter for exhaustion drops */
};

struct ctl_prov_nft_lb {
    const char *table;
    const char *pub_if;
    uint32_t frontend;
    const struct ctl_prov_nft_lbvm *vms;
    size_t nvms;
};

int ctl_prov_nft_lb(struct scc_buf *out, const struct ctl_prov_nft_lb *lb);

/*
 * The egress firewall: network rule collections by priority (first match
 * decides), then flows to an application-rule port are redirected to the
 * local proxy that reads the TLS SNI or HTTP Host; everything else is
 * dropped and counted in "denied".  Egress is SNATed to public_ip.
 */
struct ctl_prov_nft_fw {
    const char *table;
    const char *pub_if;
    uint32_t public_ip;
    uint16_t proxy_port;
    const json_t *net_collections; /* may be NULL */
    const json_t *app_collections; /* may be NULL */
    const struct ctl_prov_tags *tags;
};

int ctl_prov_nft_fw(struct scc_buf *out, const struct ctl_prov_nft_fw *fw, char *err, size_t cap);

/* ctl_prov_nft_app_ports - the TCP ports application rules listen on. */
int ctl_prov_nft_app_ports(const json_t *app_collections, struct ctl_prov_set *out, char *err,
                           size_t cap);

/* The host's guard: from the provider's veth, only the control plane's
 * two listeners are reachable. */
struct ctl_prov_nft_host {
    const char *table;
    const char *ifname;
    uint32_t api_ip, relay_ip;
    uint16_t api_port, relay_port;
};

int ctl_prov_nft_host(struct scc_buf *out, const struct ctl_prov_nft_host *h);

/* ctl_prov_nft_replace - wrap a table body so that `nft -f` replaces the
 * table atomically: "table F T {}" + "delete table F T" + body. */
int ctl_prov_nft_replace(struct scc_buf *out, const char *family, const char *table,
                         const char *body);

/* ctl_prov_sorted_collections - the collections of a firewall sorted by
 * priority (stable); returns an owned array, or NULL on ENOMEM/invalid. */
json_t *ctl_prov_sorted_collections(const json_t *collections, char *err, size_t cap);

#endif /* SCC_CONTROL_CTL_PROV_NFT_H */
