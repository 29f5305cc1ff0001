/*
 * ctl_tmpl_expr.c - lexer, parser and evaluator of ARM template
 * expressions (arm-compat.md §4.2/§4.3), and the walk that evaluates a
 * template JSON value with its expressions and property copy loops.
 *
 *   expr    := primary ( '.' ident | '[' expr ']' )*
 *   primary := ident '(' [ expr (',' expr)* ] ')' | 'string' | integer
 *
 * Parsing builds a tree in two arrays sized by a first counting pass (a
 * node per token at most; decoded text at most twice the source), so a
 * parse is three allocations whatever the input.  Recursion is bounded by
 * CTL_TMPL_MAX_EXPR_DEPTH while parsing and CTL_TMPL_MAX_EVAL_DEPTH while
 * evaluating; the latter also counts nested variables and JSON levels.
 */
#include "control/ctl_tmpl_expr.h"

#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/mem.h"
#include "control/ctl_tmpl_fn.h"
#include "control/ctl_tmpl_int.h"

enum tok {
    T_EOF,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_DOT,
    T_LBRACK,
    T_RBRACK,
    T_IDENT,
    T_STR,
    T_INT,
};

/* ARM's token names, so parse errors read like ARM's. */
static const char *const tok_names[] = {
        "EndOfData",         "LeftParenthesis",    "RightParenthesis", "Comma",   "Dot",
        "LeftSquareBracket", "RightSquareBracket", "Identifier",       "Literal", "Integer",
};

struct token {
    enum tok kind;
    size_t start;
    size_t len;
    json_int_t ival;
};

struct lexer {
    struct ctl_tmpl_ctx *c;
    const char *s;
    size_t len;
    size_t pos;
};

static bool
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool
is_ident_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '$';
}

static bool
is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int
lex_string(struct lexer *lx, struct token *tk)
{
    size_t i = lx->pos + 1;

    for (;;) {
        if (i >= lx->len)
            return ctl_tmpl_fail(lx->c, SCC_EINVAL,
                                 "The language expression is not valid: the string literal "
                                 "starting at position '%zu' is not terminated.",
                                 lx->pos);
        if (lx->s[i] == '\'') {
            if (i + 1 < lx->len && lx->s[i + 1] == '\'') {
                i += 2; /* '' is an escaped quote */
                continue;
            }
            break;
        }
        i++;
    }
    tk->kind = T_STR;
    tk->len = i + 1 - lx->pos;
    return 0;
}

static int
lex_int(struct lexer *lx, struct token *tk)
{
    size_t i = lx->pos;
    bool neg = lx->s[i] == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    if (lx->s[i] == '-' || lx->s[i] == '+')
        i++;
    for (; i < lx->len && is_digit(lx->s[i]); i++) {
        unsigned d = (unsigned)(lx->s[i] - '0');

        if (v > (lim - d) / 10)
            return ctl_tmpl_fail(lx->c, SCC_EINVAL,
                                 "The language expression is not valid: the integer at position "
                                 "'%zu' is out of range.",
                                 lx->pos);
        v = v * 10 + d;
    }
    tk->kind = T_INT;
    tk->len = i - lx->pos;
    /* -2^63 has no positive counterpart, so negate in unsigned space. */
    tk->ival = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return 0;
}

