/*
 * filecheck: see filecheck.h.
 *
 * Each check stats or reads the file the way its user will: the password
 * and token files through mqtt_password_check() and influx_token_check()
 * (one set of rules each, shared with the clients), certificates and keys
 * through OpenSSL as Paho loads them (PEM).  A problem is one line that
 * names the configuration line, the file and the reason, and, when the file
 * cannot serve, what does not work until it is fixed.
 */
#include "filecheck.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cfg.h"
#include "influx.h"
#include "mqtt.h"

#define GROUPS_MAX 64
#define UNIT_STATE_DIR "/var/lib/shelter-gateway" /* the systemd unit's StateDirectory= */
#define KEY_SCAN_BYTES 65536 /* enough of a key file to see whether it is encrypted */

/* The service user, as far as the mode bits tell. */
struct svc {
    bool on;
    const char *name;
    uid_t uid;
    gid_t groups[GROUPS_MAX];
    int ngroups;
};

struct run {
    const struct cfg *c;
    struct svc svc;
    struct filecheck_problem *v;
    int n, cap;
    bool oom;
};

/* A file named by one key of the configuration (section NULL: the
 * configuration file itself). */
struct ref {
    enum filecheck_scope scope;
    const char *section, *key;
    int line;
    const char *path;
};

const char *filecheck_consequence(enum filecheck_scope scope)
{
    switch (scope) {
    case FILECHECK_MQTT:
        return "no MQTT uplink until it is fixed (alarm gateway/uplink)";
    case FILECHECK_INFLUX:
        return "nothing goes to InfluxDB until it is fixed (alarm gateway/influx)";
    case FILECHECK_STATE:
        return "alarms are kept in memory only, not durable (alarm gateway/disk)";
    case FILECHECK_BUS:
        return "the bus retries until it can open it";
    default:
        return NULL;
    }
}

static void add(struct run *r, const struct ref *f, enum filecheck_level level, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static void add(struct run *r, const struct ref *f, enum filecheck_level level, const char *fmt,
                ...)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 8;
        struct filecheck_problem *v = realloc(r->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    struct filecheck_problem *p = &r->v[r->n++];
    char *t = p->text;
    size_t size = sizeof(p->text), used;

    va_list ap;

    p->scope = f->scope;
    p->level = level;
    if (f->section == NULL) /* the configuration file itself: its path follows */
        t[0] = '\0';
    else if (f->line > 0)
        snprintf(t, size, "%s:%d: [%s] %s: ", r->c->path, f->line, f->section, f->key);
    else
        snprintf(t, size, "%s: [%s] %s: ", r->c->path, f->section, f->key);
    used = strlen(t);
    va_start(ap, fmt);
    vsnprintf(t + used, size - used, fmt, ap);
    va_end(ap);
}

/* ---- the service user ---- */

static void svc_init(struct svc *u, const char *name)
{
    struct passwd *pw = name != NULL ? getpwnam(name) : NULL;

    memset(u, 0, sizeof(*u));
    if (pw == NULL || pw->pw_uid == 0 || pw->pw_uid == geteuid())
        return; /* unknown, or root, or us: our own checks tell */
    u->on = true;
    u->name = name;
    u->uid = pw->pw_uid;
    u->ngroups = GROUPS_MAX;
    if (getgrouplist(name, pw->pw_gid, u->groups, &u->ngroups) == -1)
        u->ngroups = GROUPS_MAX; /* more than we keep: the first ones */
}

static bool svc_may(const struct svc *u, const struct stat *st, int want)
{
    int bits = st->st_mode & 7;

    if (st->st_uid == u->uid) {
        bits = (st->st_mode >> 6) & 7;
    } else {
        for (int i = 0; i < u->ngroups; i++)
            if (u->groups[i] == st->st_gid)
                bits = (st->st_mode >> 3) & 7;
    }
    return (bits & want) == want;
}

/* Add advice when the service user cannot reach f with want (4 read, 2
 * write, 1 search): every directory on the way needs search permission. */
static void svc_check(struct run *r, const struct ref *f, int want, const char *what)
{
    char full[PATH_MAX];
    struct stat st;

    if (!r->svc.on || realpath(f->path, full) == NULL)
        return; /* not asked, or the file's own checks report it */
    size_t n = strlen(full);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && full[i] != '/')
            continue;
        char saved = full[i];
        bool last = i == n;
        full[i] = '\0';
        if (stat(full, &st) == 0 && !svc_may(&r->svc, &st, last ? want : 1)) {
            add(r, f, FILECHECK_ADVICE,
                "%s: the service user %s cannot %s it: %s %s is owner %u, group %u, mode %04o",
                f->path, r->svc.name, what, last ? "the file" : "directory", full,
                (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777));
            return;
        }
        full[i] = saved;
    }
    /* The root directory itself. */
    if (stat("/", &st) == 0 && !svc_may(&r->svc, &st, 1))
        add(r, f, FILECHECK_ADVICE, "%s: the service user %s cannot search /", f->path,
            r->svc.name);
}

/* ---- generic file checks ---- */

