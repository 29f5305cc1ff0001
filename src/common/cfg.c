#include "cfg.h"

#include "buf.h"
#include "err.h"
#include "file.h"
#include "json.h"
#include "mem.h"
#include "parse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CFG_FILE_MAX (1u << 20)

extern char **environ;

static void fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static char **
str_slot(void *cfg, const struct scc_cfg_opt *o)
{
    return (char **)(void *)((char *)cfg + o->offset);
}

static int
set_str(void *cfg, const struct scc_cfg_opt *o, const char *v, bool append)
{
    char **slot = str_slot(cfg, o);
    struct scc_buf b;
    int rc;

    if (!append || *slot == NULL) {
        char *copy = scc_strdup(v);

        if (copy == NULL)
            return SCC_ENOMEM;
        scc_free(*slot);
        *slot = copy;
        return 0;
    }
    scc_buf_init(&b, 1u << 16);
    if ((rc = scc_buf_printf(&b, "%s,%s", *slot, v)) < 0) {
        scc_buf_fini(&b);
        return rc;
    }
    scc_free(*slot);
    *slot = scc_buf_steal(&b, NULL);
    return 0;
}

/* Parse one textual value into its slot; err explains a refusal. */
static int
set_value(void *cfg, const struct scc_cfg_opt *o, const char *v, bool from_flag, char *err,
          size_t cap)
{
    char *p = (char *)cfg + o->offset;
    uint64_t n = 0;
    bool b = false;
    int rc = 0;

    switch (o->type) {
    case SCC_CFG_STR:
    case SCC_CFG_LIST:
        rc = set_str(cfg, o, v, o->type == SCC_CFG_LIST && from_flag);
        break;
    case SCC_CFG_HOSTPORT: {
        char host[256];
        uint16_t port;

        if ((rc = scc_parse_hostport(v, host, sizeof(host), &port, true)) == 0)
            rc = set_str(cfg, o, v, false);
        break;
    }
    case SCC_CFG_U32:
        if ((rc = scc_parse_u64(v, o->min, o->max, &n)) == 0)
            *(uint32_t *)(void *)p = (uint32_t)n;
        break;
    case SCC_CFG_DURATION:
        if ((rc = scc_parse_duration_ms(v, &n)) == 0 && (n < o->min || n > o->max))
            rc = SCC_ERANGE;
        if (rc == 0)
            *(uint32_t *)(void *)p = (uint32_t)n;
        break;
    case SCC_CFG_SECONDS:
        if ((rc = scc_parse_duration_ms(v, &n)) == 0 &&
            (n / 1000 < o->min || n / 1000 > o->max || n % 1000 != 0))
            rc = SCC_ERANGE;
        if (rc == 0)
            *(uint32_t *)(void *)p = (uint32_t)(n / 1000);
        break;
    case SCC_CFG_BOOL:
        if ((rc = scc_parse_bool(v, &b)) == 0)
            *(bool *)(void *)p = b;
        break;
    }
    if (rc == SCC_ERANGE)
        fail(err, cap, "--%s: '%s' is out of range [%llu, %llu]", o->name, v,
             (unsigned long long)o->min, (unsigned long long)o->max);
    else if (rc < 0)
        fail(err, cap, "--%s: invalid value '%s'", o->name, v);
    return rc < 0 ? SCC_EINVAL : 0;
}

static const struct scc_cfg_opt *
find(const struct scc_cfg_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* names is "NAME" or "first,second": the first one set and not empty wins
 * (https_proxy before HTTPS_PROXY, as curl reads them). */
static const char *
env_get(const char *names)
{
    for (const char *name = names; *name;) {
        size_t n = strcspn(name, ",");

        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, name, n) == 0 && (*e)[n] == '=' && (*e)[n + 1] != '\0')
                return *e + n + 1;
        }
        name += n + (name[n] == ',');
    }
    return NULL;
}

static int
load_file(const struct scc_cfg_opt *opts, size_t nopts, void *cfg, const char *path, char *err,
          size_t cap)
{
    struct scc_buf b;
    json_t *root = NULL, *v;
    const char *key;
    char jerr[200];
    int rc;

    scc_buf_init(&b, CFG_FILE_MAX);
    if ((rc = scc_file_read(path, CFG_FILE_MAX, &b)) < 0) {
        fail(err, cap, "--config %s: %s", path, scc_strerror(rc));
        goto out;
    }
    if ((rc = scc_json_parse_object(b.data, b.len, CFG_FILE_MAX, &root, jerr, sizeof(jerr))) < 0) {
        fail(err, cap, "--config %s: %s", path, jerr);
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        const struct scc_cfg_opt *o = find(opts, nopts, key, strlen(key));
        char text[64];
        const char *s = text;

        if (o == NULL || strcmp(key, "config") == 0) {
            fail(err, cap, "--config %s: unknown option '%s'", path, key);
            rc = SCC_EINVAL;
            goto out;
        }
        if (json_is_string(v))
            s = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            s = json_is_true(v) ? "true" : "false";
        else {
            fail(err, cap, "--config %s: '%s' must be a string, number or boolean", path, key);
            rc = SCC_EINVAL;
            goto out;
        }
        if ((rc = set_value(cfg, o, s, false, err, cap)) < 0)
            goto out;
    }
out:
    json_decref(root);
    scc_buf_fini(&b);
    return rc;
}