static int
lex_next(struct lexer *lx, struct token *tk)
{
    static const char punct[] = "(),.[]";
    const char *pc;
    char ch;
    int rc;

    while (lx->pos < lx->len && is_space(lx->s[lx->pos]))
        lx->pos++;
    memset(tk, 0, sizeof(*tk));
    tk->start = lx->pos;
    if (lx->pos >= lx->len)
        return 0; /* T_EOF */
    ch = lx->s[lx->pos];
    if (ch != '\0' && (pc = strchr(punct, ch)) != NULL) {
        tk->kind = (enum tok)(T_LPAREN + (pc - punct));
        tk->len = 1;
    } else if (ch == '\'') {
        if ((rc = lex_string(lx, tk)) < 0)
            return rc;
    } else if (is_digit(ch) || ((ch == '-' || ch == '+') && lx->pos + 1 < lx->len &&
                                is_digit(lx->s[lx->pos + 1]))) {
        if ((rc = lex_int(lx, tk)) < 0)
            return rc;
    } else if (is_ident_start(ch)) {
        size_t i = lx->pos + 1;

        while (i < lx->len && (is_ident_start(lx->s[i]) || is_digit(lx->s[i])))
            i++;
        tk->kind = T_IDENT;
        tk->len = i - lx->pos;
    } else {
        return ctl_tmpl_fail(lx->c, SCC_EINVAL,
                             "The language expression is not valid: the character '%c' at "
                             "position '%zu' is not expected.",
                             (ch >= 0x20 && ch < 0x7f) ? ch : '?', lx->pos);
    }
    lx->pos += tk->len;
    return 0;
}

struct parser {
    struct ctl_tmpl_ctx *c;
    struct lexer lx;
    struct token tk;
    struct ctl_tmpl_ast *ast;
    size_t nnodes; /* the counting pass sized ast->nodes: one per token at most */
    size_t strpos;
};

static int
advance(struct parser *p)
{
    return lex_next(&p->lx, &p->tk);
}

static int
unexpected(struct parser *p, const char *want)
{
    return ctl_tmpl_fail(p->c, SCC_EINVAL,
                         "The language expression is not valid: expected token '%s' and actual "
                         "'%s' at position '%zu'.",
                         want, tok_names[p->tk.kind], p->tk.start);
}

static int
expect(struct parser *p, enum tok kind)
{
    if (p->tk.kind != kind)
        return unexpected(p, tok_names[kind]);
    return advance(p);
}

/* The counting pass guarantees room: one node per token at most. */
static struct ctl_tmpl_node *
new_node(struct parser *p, enum ctl_tmpl_node_kind kind)
{
    struct ctl_tmpl_node *n = &p->ast->nodes[p->nnodes++];

    memset(n, 0, sizeof(*n));
    n->kind = kind;
    return n;
}

/* Copy a token's text (decoding '' inside literals) into the string area. */
static const char *
keep_text(struct parser *p, size_t start, size_t len, bool literal, size_t *out_len)
{
    char *dst = p->ast->strs + p->strpos;
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        dst[n++] = p->lx.s[start + i];
        if (literal && p->lx.s[start + i] == '\'')
            i++;
    }
    dst[n] = '\0';
    p->strpos += n + 1;
    *out_len = n;
    return dst;
}

static int parse_expr(struct parser *p, unsigned depth, struct ctl_tmpl_node **out);

static int
arity_error(struct parser *p, const struct ctl_tmpl_fn *fn, size_t nargs)
{
    char want[48];

    if (fn->max == CTL_TMPL_FN_ANY)
        (void)snprintf(want, sizeof(want), "at least %u", fn->min);
    else if (fn->min == fn->max)
        (void)snprintf(want, sizeof(want), "%u", fn->min);
    else
        (void)snprintf(want, sizeof(want), "%u to %u", fn->min, fn->max);
    return ctl_tmpl_fail(p->c, SCC_EINVAL,
                         "Unable to evaluate template language function '%s': function requires "
                         "%s argument(s) while %zu were provided. Please see "
                         "https://aka.ms/arm-functions for usage details.",
                         fn->name, want, nargs);
}

static int
parse_args(struct parser *p, unsigned depth, struct ctl_tmpl_node *call)
{
    struct ctl_tmpl_node **tail = &call->kid, *arg;
    int rc;

    if ((rc = expect(p, T_LPAREN)) < 0)
        return rc;
    if (p->tk.kind == T_RPAREN)
        return advance(p);
    for (;;) {
        if ((rc = parse_expr(p, depth + 1, &arg)) < 0)
            return rc;
        *tail = arg;
        tail = &arg->next;
        call->nargs++;
        if (p->tk.kind != T_COMMA)
            break;
        if ((rc = advance(p)) < 0)
            return rc;
    }
    return expect(p, T_RPAREN);
}