/* 0 when f is a file of the type wanted, else one problem and -1. */
static int stat_as(struct run *r, const struct ref *f, mode_t type, struct stat *st)
{
    static const struct {
        mode_t type;
        const char *name;
    } names[] = {
        {S_IFREG, "a regular file"}, {S_IFDIR, "a directory"}, {S_IFCHR, "a character device"}};
    const char *name = "of the right type";

    if (stat(f->path, st) == -1) {
        add(r, f, FILECHECK_UNUSABLE, "%s: %s", f->path, strerror(errno));
        return -1;
    }
    if ((st->st_mode & S_IFMT) == type)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].type == type)
            name = names[i].name;
    add(r, f, FILECHECK_UNUSABLE, "%s: not %s", f->path, name);
    return -1;
}

/* A secret is nobody else's: not readable or writable by other users. */
static void secret_mode(struct run *r, const struct ref *f, const struct stat *st)
{
    if (st->st_mode & (S_IROTH | S_IWOTH))
        add(r, f, FILECHECK_ADVICE,
            "%s: a secret that every user of this machine can %s (mode %04o): make it "
            "root:shelter-gateway 0640",
            f->path, st->st_mode & S_IROTH ? "read" : "write", (unsigned)(st->st_mode & 07777));
}

/* A regular file we can read: stat, type, secrecy, the service user. */
static int readable_file(struct run *r, const struct ref *f, bool secret)
{
    struct stat st;

    if (stat_as(r, f, S_IFREG, &st) == -1)
        return -1;
    if (access(f->path, R_OK) == -1) {
        add(r, f, FILECHECK_UNUSABLE, "%s: %s", f->path, strerror(errno));
        return -1;
    }
    if (secret)
        secret_mode(r, f, &st);
    svc_check(r, f, 4, "read");
    return 0;
}

/* ---- certificates and keys (OpenSSL, PEM as Paho loads them) ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* never prompt: an encrypted key is a problem to report */
}

static void asn1_date(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, len, "?");
}

/* Advice when cert is outside its validity now (the clock may be wrong at
 * boot, so this does not make the file unusable). */
static void cert_dates(struct run *r, const struct ref *f, X509 *cert)
{
    char subject[256], date[32];

    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        asn1_date(X509_get0_notAfter(cert), date, sizeof(date));
        add(r, f, FILECHECK_ADVICE, "%s: certificate %s expired on %s", f->path, subject, date);
    } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        asn1_date(X509_get0_notBefore(cert), date, sizeof(date));
        add(r, f, FILECHECK_ADVICE,
            "%s: certificate %s is not valid before %s (is the clock right?)", f->path, subject,
            date);
    }
}

/* The PEM certificates of f: the first one returned (caller frees), NULL
 * with one problem when there is none. */
