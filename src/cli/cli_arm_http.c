/*
 * cli_arm_http.c - HTTPS to the management API with libcurl: one easy
 * handle per command (keep-alive across the polls of an operation), TLS
 * verified against DIR/pki/ca.crt, and the LRO loop arm-compat.md §2
 * describes, the same one the Azure SDKs run.
 */
#include "cli_arm.h"

#include "common/buf.h"
#include "common/json.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX    (64u << 20)
#define API_VERSION  "2023-02-01"
#define WAIT_MAX_S   3600
#define POLL_DEFAULT 1

void
cli_arm_resp_fini(struct cli_arm_resp *r)
{
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

bool
cli_arm_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

bool
cli_arm_kv(json_t *obj, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[600];

    if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key))
        return false;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    return json_object_set_new(obj, key, json_string(eq + 1)) == 0;
}

/* ---- options ---- */

static int
opt_usage(const char *opt)
{
    fprintf(stderr, "sccctl: %s needs a value\n", opt);
    return CLI_USAGE;
}

/* One shared option at argv[i]: how many arguments it used (0: not ours). */
static int
take(struct cli_arm *a, int argc, char **argv, int i)
{
    static const char *const flags[] = {"--token", "--subscription",   "--api",
                                        "--ca",    "--resource-group", "-g"};
    const char **dst[] = {&a->token, &a->sub, &a->api, &a->ca, &a->rg, &a->rg};

    if (strcmp(argv[i], "--wait") == 0) {
        a->wait = true;
        return 1;
    }
    if (strcmp(argv[i], "--quiet") == 0) {
        a->quiet = true;
        return 1;
    }
    if (strcmp(argv[i], "--output") == 0 && i + 1 < argc &&
        (strcmp(argv[i + 1], "json") == 0 || strcmp(argv[i + 1], "table") == 0)) {
        a->c->output = argv[i + 1];
        return 2;
    }
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        if (strcmp(argv[i], flags[f]) == 0) {
            if (i + 1 >= argc)
                return -1;
            *dst[f] = argv[i + 1];
            return 2;
        }
    }
    return 0;
}

int
cli_arm_opts(struct cli *c, struct cli_arm *a, int *argc, char **argv)
{
    int i = 1, o = 1, n;

    memset(a, 0, sizeof(*a));
    a->c = c;
    while (i < *argc) {
        if ((n = take(a, *argc, argv, i)) < 0)
            return opt_usage(argv[i]);
        if (n == 0)
            argv[o++] = argv[i++];
        else
            i += n;
    }
    *argc = o;
    argv[o] = NULL;
    return 0;
}

/* ---- resolving where and who ---- */

static bool
read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    bool ok = f && fgets(out, (int)cap, f) != NULL;

    if (f)
        fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0];
}

static bool
api_from_endpoints(struct cli_arm *a)
{
    char path[4200];
    json_t *ep;
    const char *api;

    snprintf(path, sizeof(path), "%s/endpoints.json", a->c->data_dir);
    if ((ep = json_load_file(path, 0, NULL)) == NULL)
        return false;
    api = json_string_value(json_object_get(ep, "api"));
    if (api)
        snprintf(a->api_buf, sizeof(a->api_buf), "https://%s", api);
    json_decref(ep);
    return api != NULL;
}

static int
resolve(struct cli_arm *a)
{
    char path[4200];
    const char *env = getenv("SCC_TOKEN");

    if (a->token == NULL && env && *env)
        a->token = env;
    snprintf(path, sizeof(path), "%s/admin.token", a->c->data_dir);
    if (a->token == NULL && read_line(path, a->token_buf, sizeof(a->token_buf)))
        a->token = a->token_buf;
    snprintf(path, sizeof(path), "%s/subscription", a->c->data_dir);
    if (a->sub == NULL && read_line(path, a->sub_buf, sizeof(a->sub_buf)))
        a->sub = a->sub_buf;
    if (a->api == NULL && api_from_endpoints(a))
        a->api = a->api_buf;
    snprintf(a->ca_buf, sizeof(a->ca_buf), "%s/pki/ca.crt", a->c->data_dir);
    if (a->ca == NULL && access(a->ca_buf, R_OK) == 0)
        a->ca = a->ca_buf;
    if (a->api == NULL) {
        fprintf(stderr, "sccctl: no API address: give --api https://HOST:PORT or --data-dir of "
                        "a running sccd (its endpoints.json)\n");
        return CLI_UNAVAILABLE;
    }
    if (a->token == NULL) {
        fprintf(stderr, "sccctl: no token: give --token, set SCC_TOKEN, or --data-dir with "
                        "admin.token\n");
        return CLI_REFUSED;
    }
    return 0;
}