static int
apply_defaults_and_env(const struct scc_cfg_opt *opts, size_t nopts, void *cfg, char *err,
                       size_t cap)
{
    for (size_t i = 0; i < nopts; i++) {
        const char *v = opts[i].def;
        int rc;

        if (v && (rc = set_value(cfg, &opts[i], v, false, err, cap)) < 0)
            return rc;
    }
    for (size_t i = 0; i < nopts; i++) {
        const char *v = opts[i].env ? env_get(opts[i].env) : NULL;
        int rc;

        if (v && *v && (rc = set_value(cfg, &opts[i], v, false, err, cap)) < 0)
            return rc;
    }
    return 0;
}

/* Find --config among the flags first, so flags can override the file. */
static const char *
config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

static int
parse_flags(const struct scc_cfg_opt *opts, size_t nopts, void *cfg, int argc, char **argv,
            char ***rest, int *nrest, char *err, size_t cap)
{
    bool *seen = scc_calloc(nopts, sizeof(*seen));
    int i, rc = 0;

    if (seen == NULL)
        return SCC_ENOMEM;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *val;
        const struct scc_cfg_opt *o;
        size_t len;

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(arg, "--", 2) != 0)
            break;
        eq = strchr(arg + 2, '=');
        len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if ((o = find(opts, nopts, arg + 2, len)) == NULL) {
            fail(err, cap, "unknown option '%s' (see --help)", arg);
            rc = SCC_EINVAL;
            goto out;
        }
        if (eq)
            val = eq + 1;
        else if (o->type == SCC_CFG_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fail(err, cap, "option --%s needs a value", o->name);
            rc = SCC_EINVAL;
            goto out;
        }
        /* A repeated list flag appends; the first one replaces the default. */
        if ((rc = set_value(cfg, o, val, seen[o - opts], err, cap)) < 0)
            goto out;
        seen[o - opts] = true;
    }
    if (rest) {
        *rest = argv + i;
        *nrest = argc - i;
    } else if (i < argc) {
        fail(err, cap, "unexpected argument '%s'", argv[i]);
        rc = SCC_EINVAL;
    }
out:
    scc_free(seen);
    return rc;
}

int
scc_cfg_parse(const struct scc_cfg_opt *opts, size_t nopts, void *cfg, int argc, char **argv,
              char ***rest, int *nrest, char *err, size_t err_cap)
{
    const char *file;
    int rc;

    err[0] = '\0';
    if ((rc = apply_defaults_and_env(opts, nopts, cfg, err, err_cap)) < 0)
        return rc;
    if ((file = config_flag(argc, argv)) != NULL && find(opts, nopts, "config", 6) &&
        (rc = load_file(opts, nopts, cfg, file, err, err_cap)) < 0)
        return SCC_EINVAL;
    return parse_flags(opts, nopts, cfg, argc, argv, rest, nrest, err, err_cap);
}

void
scc_cfg_free(const struct scc_cfg_opt *opts, size_t nopts, void *cfg)
{
    for (size_t i = 0; i < nopts; i++) {
        enum scc_cfg_type t = opts[i].type;

        if (t == SCC_CFG_STR || t == SCC_CFG_HOSTPORT || t == SCC_CFG_LIST) {
            char **slot = str_slot(cfg, &opts[i]);

            scc_free(*slot);
            *slot = NULL;
        }
    }
}

void
scc_cfg_help(const struct scc_cfg_opt *opts, size_t nopts, FILE *out)
{
    static const char *const tnames[] = {"STR",      "N",         "",   "DURATION",
                                         "DURATION", "HOST:PORT", "STR"};

    for (size_t i = 0; i < nopts; i++) {
        const struct scc_cfg_opt *o = &opts[i];
        char flag[64];

        snprintf(flag, sizeof(flag), "--%s %s", o->name, tnames[o->type]);
        fprintf(out, "  %-32s %s", flag, o->help);
        if (o->def)
            fprintf(out, " (default: %s)", o->def);
        if (o->env)
            fprintf(out, " [env %s]", o->env);
        fputc('\n', out);
    }
}
