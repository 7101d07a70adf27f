/*
 * topic: see topic.h.  A topic is judged from its end: the gateway's own
 * levels (status, alarm/S/A, ...) come last and have fixed shapes, while the
 * prefix before the site may have any number of levels.  So the base is what
 * precedes the recognised tail, and the site is the base's last six levels.
 * topic_parse() copies the topic twice into the struct (the base whole, and
 * a copy cut at every '/'), so every part is a plain C string with no
 * allocation.
 */
#include "topic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const topic_site_keys[TOPIC_LEVELS] = {
    [TOPIC_CITY] = "city",           [TOPIC_DISTRICT] = "district", [TOPIC_STREET] = "street",
    [TOPIC_COMMUNITY] = "community", [TOPIC_PROPERTY] = "property", [TOPIC_ID] = "shelter",
};

/* The gateway's own topics: the tail's first word, how many levels it has
 * (the word included), in the order they are tried. */
static const struct {
    enum topic_type type;
    const char *word;
    int nlevels;
} tails[] = {
    {TOPIC_ALARM, "alarm", 3},   {TOPIC_READING, "reading", 2},       {TOPIC_CMD, "cmd", 2},
    {TOPIC_STATUS, "status", 1}, {TOPIC_CMD_RESULT, "cmd_result", 1}, {TOPIC_OUTPUT, "output", 2},
};

/* Pointers to the starts of the last `want` levels of topic (fewer if it has
 * fewer); returns how many levels topic has, counting at most want + 1. */
static int last_levels(const char *topic, const char **lv, int want)
{
    const char *p = topic + strlen(topic);
    int n = 0;

    while (n < want + 1) {
        const char *start = p;
        while (start > topic && start[-1] != '/')
            start--;
        if (n < want)
            lv[want - 1 - n] = start;
        n++;
        if (start == topic)
            break;
        p = start - 1;
    }
    return n;
}

/* level equals word: the level runs to the next '/' or the end. */
static bool level_is(const char *level, const char *word)
{
    size_t n = strlen(word);
    return strncmp(level, word, n) == 0 && (level[n] == '/' || level[n] == '\0');
}

static bool level_nonempty(const char *level)
{
    return *level != '\0' && *level != '/';
}

/* The type of topic and where its tail begins (*tail: the tail's first level). */
static enum topic_type classify(const char *topic, const char **tail)
{
    const char *lv[3];
    int n;

    if (topic == NULL || *topic == '\0' || strnlen(topic, TOPIC_SIZE) >= TOPIC_SIZE)
        return TOPIC_OTHER;
    n = last_levels(topic, lv, 3);
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        int k = tails[i].nlevels, first = 3 - k;
        bool names = true;

        /* The base needs a level of its own before the tail. */
        if (n < k + 1 || !level_is(lv[first], tails[i].word))
            continue;
        for (int j = first + 1; j < 3; j++)
            names = names && level_nonempty(lv[j]);
        if (!names)
            continue;
        /* The base is everything before "/<tail>": neither empty nor ending in '/'. */
        size_t blen = (size_t)(lv[first] - topic) - 1;
        if (blen == 0 || topic[blen - 1] == '/')
            return TOPIC_OTHER;
        *tail = lv[first];
        return tails[i].type;
    }
    return TOPIC_OTHER;
}

enum topic_type topic_type_of(const char *topic)
{
    const char *tail;
    return classify(topic, &tail);
}

/* Cut the base (in store, at the same offsets as in topic) into the site:
 * at least a prefix and six levels, none empty. */
static void split_site(struct topic_parts *p, char *store, size_t blen)
{
    const char *start[TOPIC_LEVELS];

    if (p->base[0] == '/' || strstr(p->base, "//") != NULL)
        return; /* the end was checked by classify() */
    if (last_levels(p->base, start, TOPIC_LEVELS) <= TOPIC_LEVELS)
        return; /* no prefix before the six */
    for (int i = 0; i < TOPIC_LEVELS; i++) {
        char *s = store + (start[i] - p->base);
        p->level[i] = s;
        s[-1] = '\0'; /* ends the level before, and the prefix */
    }
    store[blen] = '\0';
    p->prefix = store;
    p->site = true;
}

enum topic_type topic_parse(const char *topic, struct topic_parts *p)
{
    const char *tail = NULL;
    char *store = p->store_;

    p->type = classify(topic, &tail);
    p->base[0] = '\0';
    p->site = false;
    p->prefix = "";
    for (int i = 0; i < TOPIC_LEVELS; i++)
        p->level[i] = "";
    p->name[0] = p->name[1] = "";
    if (p->type == TOPIC_OTHER)
        return TOPIC_OTHER;

    size_t len = strlen(topic), blen = (size_t)(tail - topic) - 1;
    memcpy(p->base, topic, blen);
    p->base[blen] = '\0';
    memcpy(store, topic, len + 1);
    /* The names after the tail's word: "alarm/S/A" gives S and A. */
    char *s = store + (tail - topic);
    for (int i = 0; i < 2 && (s = strchr(s, '/')) != NULL; i++) {
        *s++ = '\0';
        p->name[i] = s;
    }
    split_site(p, store, blen);
    return p->type;
}