int
cli_arm_open(struct cli_arm *a)
{
    int rc;

    if ((rc = resolve(a)) != 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (a->curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "sccctl: cannot initialise libcurl\n");
        return CLI_ERR;
    }
    return 0;
}

void
cli_arm_close(struct cli_arm *a)
{
    if (a->curl)
        curl_easy_cleanup(a->curl);
    a->curl = NULL;
    curl_global_cleanup();
}

/* ---- requests ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    return scc_buf_put(arg, p, size * n) == 0 ? size * n : 0;
}

static void
header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);

    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    line += n + 1;
    len -= n + 1;
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    snprintf(out, cap, "%.*s", (int)len, line);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct cli_arm_resp *r = arg;
    char ra[32] = "";

    header_value(p, size * n, "Azure-AsyncOperation", r->async_op, sizeof(r->async_op));
    header_value(p, size * n, "Location", r->location, sizeof(r->location));
    header_value(p, size * n, "Warning", r->warning, sizeof(r->warning));
    header_value(p, size * n, "Retry-After", ra, sizeof(ra));
    if (ra[0]) {
        long v = strtol(ra, NULL, 10);

        r->retry_after = v > 0 && v < 3600 ? (int)v : 0;
    }
    return size * n;
}

static void
full_url(struct cli_arm *a, const char *path, char *out, size_t cap)
{
    const char *q = strchr(path, '?');
    bool has_v = q && strstr(q, "api-version=");

    if (strncmp(path, "https://", 8) == 0)
        snprintf(out, cap, "%s%s", path,
                 has_v ? ""
                 : q   ? "&api-version=" API_VERSION
                       : "?api-version=" API_VERSION);
    else
        snprintf(out, cap, "%s%s%s", a->api, path,
                 has_v ? ""
                 : q   ? "&api-version=" API_VERSION
                       : "?api-version=" API_VERSION);
}

static void
setup(struct cli_arm *a, const char *method, const char *url, struct curl_slist *h,
      struct scc_buf *b, struct cli_arm_resp *r, const char *text)
{
    CURL *cu = a->curl;

    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(cu, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    if (a->ca)
        curl_easy_setopt(cu, CURLOPT_CAINFO, a->ca);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    if (text)
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, text);
    else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, "");
}

int
cli_arm_call(struct cli_arm *a, const char *method, const char *path, const json_t *body,
             struct cli_arm_resp *r)
{
    char url[4096], auth[256];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = NULL;
    struct scc_buf b;
    long code = 0;
    CURLcode cc;

    memset(r, 0, sizeof(*r));
    full_url(a, path, url, sizeof(url));
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    scc_buf_init(&b, REPLY_MAX);
    setup(a, method, url, h, &b, r, text);
    if ((cc = curl_easy_perform(a->curl)) != CURLE_OK)
        fprintf(stderr, "sccctl: %s %s: %s\n", method, a->api, curl_easy_strerror(cc));
    else
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
    r->status = (int)code;
    if (b.len)
        (void)scc_json_parse(b.data, b.len, REPLY_MAX, &r->body, NULL, 0);
    scc_buf_fini(&b);
    curl_slist_free_all(h);
    free(text);
    return r->status;
}

int
cli_arm_get(struct cli_arm *a, const char *path, const char *what, const char *const *cols)
{
    struct cli_arm_resp r;
    int rc;

    cli_arm_call(a, "GET", path, NULL, &r);
    rc = r.status == 200 ? CLI_OK : cli_arm_error(&r, what);
    if (rc == CLI_OK && r.body)
        cli_arm_print(a, r.body, cols);
    cli_arm_resp_fini(&r);
    return rc;
}

/* ---- printing ---- */

int
cli_arm_error(const struct cli_arm_resp *r, const char *what)
{
    return cli_print_error(r->status, r->body, what);
}