static int
parse_call(struct parser *p, unsigned depth, struct ctl_tmpl_node **out)
{
    struct ctl_tmpl_node *n = new_node(p, CTL_TMPL_N_CALL);
    int rc;

    n->str = keep_text(p, p->tk.start, p->tk.len, false, &n->len);
    if ((n->fn = ctl_tmpl_fn_find(n->str, n->len)) == NULL)
        return ctl_tmpl_fail(p->c, SCC_EINVAL,
                             "The template function '%s' is not valid. Please see "
                             "https://aka.ms/arm-functions for usage details.",
                             n->str);
    if ((rc = advance(p)) < 0 || (rc = parse_args(p, depth, n)) < 0)
        return rc;
    if (n->nargs < n->fn->min || (n->fn->max != CTL_TMPL_FN_ANY && n->nargs > n->fn->max))
        return arity_error(p, n->fn, n->nargs);
    *out = n;
    return 0;
}

static int
parse_primary(struct parser *p, unsigned depth, struct ctl_tmpl_node **out)
{
    struct ctl_tmpl_node *n;

    switch (p->tk.kind) {
    case T_IDENT:
        return parse_call(p, depth, out);
    case T_STR:
        n = new_node(p, CTL_TMPL_N_STR);
        n->str = keep_text(p, p->tk.start + 1, p->tk.len - 2, true, &n->len);
        break;
    case T_INT:
        n = new_node(p, CTL_TMPL_N_INT);
        n->ival = p->tk.ival;
        break;
    default:
        return unexpected(p, "Identifier");
    }
    *out = n;
    return advance(p);
}

static int
parse_suffix(struct parser *p, unsigned depth, struct ctl_tmpl_node **cur)
{
    struct ctl_tmpl_node *n;
    int rc;

    if (p->tk.kind == T_DOT) {
        if ((rc = advance(p)) < 0)
            return rc;
        if (p->tk.kind != T_IDENT)
            return unexpected(p, "Identifier");
        n = new_node(p, CTL_TMPL_N_PROP);
        n->str = keep_text(p, p->tk.start, p->tk.len, false, &n->len);
        n->kid = *cur;
        *cur = n;
        return advance(p);
    }
    n = new_node(p, CTL_TMPL_N_INDEX);
    n->kid = *cur;
    *cur = n;
    if ((rc = advance(p)) < 0 || (rc = parse_expr(p, depth + 1, &n->idx)) < 0)
        return rc;
    return expect(p, T_RBRACK);
}

static int
parse_expr(struct parser *p, unsigned depth, struct ctl_tmpl_node **out)
{
    struct ctl_tmpl_node *n = NULL;
    int rc;

    if (depth > CTL_TMPL_MAX_EXPR_DEPTH)
        return ctl_tmpl_fail(p->c, SCC_ETOOBIG,
                             "The language expression is nested deeper than the limit of '%u' "
                             "levels.",
                             CTL_TMPL_MAX_EXPR_DEPTH);
    if ((rc = parse_primary(p, depth, &n)) < 0)
        return rc;
    while (p->tk.kind == T_DOT || p->tk.kind == T_LBRACK) {
        if ((rc = parse_suffix(p, depth, &n)) < 0)
            return rc;
    }
    *out = n;
    return 0;
}

/* First pass: validate the tokens and count them to size the arrays. */
static int
count_tokens(struct ctl_tmpl_ctx *c, const char *s, size_t len, size_t *ntok)
{
    struct lexer lx = {c, s, len, 0};
    struct token tk;
    int rc;

    *ntok = 0;
    do {
        if ((rc = lex_next(&lx, &tk)) < 0)
            return rc;
        (*ntok)++;
    } while (tk.kind != T_EOF);
    return 0;
}

