/*
 * fuzz_notify: shelter-notify's parsers of outside input besides the
 * gateways' payloads (lib/gwmsg has its own target): an ack link's token as
 * a phone sends it back (token_check), a robot's answer (channel_classify,
 * every channel type and status), and the texts built from a payload's
 * strings (ntext: a notice in each format, and a summary).
 *
 * Input: the token up to the first NUL; the rest is a robot's answer and,
 * split at further NULs, the strings of a notice (site name, location,
 * detail, what).
 *
 * Checked: a token the key accepts (or accepts but finds expired) holds a
 * claim without line feeds, and making a token of that claim gives back the
 * same bytes (one encoding per claim: nothing else is accepted); an
 * answer's reason is printable and NUL-terminated; a notice is well-formed
 * UTF-8, WeCom's within 4096 bytes, DingTalk's within its limit, and a
 * payload's markup never reaches a markdown text as markup (a tag, a link).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fuzz.h"
#include "ntext.h"
#include "textbuf.h"
#include "token.h"

static const char key[] = "fuzz-key-0123456789abcdef";

/* UTF-8 (shortest forms) where line feeds are allowed. */
static bool utf8_lines(const char *s)
{
    char *copy = strdup(s);
    bool ok;
    FUZZ_ASSERT(copy != NULL);
    for (char *p = copy; *p; p++)
        if (*p == '\n')
            *p = ' ';
    ok = tb_is_printable(copy);
    free(copy);
    return ok;
}

static void check_token(const char *t)
{
    struct token_claim c;
    char again[TOKEN_MAX];
    int rc = token_check(key, strlen(key), t, 1784541784000LL, &c);

    if (rc == -1)
        return;
    FUZZ_ASSERT(rc == 0 || rc == -2);
    FUZZ_ASSERT(strchr(c.topic, '\n') == NULL && strchr(c.route, '\n') == NULL);
    FUZZ_ASSERT(token_make(key, strlen(key), &c, again, sizeof(again)) > 0);
    FUZZ_ASSERT(strcmp(again, t) == 0);
}

static void check_answer(const char *body, size_t len)
{
    static const long statuses[] = {0, 200, 204, 400, 429, 503};
    char why[300];
    for (int t = 0; t < 3; t++)
        for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
            memset(why, 'x', sizeof(why));
            channel_classify((enum channel_type)t, statuses[s], body, len, why, sizeof(why));
            FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL);
            FUZZ_ASSERT(tb_is_printable(why));
        }
}

static void check_texts(const char *fields[4])
{
    static char buf[NTEXT_DINGTALK_MAX + 1];
    char title[NTEXT_TITLE_MAX];
    struct ntext_notice n = {.kind = NTEXT_ALARM,
                             .event = "raised",
                             .severity = "critical",
                             .site_name = fields[0],
                             .location = fields[1],
                             .detail = fields[2],
                             .what = fields[3],
                             .gateway = "gw-1",
                             .water = true,
                             .ts_ms = 1784541784000LL,
                             .ack_link = "https://c.example.cn/ack?t=abc"};
    struct ntext_notice items[3] = {n, n, n};
    int fitted;

    for (int lang = 0; lang < 2; lang++) {
        int len =
            ntext_notice(&n, NTEXT_WECOM, (enum gw_lang)lang, 28800, NULL, 0, buf, NTEXT_WECOM_MAX);
        FUZZ_ASSERT(len >= 0 && len < NTEXT_WECOM_MAX && utf8_lines(buf));
        /* The only markup is ours: the font tags and the ack link. */
        for (const char *p = strchr(buf, '<'); p != NULL; p = strchr(p + 1, '<'))
            FUZZ_ASSERT(strncmp(p, "<font color=\"", 13) == 0 || strncmp(p, "</font>", 7) == 0);
        /* One link: the ack link ("[CRITICAL] ..." is a bracket, not a link). */
        int links = 0;
        for (const char *p = strstr(buf, "]("); p != NULL; p = strstr(p + 1, "]("))
            links++;
        FUZZ_ASSERT(links == 1 && strstr(buf, "](https://c.example.cn/ack?t=abc)") != NULL);
        len = ntext_notice(&n, NTEXT_DINGTALK, (enum gw_lang)lang, 28800, title, sizeof(title), buf,
                           NTEXT_DINGTALK_MAX);
        FUZZ_ASSERT(len >= 0 && len < NTEXT_DINGTALK_MAX && utf8_lines(buf) &&
                    tb_is_printable(title));
        len = ntext_summary(NTEXT_SUM_FLOOD, items, 3, 2, NTEXT_WECOM, (enum gw_lang)lang, 28800,
                            NULL, 0, buf, NTEXT_WECOM_MAX, &fitted);
        FUZZ_ASSERT(len >= 0 && len < NTEXT_WECOM_MAX && fitted >= 1 && fitted <= 3 &&
                    utf8_lines(buf));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1), *p;
    const char *fields[4] = {"", "", "", ""};
    size_t off;

    FUZZ_ASSERT(in != NULL);
    memcpy(in, data, size);
    in[size] = '\0';
    check_token(in);
    off = strlen(in) < size ? strlen(in) + 1 : size;
    check_answer(in + off, size - off);
    /* The notice's strings, made printable as lib/gwmsg hands them over. */
    p = in + off;
    for (int i = 0; i < 4 && p <= in + size; i++) {
        fields[i] = tb_make_printable(p);
        p += strlen(p) + 1;
    }
    check_texts(fields);
    free(in);
    return 0;
}