static X509 *read_certs(struct run *r, const struct ref *f)
{
    FILE *fp = fopen(f->path, "re");
    X509 *first = NULL, *x;

    if (fp == NULL) {
        add(r, f, FILECHECK_UNUSABLE, "%s: %s", f->path, strerror(errno));
        return NULL;
    }
    while ((x = PEM_read_X509(fp, NULL, no_passphrase, NULL)) != NULL) {
        cert_dates(r, f, x);
        if (first == NULL)
            first = x;
        else
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(fp);
    if (first == NULL)
        add(r, f, FILECHECK_UNUSABLE, "%s: no PEM certificate in it", f->path);
    return first;
}

static bool file_mentions(const char *path, const char *word)
{
    FILE *fp = fopen(path, "re");
    char *buf = malloc(KEY_SCAN_BYTES + 1);
    bool found = false;

    if (fp != NULL && buf != NULL) {
        size_t n = fread(buf, 1, KEY_SCAN_BYTES, fp);
        buf[n] = '\0';
        found = strstr(buf, word) != NULL;
    }
    if (fp != NULL)
        fclose(fp);
    free(buf);
    return found;
}

static EVP_PKEY *read_key(struct run *r, const struct ref *f)
{
    FILE *fp = fopen(f->path, "re");
    EVP_PKEY *key;

    if (fp == NULL) {
        add(r, f, FILECHECK_UNUSABLE, "%s: %s", f->path, strerror(errno));
        return NULL;
    }
    key = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
    ERR_clear_error();
    fclose(fp);
    if (key == NULL)
        add(r, f, FILECHECK_UNUSABLE, "%s: %s", f->path,
            file_mentions(f->path, "ENCRYPTED")
                ? "the private key is encrypted (the gateway has no passphrase for it)"
                : "no PEM private key in it");
    return key;
}

/* ---- the sections ---- */

static void check_state_dir(struct run *r)
{
    const struct cfg *c = r->c;
    struct ref f = {FILECHECK_STATE, "gateway", "state_dir", c->lines.state_dir, c->state_dir};
    struct stat st;

    if (stat(f.path, &st) == -1 && errno == ENOENT && strcmp(f.path, UNIT_STATE_DIR) == 0) {
        add(r, &f, FILECHECK_UNUSABLE,
            "%s: does not exist yet (the systemd unit creates it when the service starts)", f.path);
        return;
    }
    if (stat_as(r, &f, S_IFDIR, &st) == -1)
        return;
    if (access(f.path, W_OK | X_OK) == -1) {
        add(r, &f, FILECHECK_UNUSABLE, "%s: cannot write in it: %s", f.path, strerror(errno));
        return;
    }
    svc_check(r, &f, 7, "write in");
}

static void check_buses(struct run *r)
{
    const struct cfg *c = r->c;
    char section[CFG_NAME_MAX + 8];
    struct stat st;

    for (int b = 0; b < c->nbuses; b++) {
        const struct cfg_bus *cb = &c->buses[b];
        if (cb->type != BUS_RTU)
            continue;
        snprintf(section, sizeof(section), "bus %s", cb->name);
        struct ref f = {FILECHECK_BUS, section, "device", cb->device_line, cb->device};
        if (stat_as(r, &f, S_IFCHR, &st) == -1)
            continue;
        if (access(f.path, R_OK | W_OK) == -1) {
            add(r, &f, FILECHECK_UNUSABLE, "%s: %s", f.path, strerror(errno));
            continue;
        }
        svc_check(r, &f, 6, "open");
    }
}

static void check_mqtt(struct run *r)
{
    const struct cfg *c = r->c;
    char why[1024];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;

    if (c->mqtt.nuri == 0 || c->mqtt.error[0] != '\0')
        return; /* no MQTT, or its section is unusable already (a warning of its own) */
    struct ref pw = {FILECHECK_MQTT, "mqtt", "password_file", c->lines.password_file,
                     c->mqtt.password_file};
    struct ref ca = {FILECHECK_MQTT, "mqtt", "ca_file", c->lines.ca_file, c->mqtt.ca_file};
    struct ref crt = {FILECHECK_MQTT, "mqtt", "cert_file", c->lines.cert_file, c->mqtt.cert_file};
    struct ref k = {FILECHECK_MQTT, "mqtt", "key_file", c->lines.key_file, c->mqtt.key_file};

    if (pw.path[0] != '\0' && readable_file(r, &pw, true) == 0 &&
        mqtt_password_check(pw.path, why, sizeof(why)) == -1)
        add(r, &pw, FILECHECK_UNUSABLE, "%s", why);
    if (ca.path[0] != '\0' && readable_file(r, &ca, false) == 0)
        X509_free(read_certs(r, &ca));
    if (crt.path[0] != '\0' && readable_file(r, &crt, false) == 0)
        cert = read_certs(r, &crt);
    if (k.path[0] != '\0' && readable_file(r, &k, true) == 0)
        key = read_key(r, &k);
    if (cert != NULL && key != NULL && X509_check_private_key(cert, key) != 1)
        add(r, &k, FILECHECK_UNUSABLE, "%s: the key does not belong to cert_file %s", k.path,
            crt.path);
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void check_influx(struct run *r)
{
    const struct cfg *c = r->c;
    char why[1024];
    struct ref tok = {FILECHECK_INFLUX, "influx", "token_file", c->lines.token_file,
                      c->influx.token_file};

    if (!c->influx.enabled || c->influx.error[0] != '\0' || tok.path[0] == '\0')
        return;
    if (readable_file(r, &tok, true) == 0 && influx_token_check(tok.path, why, sizeof(why)) == -1)
        add(r, &tok, FILECHECK_UNUSABLE, "%s", why);
}

static void check_config(struct run *r)
{
    struct ref f = {FILECHECK_CONFIG, NULL, NULL, 0, r->c->path};
    svc_check(r, &f, 4, "read");
}

int filecheck_run(const struct cfg *c, unsigned scopes, const char *service_user,
                  struct filecheck_problem **out)
{
    struct run r = {.c = c};

    svc_init(&r.svc, service_user);
    if (scopes & FILECHECK_STATE)
        check_state_dir(&r);
    if (scopes & FILECHECK_BUS)
        check_buses(&r);
    if (scopes & FILECHECK_MQTT)
        check_mqtt(&r);
    if (scopes & FILECHECK_INFLUX)
        check_influx(&r);
    if (scopes & FILECHECK_CONFIG)
        check_config(&r);
    if (r.oom) {
        free(r.v);
        *out = NULL;
        errno = ENOMEM;
        return -1;
    }
    *out = r.v;
    return r.n;
}

const struct filecheck_problem *filecheck_first_unusable(const struct filecheck_problem *p, int n,
                                                         unsigned scopes)
{
    for (int i = 0; i < n; i++)
        if (p[i].level == FILECHECK_UNUSABLE && (p[i].scope & scopes))
            return &p[i];
    return NULL;
}

bool filecheck_unusable(const struct cfg *c, unsigned scope, char *why, size_t len)
{
    struct filecheck_problem *fp = NULL;
    int n = filecheck_run(c, scope, NULL, &fp);
    const struct filecheck_problem *bad = n > 0 ? filecheck_first_unusable(fp, n, scope) : NULL;

    if (bad != NULL)
        snprintf(why, len, "%.*s", (int)len - 1, bad->text);
    free(fp);
    return bad != NULL;
}