int
ctl_tmpl_expr_parse(struct ctl_tmpl_ctx *c, const char *s, size_t len, struct ctl_tmpl_ast *ast)
{
    struct parser p;
    size_t ntok;
    int rc;

    memset(ast, 0, sizeof(*ast));
    if (len > CTL_TMPL_MAX_EXPR_LEN)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The template language expression length limit exceeded. Limit: "
                             "'%u' and actual: '%zu'.",
                             CTL_TMPL_MAX_EXPR_LEN, len);
    if ((rc = ctl_tmpl_charge(c, 1 + len / 8)) < 0 || (rc = count_tokens(c, s, len, &ntok)) < 0)
        return rc;
    ast->nodes = scc_calloc(ntok, sizeof(*ast->nodes));
    ast->strs = scc_malloc(2 * len + 2);
    if (ast->nodes == NULL || ast->strs == NULL) {
        ctl_tmpl_expr_fini(ast);
        return ctl_tmpl_oom(c);
    }
    memset(&p, 0, sizeof(p));
    p.c = c;
    p.lx = (struct lexer){c, s, len, 0};
    p.ast = ast;
    if ((rc = advance(&p)) < 0 || (rc = parse_expr(&p, 1, &ast->root)) < 0 ||
        (rc = (p.tk.kind == T_EOF ? 0 : unexpected(&p, "EndOfData"))) < 0) {
        ctl_tmpl_expr_fini(ast);
        return rc;
    }
    return 0;
}

void
ctl_tmpl_expr_fini(struct ctl_tmpl_ast *ast)
{
    scc_free(ast->nodes);
    scc_free(ast->strs);
    memset(ast, 0, sizeof(*ast));
}

static int
eval_if(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_node *n, json_t **out)
{
    json_t *cond = NULL;
    int rc;

    /* ARM evaluates only the branch taken, so templates may guard an
     * expression that is valid only under the condition. */
    if ((rc = ctl_tmpl_expr_eval(c, n->kid, &cond)) < 0)
        goto out;
    if (!json_is_boolean(cond)) {
        rc = ctl_tmpl_fail(c, SCC_EINVAL,
                           "The template language function 'if' expects its first parameter to "
                           "be of type 'Boolean'. The provided value is of type '%s'. Please see "
                           "https://aka.ms/arm-functions for usage details.",
                           ctl_tmpl_type_name(cond));
        goto out;
    }
    rc = ctl_tmpl_expr_eval(c, json_is_true(cond) ? n->kid->next : n->kid->next->next, out);
out:
    json_decref(cond);
    return rc;
}

static int
eval_call(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_node *n, json_t **out)
{
    json_t *small[8] = {NULL};
    json_t **argv = small;
    const struct ctl_tmpl_node *a;
    size_t i = 0;
    int rc = 0;

    if (n->fn->cb == NULL)
        return eval_if(c, n, out);
    if (n->nargs > 8 && (argv = scc_calloc(n->nargs, sizeof(*argv))) == NULL)
        return ctl_tmpl_oom(c);
    for (a = n->kid; a != NULL; a = a->next, i++) {
        if ((rc = ctl_tmpl_expr_eval(c, a, &argv[i])) < 0)
            goto out;
    }
    if ((rc = n->fn->cb(c, n->fn, argv, n->nargs, out)) == 0 && *out == NULL)
        rc = ctl_tmpl_oom(c);
out:
    for (i = 0; i < n->nargs; i++)
        json_decref(argv[i]);
    if (argv != small)
        scc_free(argv);
    return rc;
}

