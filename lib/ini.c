/*
 * ini: the configuration front-end, see ini.h.
 *
 * inih tokenizes `key = value`; this module feeds it one physical line at a
 * time through its own reader.  That is the main design choice: the reader
 * is what knows the line of every key (Debian's inih is built without
 * INI_HANDLER_LINENO), sees every section header (inih reports none, so an
 * empty or repeated section would be invisible), and notices every
 * malformed line (inih only returns the first).  Leading whitespace is
 * stripped before inih sees a line and only key lines are handed on, so
 * inih's configparser-style continuation lines can never happen and its
 * comment and section rules cannot differ from ours: an indented line is an
 * ordinary line, and a stray indented value is a syntax error, never part of
 * a previous key.
 *
 * Owns: the problem list (each problem one malloc'ed line, sorted by line
 * when read out), the names of the sections seen (for duplicates), the
 * getline buffer.  The program owns where the keys go (open()).
 */
#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"
#include "topic.h"

#if INI_HANDLER_LINENO
#error "ini.c expects the inih handler without a line number (Debian's libinih)"
#endif

#define CUR_NONE (-1) /* before the first header */
#define CUR_SKIP (-2) /* after a refused header: its keys give no further noise */
#define NOT_UTF8 "(is the file saved as GBK? it must be UTF-8)"
#define DIGEST_HEX 16 /* ini_digest(): the first 64 bits of the SHA-256, in hex */

enum line_class { LINE_BLANK, LINE_KEY };

struct problem {
    struct ini_problem pub;
    int seq; /* keeps problems of one line in the order found */
};

struct seen { /* a section instance, for "duplicate section" */
    int section;
    char name[INI_NAME_MAX];
    int line;
};

struct ini {
    char *path;
    const struct ini_section *sections;
    int nsections;
    void *user;
    int *headers; /* per section: headers of that type */
    /* reader */
    FILE *fp;
    char *buf;
    size_t bufcap;
    const char *text; /* the current line, whitespace-stripped, inside buf */
    int lineno;
    enum line_class cls;
    bool line_utf8; /* the current key line is UTF-8 (comment included) */
    bool handled;   /* inih called the handler for the current line */
    bool eof;
    bool unreadable; /* stopped at line 1: not a text file we can read */
    bool read_done;
    /* current section */
    int cur;
    void *cur_base;
    struct ini_keyset *cur_ks;
    char cur_label[INI_LABEL_MAX];
    int cur_line;
    struct seen *seen;
    int nseen;
    /* the digest of the content (ini_digest): headers and key lines */
    EVP_MD_CTX *digest;
    /* problems */
    struct problem *probs;
    int nprobs, cap;
    bool sorted, oom;
};

/* ---- the problem list ---- */

static const struct ini_section *section_of(const struct ini *ini, const char *label)
{
    if (label == NULL)
        return NULL;
    size_t len = strcspn(label, " \t");
    for (int i = 0; i < ini->nsections; i++)
        if (strlen(ini->sections[i].type) == len && strncmp(ini->sections[i].type, label, len) == 0)
            return &ini->sections[i];
    return NULL;
}

static void add(struct ini *ini, int line, bool warning, const struct ini_section *sec,
                const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL) {
        ini->oom = true;
        return;
    }
    if (ini->nprobs == ini->cap) {
        int cap = ini->cap ? ini->cap * 2 : 16;
        struct problem *v = realloc(ini->probs, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            free(copy);
            ini->oom = true;
            return;
        }
        ini->probs = v;
        ini->cap = cap;
    }
    struct problem *p = &ini->probs[ini->nprobs];
    p->pub.line = line;
    p->pub.warning = warning;
    p->pub.lenient = !warning && sec != NULL && (sec->flags & INI_LENIENT);
    p->pub.type = sec != NULL ? sec->type : NULL;
    p->pub.text = copy;
    p->seq = ini->nprobs++;
    ini->sorted = false;
}

