/*
 * cfg.h - table-driven configuration.
 *
 * Each daemon describes its options once, as an array of struct scc_cfg_opt
 * ({name, type, offset, default, min, max, help}); the same table parses
 * command-line flags and an optional JSON file, validates every value, and
 * prints --help.  Values land in the daemon's own struct at `offset`.
 * Environment variables are read only for options that name one (the
 * HTTPS_PROXY convention), and only here.
 */
#ifndef SCC_COMMON_CFG_H
#define SCC_COMMON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum scc_cfg_type {
    SCC_CFG_STR,      /* char * (owned by the cfg, freed by scc_cfg_free) */
    SCC_CFG_U32,      /* uint32_t */
    SCC_CFG_BOOL,     /* bool; a flag without value means true */
    SCC_CFG_DURATION, /* uint32_t milliseconds, from "20s", "250ms", "10m" (< 49 days) */
    SCC_CFG_SECONDS,  /* uint32_t seconds, from a duration: for lifetimes like "30d" */
    SCC_CFG_HOSTPORT, /* char *, validated "host:port" */
    SCC_CFG_LIST,     /* char *, repeats joined by commas: "--x a --x b" gives "a,b" */
};

struct scc_cfg_opt {
    const char *name; /* flag without "--" and JSON key */
    enum scc_cfg_type type;
    size_t offset;
    const char *def; /* default as text, or NULL */
    uint64_t min, max;
    const char *help;
    const char *env; /* environment fallback: "NAME" or "NAME,OTHER" (first set wins), or NULL */
};

/*
 * scc_cfg_parse - defaults, then the JSON file named by --config (if the
 * table has a "config" STR option), then the environment, then flags.
 * Non-option arguments come back in *rest and *nrest (pointers into argv).
 * On error, a one-line reason goes to err and SCC_EINVAL is returned.
 */
int scc_cfg_parse(const struct scc_cfg_opt *opts, size_t nopts, void *cfg, int argc, char **argv,
                  char ***rest, int *nrest, char *err, size_t err_cap);

/* scc_cfg_free - free the strings scc_cfg_parse stored in cfg. */
void scc_cfg_free(const struct scc_cfg_opt *opts, size_t nopts, void *cfg);

/* scc_cfg_help - one line per option, with type, default and help. */
void scc_cfg_help(const struct scc_cfg_opt *opts, size_t nopts, FILE *out);

#endif /* SCC_COMMON_CFG_H */