/* "a, b, c" of an object's keys for the missing-property message. */
static void
list_keys(const json_t *obj, char *dst, size_t cap)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    int w;

    dst[0] = '\0';
    json_object_foreach((json_t *)obj, k, v)
    {
        w = snprintf(dst + n, cap - n, "%s%s", n ? ", " : "", k);
        if (w < 0 || (size_t)w >= cap - n)
            break; /* the list is cut; it is only a hint */
        n += (size_t)w;
    }
}

static int
get_prop(struct ctl_tmpl_ctx *c, const json_t *target, const char *name, json_t **out)
{
    char keys[200];
    json_t *v;
    int rc;

    if (!json_is_object(target))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The language expression property '%s' can't be evaluated on a "
                             "value of type '%s'.",
                             name, ctl_tmpl_type_name(target));
    /* scc_json_iget may scan every member for the case-insensitive match. */
    if ((rc = ctl_tmpl_charge(c, 1 + json_object_size(target) / 16)) < 0)
        return rc;
    if ((v = scc_json_iget(target, name)) == NULL) {
        list_keys(target, keys, sizeof(keys));
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The language expression property '%s' doesn't exist, available "
                             "properties are '%s'.",
                             name, keys);
    }
    *out = json_incref(v);
    return 0;
}

static int
get_index(struct ctl_tmpl_ctx *c, const json_t *target, const json_t *idx, json_t **out)
{
    json_int_t i;

    if (json_is_string(idx))
        return get_prop(c, target, json_string_value(idx), out);
    if (!json_is_integer(idx))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The language expression property index must be a string or an "
                             "integer; the provided value is of type '%s'.",
                             ctl_tmpl_type_name(idx));
    i = json_integer_value(idx);
    if (!json_is_array(target))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The language expression array index '%lld' can't be applied to a "
                             "value of type '%s'.",
                             (long long)i, ctl_tmpl_type_name(target));
    if (i < 0 || (size_t)i >= json_array_size(target))
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The language expression property array index '%lld' is out of "
                             "bounds.",
                             (long long)i);
    *out = json_incref(json_array_get(target, (size_t)i));
    return 0;
}

static int
eval_access(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_node *n, json_t **out)
{
    json_t *target = NULL, *idx = NULL;
    int rc;

    if ((rc = ctl_tmpl_expr_eval(c, n->kid, &target)) < 0)
        goto out;
    if (n->kind == CTL_TMPL_N_PROP) {
        rc = get_prop(c, target, n->str, out);
        goto out;
    }
    if ((rc = ctl_tmpl_expr_eval(c, n->idx, &idx)) < 0)
        goto out;
    rc = get_index(c, target, idx, out);
out:
    json_decref(target);
    json_decref(idx);
    return rc;
}

static int
enter(struct ctl_tmpl_ctx *c)
{
    if (++c->depth > CTL_TMPL_MAX_EVAL_DEPTH)
        return ctl_tmpl_fail(c, SCC_ETOOBIG,
                             "The template evaluation is nested deeper than the limit of '%u' "
                             "levels.",
                             CTL_TMPL_MAX_EVAL_DEPTH);
    return ctl_tmpl_charge(c, 1);
}

int
ctl_tmpl_expr_eval(struct ctl_tmpl_ctx *c, const struct ctl_tmpl_node *n, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = enter(c)) < 0)
        goto out;
    switch (n->kind) {
    case CTL_TMPL_N_STR:
        rc = ctl_tmpl_mkstr(c, n->str, n->len, out);
        break;
    case CTL_TMPL_N_INT:
        rc = ctl_tmpl_mkint(c, n->ival, out);
        break;
    case CTL_TMPL_N_CALL:
        rc = eval_call(c, n, out);
        break;
    case CTL_TMPL_N_PROP:
    case CTL_TMPL_N_INDEX:
        rc = eval_access(c, n, out);
        break;
    }
out:
    c->depth--;
    return rc;
}

bool
ctl_tmpl_is_expr(const char *s, size_t len)
{
    return len >= 2 && s[0] == '[' && s[len - 1] == ']' && s[1] != '[';
}