int topic_join(char *buf, size_t len, const char *first, ...)
{
    va_list ap;
    size_t n = 0;
    const char *level;
    bool later = false; /* a level before this one: a '/' first */

    if (first == NULL) {
        if (len > 0)
            buf[0] = '\0';
        errno = EINVAL;
        return -1;
    }
    va_start(ap, first);
    for (level = first; level != NULL; level = va_arg(ap, const char *)) {
        size_t l = strlen(level), sep = later ? 1 : 0;
        if (n + sep + l >= len) {
            va_end(ap);
            if (len > 0)
                buf[0] = '\0';
            errno = ENOSPC;
            return -1;
        }
        if (sep)
            buf[n++] = '/';
        memcpy(buf + n, level, l);
        n += l;
        later = true;
    }
    va_end(ap);
    buf[n] = '\0';
    return (int)n;
}

int topic_base(char *buf, size_t len, const char *prefix, const char *const level[TOPIC_LEVELS])
{
    return topic_join(buf, len, prefix, level[TOPIC_CITY], level[TOPIC_DISTRICT],
                      level[TOPIC_STREET], level[TOPIC_COMMUNITY], level[TOPIC_PROPERTY],
                      level[TOPIC_ID], (const char *)NULL);
}

bool topic_slug_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool topic_name_valid(const char *topic)
{
    return topic != NULL && *topic != '\0' && strpbrk(topic, "+#") == NULL &&
           strnlen(topic, 65535) < 65535;
}

bool topic_filter_shared(const char *filter)
{
    return filter != NULL && strncmp(filter, "$share/", 7) == 0;
}

/* '+' fills a whole level, '#' only the last one. */
static bool plain_filter_valid(const char *f)
{
    if (*f == '\0' || strnlen(f, 65535) >= 65535)
        return false;
    for (const char *p = f; *p; p++) {
        bool level_start = p == f || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end))
            return false;
        if (*p == '#' && !(level_start && p[1] == '\0'))
            return false;
    }
    return true;
}

bool topic_filter_valid(const char *filter)
{
    if (filter == NULL)
        return false;
    if (topic_filter_shared(filter)) {
        const char *group = filter + 7;
        size_t glen = strcspn(group, "/");
        if (glen == 0 || group[glen] != '/' || memchr(group, '+', glen) != NULL ||
            memchr(group, '#', glen) != NULL)
            return false;
        return plain_filter_valid(group + glen + 1);
    }
    return plain_filter_valid(filter);
}

/* ---- subtrees ---- */

int topic_subtree_parse(const char *s, struct topic_subtree *st, char *err, size_t errlen)
{
    const char *level = s;

    memset(st, 0, sizeof(*st));
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "empty: 1 to 6 levels under the prefix, city first");
        return -1;
    }
    for (;;) {
        size_t len = strcspn(level, "/");
        if (st->nlevels == TOPIC_LEVELS) {
            snprintf(err, errlen,
                     "'%.128s': more than 6 levels (city/district/street/community/property/id)",
                     s);
            memset(st, 0, sizeof(*st));
            return -1;
        }
        if (!topic_slug_valid(level, len) || len >= TOPIC_LEVEL_SIZE) {
            snprintf(err, errlen,
                     "'%.128s': level %d is not a slug (1 to %d bytes of A-Z a-z 0-9 _ -)", s,
                     st->nlevels + 1, TOPIC_LEVEL_SIZE - 1);
            memset(st, 0, sizeof(*st));
            return -1;
        }
        memcpy(st->level[st->nlevels], level, len);
        st->level[st->nlevels++][len] = '\0';
        if (level[len] == '\0')
            return 0;
        level += len + 1;
    }
}

bool topic_subtree_contains(const struct topic_subtree *st, const struct topic_parts *p)
{
    if (!p->site || st->nlevels < 1 || st->nlevels > TOPIC_LEVELS)
        return false;
    for (int i = 0; i < st->nlevels; i++)
        if (strcmp(st->level[i], p->level[i]) != 0)
            return false;
    return true;
}

int topic_subtree_filter(char *buf, size_t len, const char *prefix, const struct topic_subtree *st)
{
    int n = topic_join(buf, len, prefix, (const char *)NULL);

    for (int i = 0; n >= 0 && i < st->nlevels; i++) {
        int m = topic_join(buf + n, len - (size_t)n, "", st->level[i], (const char *)NULL);
        n = m < 0 ? -1 : n + m;
    }
    if (n >= 0) {
        int m = topic_join(buf + n, len - (size_t)n, "", "#", (const char *)NULL);
        n = m < 0 ? -1 : n + m;
    }
    if (n < 0 && len > 0)
        buf[0] = '\0';
    return n;
}