/* "properties.provisioningState" style lookups for table columns. */
static const json_t *
dig(const json_t *o, const char *path)
{
    char key[128];

    while (o && *path) {
        size_t n = strcspn(path, ".");

        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

static void
print_row(const json_t *o, const char *const *cols)
{
    for (size_t i = 0; cols[i]; i++) {
        const json_t *v = dig(o, cols[i]);
        char *text = NULL;
        const char *s = json_is_string(v) ? json_string_value(v)
                        : v               ? (text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))
                                          : "-";

        printf("%s%s", i ? "  " : "", s ? s : "-");
        free(text);
    }
    printf("\n");
}

void
cli_arm_print(struct cli_arm *a, const json_t *o, const char *const *cols)
{
    const json_t *arr = json_object_get(o, "value");
    size_t i;
    json_t *v;

    if (strcmp(a->c->output, "json") == 0 || cols == NULL) {
        cli_print_json(o);
        return;
    }
    for (i = 0; cols[i]; i++) {
        const char *dot = strrchr(cols[i], '.'), *name = dot ? dot + 1 : cols[i];
        int n = (int)strlen(name);

        /* "parameters.enableNoPublicIp.value" is headed enableNoPublicIp. */
        if (strcmp(name, "value") == 0 && dot) {
            const char *p = dot;

            while (p > cols[i] && p[-1] != '.')
                p--;
            name = p;
            n = (int)(dot - p);
        }
        printf("%s%.*s", i ? "  " : "", n, name);
    }
    printf("\n");
    if (!json_is_array(arr)) {
        print_row(o, cols);
        return;
    }
    json_array_foreach(arr, i, v) print_row(v, cols);
}

/* ---- long-running operations ---- */

static void
progress(struct cli_arm *a, const char *what, const char *status, int pct, time_t t0)
{
    if (a->quiet)
        return;
    if (pct >= 0)
        fprintf(stderr, "\r%s: %s %d%% (%lds)   ", what, status, pct, (long)(time(NULL) - t0));
    else
        fprintf(stderr, "\r%s: %s (%lds)   ", what, status, (long)(time(NULL) - t0));
    fflush(stderr);
}

/* One poll: 1 still running, 0 succeeded, else an exit code. */
static int
poll_once(struct cli_arm *a, char *url, size_t cap, bool status_mode, const char *what, time_t t0,
          int *wait_s)
{
    struct cli_arm_resp p;
    const char *st;
    int rc = 1;

    if (cli_arm_call(a, "GET", url, NULL, &p) == 0)
        return CLI_UNAVAILABLE;
    *wait_s = p.retry_after > 0 && p.retry_after < 30 ? p.retry_after : POLL_DEFAULT;
    st = json_string_value(json_object_get(p.body, "status"));
    if (status_mode && p.status == 200 && st) {
        progress(a, what, st, (int)json_integer_value(json_object_get(p.body, "percentComplete")),
                 t0);
        if (strcasecmp(st, "Succeeded") == 0)
            rc = 0;
        else if (strcasecmp(st, "Failed") == 0 || strcasecmp(st, "Canceled") == 0) {
            fprintf(stderr, "\n");
            rc = cli_print_error(400, p.body, what);
            rc = CLI_ERR;
        }
    } else if (!status_mode && p.status == 202) {
        progress(a, what, "InProgress", -1, t0);
        if (p.location[0])
            snprintf(url, cap, "%s", p.location);
    } else if (!status_mode && p.status >= 200 && p.status < 300) {
        rc = 0;
    } else {
        fprintf(stderr, "\n");
        rc = cli_arm_error(&p, what);
    }
    cli_arm_resp_fini(&p);
    return rc;
}

static int
wait_op(struct cli_arm *a, const struct cli_arm_resp *r, const char *what)
{
    char url[1024];
    bool status_mode = r->async_op[0] != '\0';
    time_t t0 = time(NULL);
    int rc, wait_s = 0;

    snprintf(url, sizeof(url), "%s", status_mode ? r->async_op : r->location);
    while ((rc = poll_once(a, url, sizeof(url), status_mode, what, t0, &wait_s)) == 1) {
        if (time(NULL) - t0 > WAIT_MAX_S) {
            fprintf(stderr, "\nsccctl: %s: still running after %ds; giving up waiting\n", what,
                    WAIT_MAX_S);
            return CLI_UNAVAILABLE;
        }
        sleep((unsigned)wait_s);
    }
    if (rc == 0 && !a->quiet)
        fprintf(stderr, "\r%s: Succeeded (%lds)        \n", what, (long)(time(NULL) - t0));
    return rc;
}

int
cli_arm_finish(struct cli_arm *a, struct cli_arm_resp *r, const char *what, const char *get_path)
{
    bool lro = r->async_op[0] || (r->status == 202 && r->location[0]);
    int rc;

    if (r->status < 200 || r->status >= 300)
        return cli_arm_error(r, what);
    if (r->warning[0] && !a->quiet)
        fprintf(stderr, "note: %s\n", r->warning);
    if (!lro)
        return CLI_OK;
    if (!a->wait) {
        if (!a->quiet)
            fprintf(stderr, "%s: accepted; follow it with: sccctl operation show '%s'\n", what,
                    r->async_op[0] ? r->async_op : r->location);
        return CLI_OK;
    }
    if ((rc = wait_op(a, r, what)) != 0)
        return rc;
    if (get_path == NULL) {
        json_decref(r->body);
        r->body = NULL;
        return CLI_OK;
    }
    cli_arm_resp_fini(r);
    if (cli_arm_call(a, "GET", get_path, NULL, r) != 200)
        return cli_arm_error(r, what);
    return CLI_OK;
}