int
ctl_tmpl_eval_str(struct ctl_tmpl_ctx *c, const char *s, size_t len, json_t **out)
{
    const char *saved = c->expr;
    size_t saved_len = c->expr_len;
    struct ctl_tmpl_ast ast;
    int rc;

    *out = NULL;
    if (!ctl_tmpl_is_expr(s, len)) {
        if (len >= 3 && s[0] == '[' && s[1] == '[' && s[len - 1] == ']')
            return ctl_tmpl_mkstr(c, s + 1, len - 1, out); /* "[[x]" is the literal "[x]" */
        return ctl_tmpl_mkstr(c, s, len, out);
    }
    c->expr = s;
    c->expr_len = len;
    if ((rc = ctl_tmpl_expr_parse(c, s + 1, len - 2, &ast)) == 0) {
        rc = ctl_tmpl_expr_eval(c, ast.root, out);
        ctl_tmpl_expr_fini(&ast);
    }
    c->expr = saved;
    c->expr_len = saved_len;
    return rc;
}

int
ctl_tmpl_eval_count(struct ctl_tmpl_ctx *c, const json_t *v, json_int_t max, json_int_t *out)
{
    json_t *x = NULL;
    int rc;

    if (v == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL, "The copy count at '%s' is missing.", c->path);
    if ((rc = ctl_tmpl_eval_value(c, v, &x)) < 0)
        return rc;
    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > max)
        rc = ctl_tmpl_fail(
                c, json_is_integer(x) && json_integer_value(x) > max ? SCC_ETOOBIG : SCC_EINVAL,
                "The copy count at '%s' must be a non-negative integer value and "
                "cannot exceed '%lld'.",
                c->path, (long long)max);
    else
        *out = json_integer_value(x);
    json_decref(x);
    return rc;
}