static void vproblem(struct ini *ini, bool warning, int line, const char *label, const char *key,
                     const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void vproblem(struct ini *ini, bool warning, int line, const char *label, const char *key,
                     const char *fmt, va_list ap)
{
    char text[1024];
    struct textbuf tb = {text, sizeof(text), 0};

    if (line > 0)
        tb_put(&tb, "%s:%d: ", ini->path, line);
    else
        tb_put(&tb, "%s: ", ini->path);
    if (label != NULL && key != NULL)
        tb_put(&tb, "[%s] %s: ", label, key);
    else if (label != NULL)
        tb_put(&tb, "[%s]: ", label);
    else if (key != NULL)
        tb_put(&tb, "%s: ", key);
    if (tb.n < tb.len) {
        int k = vsnprintf(text + tb.n, tb.len - tb.n, fmt, ap);
        if (k > 0)
            tb.n += (size_t)k;
    }
    tb_finish(&tb); /* a cut line ends on a whole character */
    add(ini, line, warning, section_of(ini, label), text);
}

void ini_error(struct ini *ini, int line, const char *label, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(ini, false, line, label, key, fmt, ap);
    va_end(ap);
}

void ini_warning(struct ini *ini, int line, const char *label, const char *key, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(ini, true, line, label, key, fmt, ap);
    va_end(ap);
}

void ini_error_text(struct ini *ini, int line, const char *text)
{
    add(ini, line, false, NULL, text);
}

static int problem_cmp(const void *a, const void *b)
{
    const struct problem *x = a, *y = b;
    if (x->pub.line != y->pub.line)
        return x->pub.line < y->pub.line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort(struct ini *ini)
{
    if (!ini->sorted && ini->nprobs > 1)
        qsort(ini->probs, (size_t)ini->nprobs, sizeof(*ini->probs), problem_cmp);
    ini->sorted = true;
}

int ini_count(struct ini *ini)
{
    return ini->nprobs;
}

const struct ini_problem *ini_problem(struct ini *ini, int i)
{
    sort(ini);
    return i >= 0 && i < ini->nprobs ? &ini->probs[i].pub : NULL;
}

int ini_fatal(const struct ini *ini, bool lenient)
{
    int n = 0;
    for (int i = 0; i < ini->nprobs; i++) {
        const struct ini_problem *p = &ini->probs[i].pub;
        n += !p->warning && (!lenient || !p->lenient);
    }
    return n == 0 && ini->oom ? 1 : n;
}

bool ini_oom(const struct ini *ini)
{
    return ini->oom;
}

int ini_print(struct ini *ini, FILE *out)
{
    sort(ini);
    for (int i = 0; i < ini->nprobs; i++)
        fprintf(out, "%s\n", ini->probs[i].pub.text);
    return ini->nprobs;
}

int ini_print_lang(struct ini *ini, FILE *out, enum gw_lang lang)
{
    char text[2048];

    sort(ini);
    for (int i = 0; i < ini->nprobs; i++) {
        ini_translate(ini->probs[i].pub.text, ini->path, lang, text, sizeof(text));
        fprintf(out, "%s\n", text);
    }
    return ini->nprobs;
}

static bool problem_at(const struct ini *ini, int line)
{
    for (int i = 0; i < ini->nprobs; i++)
        if (ini->probs[i].pub.line == line)
            return true;
    return false;
}

/* ---- key parsers ---- */

static int fits(const struct ini_key *k, const char *value, char *err, size_t errlen)
{
    if (strlen(value) >= k->size) {
        snprintf(err, errlen, "too long (at most %zu bytes)", k->size - 1);
        return -1;
    }
    return 0;
}

static int copy_text(const struct ini_key *k, const char *value, void *field, char *err,
                     size_t errlen)
{
    if (fits(k, value, err, errlen) == -1)
        return -1;
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static bool no_range(const struct ini_key *k)
{
    return k->min == 0 && k->max == 0;
}

int ini_int(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    long v;
    long min = no_range(k) ? INT_MIN : (long)k->min, max = no_range(k) ? INT_MAX : (long)k->max;
    if (parse_int(value, min, max, &v, err, errlen) == -1)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

int ini_double(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    double min = no_range(k) ? -DBL_MAX : k->min, max = no_range(k) ? DBL_MAX : k->max;
    return parse_double(value, min, max, (double *)field, err, errlen);
}

static int duration(const struct ini_key *k, const char *value, int64_t *ms, char *err,
                    size_t errlen)
{
    int64_t max = no_range(k) ? INT_MAX : (int64_t)k->max;
    return parse_duration_ms(value, (int64_t)k->min, max, ms, err, errlen);
}

int ini_duration_ms(const struct ini_key *k, const char *value, void *field, char *err,
                    size_t errlen)
{
    int64_t ms;
    if (duration(k, value, &ms, err, errlen) == -1)
        return -1;
    *(int *)field = (int)ms;
    return 0;
}

int ini_duration_s(const struct ini_key *k, const char *value, void *field, char *err,
                   size_t errlen)
{
    int64_t ms;
    if (duration(k, value, &ms, err, errlen) == -1)
        return -1;
    if (ms % 1000 != 0) {
        snprintf(err, errlen, "%.64s is not a whole number of seconds", value);
        return -1;
    }
    *(int *)field = (int)(ms / 1000);
    return 0;
}

int ini_bool(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    (void)k;
    return parse_bool(value, (bool *)field, err, errlen);
}

int ini_enum(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    int v;
    if (parse_enum(value, k->names, &v, err, errlen) == -1)
        return -1;
    if (k->size == sizeof(char))
        *(char *)field = (char)v;
    else
        *(int *)field = v;
    return 0;
}

int ini_size(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    uint64_t max = no_range(k) ? UINT64_MAX : (uint64_t)k->max;
    return parse_size(value, (uint64_t)k->min, max, (uint64_t *)field, err, errlen);
}

int ini_rate(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    return parse_rate(value, k->max > 0 ? (long)k->max : LONG_MAX, (struct parse_rate *)field, err,
                      errlen);
}

int ini_text(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    if (!tb_is_printable(value)) {
        snprintf(err, errlen, "not valid UTF-8 text");
        return -1;
    }
    return copy_text(k, value, field, err, errlen);
}

bool ini_is_slug(const char *s, size_t len)
{
    return topic_slug_valid(s, len); /* the one definition */
}

int ini_slug(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    if (!ini_is_slug(value, strlen(value))) {
        snprintf(err, errlen, "'%.64s' is not topic-safe (use only A-Z a-z 0-9 _ -)", value);
        return -1;
    }
    return copy_text(k, value, field, err, errlen);
}

/* Levels of slugs separated by '/' ("cn/shelter"): never '+', '#', blanks,
 * an empty level or non-ASCII. */
int ini_topic(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    const char *level = value;
    for (;;) {
        size_t len = strcspn(level, "/");
        if (!ini_is_slug(level, len)) {
            snprintf(err, errlen,
                     "'%.64s' is not topic-safe (levels of A-Z a-z 0-9 _ - separated by '/')",
                     value);
            return -1;
        }
        if (level[len] == '\0')
            break;
        level += len + 1;
    }
    return copy_text(k, value, field, err, errlen);
}

int ini_host(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    for (const char *q = value; *q; q++) {
        if (!isgraph((unsigned char)*q)) {
            snprintf(err, errlen, "'%.64s' is not a host name or address", value);
            return -1;
        }
    }
    return copy_text(k, value, field, err, errlen);
}

int ini_url(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    const char *rest = NULL;
    if (strncmp(value, "http://", 7) == 0)
        rest = value + 7;
    else if (strncmp(value, "https://", 8) == 0)
        rest = value + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/') {
        snprintf(err, errlen, "'%.64s' is not an http:// or https:// URL", value);
        return -1;
    }
    return ini_host(k, value, field, err, errlen);
}

void ini_apply_defaults(const struct ini_key *keys, int nkeys, void *base)
{
    char err[256];
    for (int i = 0; i < nkeys; i++) {
        const struct ini_key *k = &keys[i];
        /* A table default that its own parser rejects is a programming error. */
        if (k->dflt != NULL && k->parse(k, k->dflt, (char *)base + k->offset, err, sizeof(err)))
            abort();
    }
}

/* ---- sections ---- */

/* Required keys of the section just read: those without a condition (a
 * program flag or a tag), reported at the header. */
static void close_section(struct ini *ini)
{
    if (ini->cur >= 0) {
        const struct ini_section *sec = &ini->sections[ini->cur];
        for (int i = 0; i < sec->nkeys; i++) {
            const struct ini_key *k = &sec->keys[i];
            if ((k->flags & INI_REQUIRED) && k->flags < INI_USER(0) && k->tag == 0 &&
                ini->cur_ks->line[i] == 0)
                ini_error(ini, ini->cur_line, ini->cur_label, k->name, "missing (required)");
        }
    }
    ini->cur = CUR_SKIP;
}

/* "gateway, mqtt, bus NAME or sensor NAME" */
static void list_sections(const struct ini *ini, char *buf, size_t len)
{
    struct textbuf tb = {buf, len, 0};
    for (int i = 0; i < ini->nsections; i++)
        tb_put(&tb, "%s%s%s",
               i == 0                    ? ""
               : i == ini->nsections - 1 ? " or "
                                         : ", ",
               ini->sections[i].type, (ini->sections[i].flags & INI_NAMED) ? " NAME" : "");
    tb_finish(&tb);
}

/* The content the digest covers, one item at a time: "[type NAME]\n" for a
 * header and "key=value\n" for a key line, as the reader hands them over
 * (indentation, blanks around '=', comments and line ends already gone). */
static void digest_add(struct ini *ini, const char *a, const char *sep, const char *b,
                       const char *end)
{
    const char *part[4] = {a, sep, b, end};

    for (int i = 0; i < 4 && ini->digest != NULL; i++)
        if (EVP_DigestUpdate(ini->digest, part[i], strlen(part[i])) != 1) {
            EVP_MD_CTX_free(ini->digest); /* ini_digest() then fails */
            ini->digest = NULL;
        }
}

/* "[type name]" (text starts with '[').  Makes it the current section, or
 * CUR_SKIP when the header is refused. */
static void start_section(struct ini *ini, const char *text)
{
    const struct ini_section *sec = NULL;
    const char *close = strchr(text, ']');
    const char *inner = text + 1, *end, *name;
    char label[INI_LABEL_MAX], namebuf[256], err[256], list[256];
    size_t typelen, namelen;
    int line = ini->lineno, si = 0;

    close_section(ini);
    snprintf(ini->cur_label, sizeof(ini->cur_label), "%.40s", text + 1);
    if (close == NULL) {
        ini_error(ini, line, NULL, NULL, "section header without ']'");
        return;
    }
    while (inner < close && isspace((unsigned char)*inner))
        inner++;
    end = close;
    while (end > inner && isspace((unsigned char)end[-1]))
        end--;
    typelen = strcspn(inner, " \t]");
    name = inner + typelen;
    while (name < end && isspace((unsigned char)*name))
        name++;
    namelen = (size_t)(end - name);
    /* The label problems print: the type and the name, one blank between. */
    snprintf(label, sizeof(label), "%.*s%s%.*s", (int)(typelen < 60 ? typelen : 60), inner,
             namelen > 0 ? " " : "", (int)(namelen < 60 ? namelen : 60), name);
    memcpy(ini->cur_label, label, sizeof(label)); /* also for the keys of a refused header */
    digest_add(ini, "[", label, "]", "\n");
    const char *after = close + 1;
    after += strspn(after, " \t");
    if (*after != '\0' && *after != ';' && *after != '#') {
        ini_error(ini, line, label, NULL, "unexpected text after ']'");
        return;
    }
    for (si = 0; si < ini->nsections; si++)
        if (strlen(ini->sections[si].type) == typelen &&
            strncmp(ini->sections[si].type, inner, typelen) == 0 &&
            strcmp(ini->sections[si].type, INI_OTHER) != 0)
            break;
    if (si == ini->nsections) {
        for (si = 0; si < ini->nsections; si++)
            if (strcmp(ini->sections[si].type, INI_OTHER) == 0) {
                ini->headers[si]++; /* another program's section: skipped quietly */
                return;
            }
        list_sections(ini, list, sizeof(list));
        ini_error(ini, line, label, NULL, "unknown section (expected %s)", list);
        return;
    }
    sec = &ini->sections[si];
    ini->headers[si]++;
    bool named = (sec->flags & INI_NAMED) != 0;
    if (named && namelen == 0) {
        ini_error(ini, line, label, NULL, "needs a name: [%s NAME]", sec->type);
        return;
    }
    if (!named && namelen > 0) {
        ini_error(ini, line, label, NULL, "takes no name: [%s]", sec->type);
        return;
    }
    snprintf(namebuf, sizeof(namebuf), "%.*s", (int)namelen, name);
    if (named && sec->name_ok == NULL && (!ini_is_slug(name, namelen) || namelen >= INI_NAME_MAX)) {
        ini_error(ini, line, label, NULL,
                  "name '%.*s' is not topic-safe (use only A-Z a-z 0-9 _ -, at most %d bytes)",
                  (int)namelen, name, INI_NAME_MAX - 1);
        return;
    }
    if (named && sec->name_ok != NULL) {
        err[0] = '\0';
        if (namelen >= sizeof(namebuf) || sec->name_ok(namebuf, err, sizeof(err)) == -1) {
            ini_error(ini, line, label, NULL, "%s", err[0] ? err : "name too long");
            return;
        }
        if (namelen >= INI_NAME_MAX) {
            ini_error(ini, line, label, NULL, "name too long (at most %d bytes)", INI_NAME_MAX - 1);
            return;
        }
    }
    for (int i = 0; i < ini->nseen; i++) {
        if (ini->seen[i].section == si && strcmp(ini->seen[i].name, namebuf) == 0) {
            ini_error(ini, line, label, NULL, "duplicate section (first at line %d)",
                      ini->seen[i].line);
            return;
        }
    }
    struct seen *v = realloc(ini->seen, (size_t)(ini->nseen + 1) * sizeof(*v));
    if (v == NULL) {
        ini->oom = true;
        return;
    }
    ini->seen = v;
    v[ini->nseen].section = si;
    memcpy(v[ini->nseen].name, namebuf, namelen + 1);
    v[ini->nseen++].line = line;

    struct ini_keyset *ks = NULL;
    err[0] = '\0';
    void *base = sec->open(ini->user, namebuf, line, &ks, err, sizeof(err));
    if (base == NULL || ks == NULL) {
        if (err[0] != '\0')
            ini_error(ini, line, label, NULL, "%s", err);
        else
            ini->oom = true;
        return;
    }
    memset(ks, 0, sizeof(*ks));
    ini_apply_defaults(sec->keys, sec->nkeys, base);
    ini->cur = si;
    ini->cur_base = base;
    ini->cur_ks = ks;
    ini->cur_line = line;
}

static const char *cur_label(const struct ini *ini)
{
    return ini->cur == CUR_NONE ? NULL : ini->cur_label;
}

/* inih handler: one `key = value` of the line the reader handed out last. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct ini *ini = user;
    int line = ini->lineno;
    const char *label = cur_label(ini);
    char err[256];

    (void)section; /* ours, from the reader, is the one that knows lines */
    if (ini->handled)
        return 1; /* cannot happen with one line per read; never count a line twice */
    ini->handled = true;
    const char *sep = strpbrk(ini->text, "=:");
    if (value == NULL || sep == NULL || *sep != '=') {
        /* inih also splits at ':' (configparser); here only '=' is allowed. */
        ini_error(ini, line, label, NULL, "expected `key = value`");
        return 1;
    }
    if (key[0] == '\0') {
        ini_error(ini, line, label, NULL, "missing key before '='");
        return 1;
    }
    digest_add(ini, key, "=", value, "\n");
    if (ini->cur == CUR_SKIP)
        return 1;
    if (!tb_is_utf8(key, strlen(key))) {
        ini_error(ini, line, label, NULL, "key is not valid UTF-8 " NOT_UTF8);
        return 1;
    }
    if (ini->cur == CUR_NONE) {
        ini_error(ini, line, NULL, key, "key outside any section");
        return 1;
    }
    bool value_utf8 = tb_is_utf8(value, strlen(value));
    if (value_utf8 && !ini->line_utf8) /* what inih cut off: the comment after the value */
        ini_warning(ini, line, label, key, "comment is not valid UTF-8 " NOT_UTF8);

    const struct ini_section *sec = &ini->sections[ini->cur];
    struct ini_keyset *ks = ini->cur_ks;
    int i = 0;
    while (i < sec->nkeys && strcmp(sec->keys[i].name, key) != 0)
        i++;
    if (i == sec->nkeys) {
        err[0] = '\0';
        if (sec->other_key == NULL)
            ini_error(ini, line, label, key, "unknown key");
        else if (!value_utf8)
            ini_error(ini, line, label, key, "not valid UTF-8 text " NOT_UTF8);
        else if (sec->other_key(ini->user, ini->cur_base, key, value, line, err, sizeof(err)) == -1)
            ini_error(ini, line, label, key, "%s", err[0] ? err : "out of memory");
        return 1;
    }
    const struct ini_key *k = &sec->keys[i];
    if (ks->line[i] > 0) {
        ini_error(ini, line, label, key, "duplicate key (first at line %d)", ks->line[i]);
        return 1;
    }
    ks->line[i] = line;
    if (!value_utf8) {
        ks->bad[i] = true;
        ini_error(ini, line, label, key, "not valid UTF-8 text " NOT_UTF8);
    } else if (value[0] == '\0' && !(k->flags & INI_EMPTY_OK)) {
        ks->bad[i] = true;
        ini_error(ini, line, label, key, "empty value");
    } else if (k->parse(k, value, (char *)ini->cur_base + k->offset, err, sizeof(err)) == -1) {
        ks->bad[i] = true;
        ini_error(ini, line, label, key, "%s", err);
    }
    return 1;
}

/* A key line inih did not hand to the handler was malformed. */
static void finish_line(struct ini *ini)
{
    if (ini->lineno > 0 && ini->cls == LINE_KEY && !ini->handled)
        ini_error(ini, ini->lineno, cur_label(ini), NULL, "expected `key = value`");
    ini->cls = LINE_BLANK;
    ini->handled = false;
}

/* inih reader: exactly one physical line per call (so inih's line count is
 * ours), whitespace-stripped, and only key lines; blank, comment and header
 * lines are handled here and reach inih as empty lines.  The line stays in
 * ini->buf for the handler. */
static char *read_line(char *str, int num, void *stream)
{
    struct ini *ini = stream;
    char *text;
    size_t len;

    finish_line(ini);
    if (ini->eof)
        return NULL;
    errno = 0;
    ssize_t n = getline(&ini->buf, &ini->bufcap, ini->fp);
    if (n < 0) {
        if (ferror(ini->fp))
            ini_error(ini, 0, NULL, NULL, "read error after line %d: %s", ini->lineno,
                      strerror(errno ? errno : EIO));
        ini->eof = true;
        return NULL;
    }
    ini->lineno++;
    text = ini->buf;
    len = (size_t)n;
    if (ini->lineno == 1 && len >= 2 &&
        (memcmp(text, "\xff\xfe", 2) == 0 || memcmp(text, "\xfe\xff", 2) == 0)) {
        ini_error(ini, 1, NULL, NULL, "the file is UTF-16: it must be UTF-8");
        ini->eof = ini->unreadable = true; /* every line would be noise */
        return NULL;
    }
    if (memchr(text, '\0', len) != NULL) {
        ini_error(ini, ini->lineno, NULL, NULL, "NUL byte in line");
        goto empty;
    }
    if (ini->lineno == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* UTF-8 byte order mark written by some Windows editors */
        len -= 3;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    while (len > 0 && isspace((unsigned char)*text))
        text++, len--;
    bool utf8 = tb_is_utf8(text, len);
    ini->text = text;

    if (len == 0)
        goto empty;
    if (text[0] == ';' || text[0] == '#') {
        if (!utf8)
            ini_warning(ini, ini->lineno, NULL, NULL, "comment is not valid UTF-8 " NOT_UTF8);
        goto empty;
    }
    if (text[0] == '[') {
        if (!utf8) {
            close_section(ini);
            snprintf(ini->cur_label, sizeof(ini->cur_label), "%.40s", text + 1);
            tb_make_printable(ini->cur_label);
            ini_error(ini, ini->lineno, NULL, NULL, "section header is not valid UTF-8 " NOT_UTF8);
        } else {
            start_section(ini, text);
        }
        goto empty;
    }
    ini->cls = LINE_KEY;
    ini->line_utf8 = utf8;
    if (len + 2 > (size_t)num) {
        /* inih would cut the line and read the rest as another line. */
        ini_error(ini, ini->lineno, cur_label(ini), NULL, "line too long (at most %d bytes)",
                  num - 2);
        ini->handled = true;
        goto empty;
    }
    memcpy(str, text, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
empty:
    str[0] = '\n';
    str[1] = '\0';
    return str;
}

int ini_line_max(void)
{
    return INI_MAX_LINE - 2;
}

/* ---- reading ---- */

struct ini *ini_new(const char *path, const struct ini_section *sections, int nsections, void *user)
{
    struct ini *ini = calloc(1, sizeof(*ini));
    if (ini == NULL)
        return NULL;
    ini->path = strdup(path);
    ini->headers = calloc((size_t)nsections + 1, sizeof(*ini->headers));
    if (ini->path == NULL || ini->headers == NULL) {
        ini_free(ini);
        return NULL;
    }
    ini->sections = sections;
    ini->nsections = nsections;
    ini->user = user;
    ini->cur = CUR_NONE;
    ini->digest = EVP_MD_CTX_new();
    if (ini->digest != NULL && EVP_DigestInit_ex(ini->digest, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ini->digest);
        ini->digest = NULL;
    }
    return ini;
}

void ini_free(struct ini *ini)
{
    if (ini == NULL)
        return;
    for (int i = 0; i < ini->nprobs; i++)
        free((char *)ini->probs[i].pub.text);
    free(ini->probs);
    free(ini->seen);
    free(ini->buf);
    free(ini->headers);
    free(ini->path);
    EVP_MD_CTX_free(ini->digest);
    free(ini);
}

int ini_read(struct ini *ini)
{
    char list[256];

    if (ini->read_done) {
        errno = EINVAL;
        return -1;
    }
    ini->read_done = true;
    ini->fp = fopen(ini->path, "r");
    if (ini->fp == NULL) {
        int saved = errno;
        ini_error(ini, 0, NULL, NULL, "cannot open: %s", strerror(saved));
        errno = saved;
        return -1;
    }
    int rc = ini_parse_stream(read_line, ini, on_key, ini);
    if (rc == -2)
        ini->oom = true;
    else if (rc > 0 && !problem_at(ini, rc)) /* inih saw something we did not */
        ini_error(ini, rc, NULL, NULL, "syntax error");
    if (!ini->eof && !ini->oom)
        ini_error(ini, ini->lineno, NULL, NULL, "parsing stopped early");
    fclose(ini->fp);
    ini->fp = NULL;
    close_section(ini);
    for (int i = 0; i < ini->nsections && !ini->unreadable; i++) {
        const struct ini_section *sec = &ini->sections[i];
        if (!(sec->flags & INI_SECTION_REQ) || ini->headers[i] > 0)
            continue;
        if (sec->flags & INI_NAMED) {
            snprintf(list, sizeof(list), "at least one [%s NAME] section is required", sec->type);
            ini_error(ini, ini_last_line(ini), NULL, NULL, "no %s: %s", sec->type, list);
        } else {
            ini_error(ini, ini_last_line(ini), sec->type, NULL, "required section missing");
        }
    }
    if (ini->oom) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int ini_headers(const struct ini *ini, const char *type)
{
    const struct ini_section *sec = section_of(ini, type);
    return sec != NULL ? ini->headers[sec - ini->sections] : 0;
}

int ini_last_line(const struct ini *ini)
{
    return ini->lineno > 0 ? ini->lineno : 1;
}

const char *ini_path(const struct ini *ini)
{
    return ini->path;
}

int ini_digest(const struct ini *ini, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    int ok = copy != NULL && ini->digest != NULL && EVP_MD_CTX_copy_ex(copy, ini->digest) == 1 &&
             EVP_DigestFinal_ex(copy, md, &mdlen) == 1 && mdlen >= DIGEST_HEX / 2;

    EVP_MD_CTX_free(copy);
    if (!ok || len < DIGEST_HEX + 1) {
        if (len > 0)
            buf[0] = '\0';
        errno = ok ? ENOSPC : ENOMEM;
        return -1;
    }
    for (int i = 0; i < DIGEST_HEX / 2; i++) {
        buf[2 * i] = hex[md[i] >> 4];
        buf[2 * i + 1] = hex[md[i] & 15];
    }
    buf[DIGEST_HEX] = '\0';
    return 0;
}
