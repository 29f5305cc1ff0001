/*
 * ctl_tmpl_int.h - the loaded template, shared by the engine's files
 * (ctl_tmpl.c structure and API, ctl_tmpl_param.c parameters and
 * variables, ctl_tmpl_res.c resources, ctl_tmpl_graph.c ids and order,
 * ctl_tmpl_out.c outputs, ctl_tmpl_fn_arm.c).
 * Not for use outside src/control/ctl_tmpl*.c.
 */
#ifndef SCC_CONTROL_CTL_TMPL_INT_H
#define SCC_CONTROL_CTL_TMPL_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "control/ctl_tmpl.h"
#include "control/ctl_tmpl_expr.h"

enum ctl_tmpl_ptype {
    CTL_TMPL_PT_STRING,
    CTL_TMPL_PT_SECURESTRING,
    CTL_TMPL_PT_INT,
    CTL_TMPL_PT_BOOL,
    CTL_TMPL_PT_OBJECT,
    CTL_TMPL_PT_SECUREOBJECT,
    CTL_TMPL_PT_ARRAY,
};

/* Lazy values (parameter defaults, variables) walk these states; meeting
 * RESOLVING again means a cycle. */
enum ctl_tmpl_state {
    CTL_TMPL_UNRESOLVED,
    CTL_TMPL_RESOLVING,
    CTL_TMPL_RESOLVED,
};

struct ctl_tmpl_param {
    const char *name;   /* key in t->tmpl */
    const json_t *decl; /* declaration in t->tmpl */
    enum ctl_tmpl_ptype type;
    json_t *value; /* owned: supplied copy, then effective value */
    bool supplied;
    enum ctl_tmpl_state state;
};

struct ctl_tmpl_var {
    const char *name;  /* key in t->tmpl */
    const json_t *def; /* definition in t->tmpl */
    json_t *value;     /* owned once resolved */
    enum ctl_tmpl_state state;
};

/* A resource copy loop ("copy" on a resource). */
struct ctl_tmpl_loop {
    const char *name;
    size_t first; /* first instance */
    size_t count;
    size_t batch; /* serial: instances per batch; 0 = parallel */
};

/* One resource instance after copy expansion. */
struct ctl_tmpl_inst {
    size_t res;        /* index in the resources array */
    const json_t *def; /* the resource object in t->tmpl */
    size_t loop;       /* index in t->loops, or SIZE_MAX */
    json_int_t index;  /* copy index within the loop */
    char *type;        /* owned, filled by ctl_tmpl_graph_build */
    char *name;
    char *id;
    size_t *deps; /* owned, instance indices, deduplicated */
    size_t ndeps;
};

struct ctl_tmpl {
    json_t *tmpl; /* owned deep copy of the template */
    char *sub_id;
    char *tenant_id;
    char *sub_name;
    char *rg_name;
    char *rg_location;
    char *deployment_name;
    json_t *rg_tags; /* owned, may be NULL */
    ctl_tmpl_reference_cb reference;
    void *reference_arg;
    char content_version[64];

    struct ctl_tmpl_param *params;
    size_t nparams;
    struct ctl_tmpl_var *vars;
    size_t nvars;
    const json_t *resources; /* array in tmpl */
    const json_t *outputs;   /* object in tmpl, may be NULL */
    struct ctl_tmpl_loop *loops;
    size_t nloops;
    struct ctl_tmpl_inst *insts;
    size_t ninsts;
    bool graph_ready;
    unsigned long work_total;
};

/* ctl_tmpl_param.c */
int ctl_tmpl_params_init(struct ctl_tmpl_ctx *c, const json_t *decls);
int ctl_tmpl_params_bind(struct ctl_tmpl_ctx *c, const json_t *supplied);
int ctl_tmpl_params_resolve(struct ctl_tmpl_ctx *c);
int ctl_tmpl_vars_init(struct ctl_tmpl_ctx *c, const json_t *defs);
void ctl_tmpl_params_free(struct ctl_tmpl *t);
/* parameters('name') / variables('name'): a copy of the value in *out. */
int ctl_tmpl_param_get(struct ctl_tmpl_ctx *c, const char *name, json_t **out);
int ctl_tmpl_var_get(struct ctl_tmpl_ctx *c, const char *name, json_t **out);
const char *ctl_tmpl_ptype_echo_name(enum ctl_tmpl_ptype type);
/* ctl_tmpl_ptype_check - v fits a declared type; fails with ARM's text. */
int ctl_tmpl_ptype_check(struct ctl_tmpl_ctx *c, enum ctl_tmpl_ptype type, const json_t *v,
                         const char *what, const char *name);
int ctl_tmpl_ptype_parse(const json_t *v, enum ctl_tmpl_ptype *out);

/* ctl_tmpl_res.c */
int ctl_tmpl_res_init(struct ctl_tmpl_ctx *c, const json_t *resources);
void ctl_tmpl_res_free(struct ctl_tmpl *t);
/* ctl_tmpl_inst_enter - point c at instance inst: its path, its resource
 * loop (it is caller storage for the loop frame) and the allowed functions. */
void ctl_tmpl_inst_enter(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_inst *inst,
                         struct ctl_tmpl_iter *it, unsigned allow);

/* ctl_tmpl_graph.c */
/* ctl_tmpl_graph_build - evaluate every instance's type, name, id and
 * dependencies once (idempotent; restores c's path and allow bits). */
int ctl_tmpl_graph_build(struct ctl_tmpl_ctx *c);
/* ctl_tmpl_res_find - the instance a reference() string names (full id,
 * "ns/type/name" or plain name); SIZE_MAX if none.  *ambiguous when
 * several instances with different ids match. */
size_t ctl_tmpl_res_find(struct ctl_tmpl *t, const char *ref, bool *ambiguous);

/* ctl_tmpl_out.c */
int ctl_tmpl_outputs_check(struct ctl_tmpl_ctx *c, const json_t *outputs);

/* ctl_tmpl_fn_arm.c */
/* ctl_tmpl_make_id - append "{prefix}/providers/{ns}/{t1}/{n1}[/{t2}/{n2}...]"
 * to b from type "ns/t1[/t2...]" and names (each may hold '/'-separated
 * segments).  SCC_EINVAL if the segment counts differ, SCC_ETOOBIG past
 * b's maximum, SCC_ENOMEM. */
int ctl_tmpl_make_id(const char *prefix, const char *type, const char *const *names, size_t n,
                     struct scc_buf *b);

/* ctl_tmpl.c */
/* ctl_tmpl_key_is - case-insensitive key comparison. */
bool ctl_tmpl_key_is(const char *key, const char *want);
/* ctl_tmpl_ctx_done - add the call's work to the template's total; return
 * the call's result with err filled in. */
int ctl_tmpl_ctx_done(struct ctl_tmpl_ctx *c, int rc);

#endif /* SCC_CONTROL_CTL_TMPL_INT_H */