int
ctl_tmpl_eval_loop(struct ctl_tmpl_ctx *c, const char *name, json_int_t count, const json_t *input,
                   json_t **out)
{
    struct ctl_tmpl_iter it = {name, 0, false, c->iter};
    json_t *arr = NULL, *x;
    int rc;

    *out = NULL;
    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    c->iter = &it;
    for (it.index = 0; it.index < count; it.index++) {
        if ((rc = ctl_tmpl_eval_value(c, input, &x)) < 0 || (rc = ctl_tmpl_append(c, arr, x)) < 0)
            break;
    }
    c->iter = it.up;
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* One entry of a property "copy" array: {name, count, input}. */
static int
prop_copy_one(struct ctl_tmpl_ctx *c, const json_t *e, json_t *dst)
{
    const char *name = json_string_value(scc_json_iget(e, "name"));
    const json_t *input = scc_json_iget(e, "input");
    json_int_t count = 0;
    json_t *arr = NULL;
    size_t saved;
    int rc;

    if (!json_is_object(e) || name == NULL || ctl_tmpl_is_expr(name, strlen(name)) || input == NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The property copy at '%s' must be an object with a literal 'name', "
                             "a 'count' and an 'input'.",
                             c->path);
    if (json_object_get(dst, name) != NULL)
        return ctl_tmpl_fail(c, SCC_EINVAL,
                             "The property copy '%s' at '%s' collides with a property of the "
                             "same name.",
                             name, c->path);
    saved = ctl_tmpl_path_key(c, "count");
    rc = ctl_tmpl_eval_count(c, scc_json_iget(e, "count"), CTL_TMPL_MAX_COPY, &count);
    ctl_tmpl_path_restore(c, saved);
    if (rc < 0)
        return rc;
    saved = ctl_tmpl_path_key(c, "input");
    rc = ctl_tmpl_eval_loop(c, name, count, input, &arr);
    ctl_tmpl_path_restore(c, saved);
    if (rc < 0)
        return rc;
    return ctl_tmpl_set(c, dst, name, arr);
}

static int
prop_copy(struct ctl_tmpl_ctx *c, const json_t *entries, json_t *dst)
{
    size_t saved = ctl_tmpl_path_key(c, "copy"), inner, i;
    int rc = 0;

    for (i = 0; rc == 0 && i < json_array_size(entries); i++) {
        inner = ctl_tmpl_path_index(c, i);
        rc = prop_copy_one(c, json_array_get(entries, i), dst);
        ctl_tmpl_path_restore(c, inner);
    }
    ctl_tmpl_path_restore(c, saved);
    return rc;
}

static int
eval_object(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out)
{
    json_t *obj = NULL, *kid, *x;
    const char *k;
    size_t saved;
    int rc;

    if ((rc = ctl_tmpl_new_object(c, &obj)) < 0)
        return rc;
    json_object_foreach((json_t *)v, k, kid)
    {
        if ((c->allow & CTL_TMPL_ALLOW_PROPCOPY) && strcasecmp(k, "copy") == 0 &&
            json_is_array(kid)) {
            rc = prop_copy(c, kid, obj);
        } else {
            saved = ctl_tmpl_path_key(c, k);
            if ((rc = ctl_tmpl_eval_value(c, kid, &x)) == 0)
                rc = ctl_tmpl_set(c, obj, k, x);
            ctl_tmpl_path_restore(c, saved);
        }
        if (rc < 0) {
            json_decref(obj);
            return rc;
        }
    }
    *out = obj;
    return 0;
}

static int
eval_array(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out)
{
    json_t *arr = NULL, *x;
    size_t i, saved;
    int rc = 0;

    if ((rc = ctl_tmpl_new_array(c, &arr)) < 0)
        return rc;
    for (i = 0; rc == 0 && i < json_array_size(v); i++) {
        saved = ctl_tmpl_path_index(c, i);
        if ((rc = ctl_tmpl_eval_value(c, json_array_get(v, i), &x)) == 0)
            rc = ctl_tmpl_append(c, arr, x);
        ctl_tmpl_path_restore(c, saved);
    }
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int
ctl_tmpl_eval_value(struct ctl_tmpl_ctx *c, const json_t *v, json_t **out)
{
    int rc;

    *out = NULL;
    if ((rc = enter(c)) < 0)
        goto out;
    switch (json_typeof(v)) {
    case JSON_STRING:
        rc = ctl_tmpl_eval_str(c, json_string_value(v), json_string_length(v), out);
        break;
    case JSON_OBJECT:
        rc = eval_object(c, v, out);
        break;
    case JSON_ARRAY:
        rc = eval_array(c, v, out);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        rc = ctl_tmpl_copy(c, v, out);
        break;
    }
out:
    c->depth--;
    return rc;
}

static int
check_str(struct ctl_tmpl_ctx *c, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    struct ctl_tmpl_ast ast;
    int rc;

    if (!ctl_tmpl_is_expr(s, len))
        return 0;
    c->expr = s;
    c->expr_len = len;
    if ((rc = ctl_tmpl_expr_parse(c, s + 1, len - 2, &ast)) == 0)
        ctl_tmpl_expr_fini(&ast);
    c->expr = NULL;
    c->expr_len = 0;
    return rc;
}

int
ctl_tmpl_check_value(struct ctl_tmpl_ctx *c, const json_t *v)
{
    const char *k;
    json_t *kid;
    size_t i, saved;
    int rc = 0;

    if (json_is_string(v))
        return check_str(c, v);
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, kid)
        {
            saved = ctl_tmpl_path_key(c, k);
            rc = ctl_tmpl_check_value(c, kid);
            ctl_tmpl_path_restore(c, saved);
            if (rc < 0)
                return rc;
        }
    }
    for (i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        saved = ctl_tmpl_path_index(c, i);
        rc = ctl_tmpl_check_value(c, json_array_get(v, i));
        ctl_tmpl_path_restore(c, saved);
        if (rc < 0)
            return rc;
    }
    return 0;
}
