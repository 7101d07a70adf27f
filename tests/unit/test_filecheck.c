/*
 * Unit tests of filecheck.c (is every file a configuration names usable?)
 * and of the lenient configuration load that goes with it: [mqtt] and
 * [influx] problems are warnings, others stay errors.  Real files in a
 * mkdtemp() directory; certificates and keys made with OpenSSL here.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cfg.h"
#include "check_run.h"
#include "filecheck.h"

#define MODELS "sensors/models"

static char tmpdir[64];
static char path[256];
static char out[8192]; /* what cfg_load_flags printed */
static struct filecheck_problem *probs;
static int nprobs;

/* Lines 1-14; text appended by a test starts at line 15. */
static const char BASE[] =
    "[gateway]\n"            /* 1 */
    "id = sh-0001\n"         /* 2 */
    "city = zhengzhou\n"     /* 3 */
    "district = jinshui\n"   /* 4 */
    "street = fengchan\n"    /* 5 */
    "community = dongfeng\n" /* 6 */
    "property = wanke\n"     /* 7 */
    "state_dir = %s/state\n" /* 8 */
    "[bus rs485-1]\n"        /* 9 */
    "type = rtu\n"           /* 10 */
    "device = /dev/null\n"   /* 11: a character device we can open */
    "[sensor leak-1]\n"      /* 12 */
    "bus = rs485-1\nunit = 1\nkind = water_leak\nmodel = di8\ninput = 0\n"; /* 13-17 */
#define EXTRA_LINE 18

static const char *tmp(const char *name)
{
    static char p[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
    return p[i];
}

static void write_text(const char *file, const char *text, mode_t mode)
{
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(file, mode), 0);
}

/* state_dir: a fresh directory, or none at all. */
static void state_dir(int exists)
{
    remove(tmp("state"));
    if (exists)
        ck_assert_int_eq(mkdir(tmp("state"), 0700), 0);
}

/* The base shelter plus extra; lenient or strict. */
static struct cfg *load(const char *extra, unsigned flags)
{
    char text[4096], *buf = NULL;
    size_t size = 0;
    int nerr;

    snprintf(text, sizeof(text), BASE, tmpdir);
    strncat(text, extra, sizeof(text) - strlen(text) - 1);
    write_text(path, text, 0644);
    FILE *ms = open_memstream(&buf, &size);
    struct cfg *c = cfg_load_flags(path, MODELS, flags, ms, &nerr);
    fclose(ms);
    snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return c;
}

static struct cfg *ok(const char *extra)
{
    struct cfg *c = load(extra, CFG_UPLINK_LENIENT);
    ck_assert_msg(c != NULL, "load failed: %s", out);
    return c;
}

static void run(const struct cfg *c, unsigned scopes, const char *user)
{
    free(probs);
    nprobs = filecheck_run(c, scopes, user, &probs);
    ck_assert_int_ge(nprobs, 0);
}

/* The problem of the level and scope whose text contains every needle. */
static const struct filecheck_problem *find(enum filecheck_level level, unsigned scope,
                                            const char *needle1, const char *needle2)
{
    for (int i = 0; i < nprobs; i++)
        if (probs[i].level == level && (probs[i].scope & scope) &&
            strstr(probs[i].text, needle1) != NULL &&
            (needle2 == NULL || strstr(probs[i].text, needle2) != NULL))
            return &probs[i];
    return NULL;
}

static void dump(void)
{
    for (int i = 0; i < nprobs; i++)
        fprintf(stderr, "  [%d/%d] %s\n", (int)probs[i].level, (int)probs[i].scope, probs[i].text);
}

#define EXPECT(level, scope, n1, n2)                                                               \
    do {                                                                                           \
        if (find(level, scope, n1, n2) == NULL) {                                                  \
            dump();                                                                                \
            ck_abort_msg("no problem with \"%s\" / \"%s\"", n1, n2 ? n2 : "");                     \
        }                                                                                          \
    } while (0)

/* ---- certificates and keys ---- */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

/* A self-signed certificate for key, valid from now+from_s to now+to_s. */
static void write_cert(const char *file, EVP_PKEY *key, long from_s, long to_s)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"gw-test", -1, -1, 0);
    X509_set_issuer_name(x, n);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static void write_key(const char *file, EVP_PKEY *key, int encrypted)
{
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, key, encrypted ? EVP_aes_128_cbc() : NULL,
                                          (unsigned char *)"passphrase", 10, NULL, NULL),
                     1);
    fclose(f);
    chmod(file, 0600);
}

/* [mqtt] with TLS files: ca, cert, key (lines 19-22 after the uri). */
static struct cfg *tls_conf(const char *ca, const char *cert, const char *key)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = ssl://127.0.0.1:8883\nca_file = %s\ncert_file = %s\nkey_file = %s\n",
             ca, cert, key);
    return ok(extra);
}

/* ---- tests ---- */

START_TEST(test_usable_files_give_no_problem)
{
    EVP_PKEY *k = new_key();
    write_cert(tmp("ca.pem"), k, 0, 86400);
    write_cert(tmp("client.pem"), k, 0, 86400);
    write_key(tmp("client.key"), k, 0);
    write_text(tmp("pw"), "secret\n", 0600);
    write_text(tmp("token"), "tok-123\n", 0600);
    state_dir(1);
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = ssl://127.0.0.1:8883\nusername = gw\npassword_file = %s\n"
             "ca_file = %s\ncert_file = %s\nkey_file = %s\n"
             "[influx]\nurl = http://127.0.0.1:8086\norg = o\nbucket = b\ntoken_file = %s\n",
             tmp("pw"), tmp("ca.pem"), tmp("client.pem"), tmp("client.key"), tmp("token"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_ALL, NULL);
    if (nprobs != 0)
        dump();
    ck_assert_int_eq(nprobs, 0);
    EVP_PKEY_free(k);
    cfg_free(c);
}
END_TEST

START_TEST(test_missing_password_file_is_named_with_its_line)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = tcp://127.0.0.1:1883\nusername = gw\n"
             "password_file = %s\n",
             tmp("no-such-file"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_MQTT, NULL);
    char want[512];
    snprintf(want, sizeof(want), "%s:%d: [mqtt] password_file: %s: No such file or directory", path,
             EXTRA_LINE + 3, tmp("no-such-file"));
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, want, NULL);
    ck_assert_ptr_nonnull(filecheck_first_unusable(probs, nprobs, FILECHECK_MQTT));
    ck_assert_ptr_null(filecheck_first_unusable(probs, nprobs, FILECHECK_INFLUX));
    cfg_free(c);
}
END_TEST

START_TEST(test_password_file_rules_are_the_clients)
{
    char extra[512];
    write_text(tmp("empty"), "\nsecond line\n", 0600);
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = tcp://127.0.0.1:1883\nusername = gw\n"
             "password_file = %s\n",
             tmp("empty"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "first line is empty", NULL);
    ck_assert_ptr_null(strstr(probs[0].text, "second line")); /* never the contents */
    cfg_free(c);
}
END_TEST

START_TEST(test_secret_readable_by_others_is_advice)
{
    char extra[512];
    write_text(tmp("pw"), "secret\n", 0644);
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = tcp://127.0.0.1:1883\nusername = gw\n"
             "password_file = %s\n",
             tmp("pw"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_ADVICE, FILECHECK_MQTT, "every user of this machine can read", "0644");
    ck_assert_ptr_null(filecheck_first_unusable(probs, nprobs, FILECHECK_ALL));
    cfg_free(c);
}
END_TEST

START_TEST(test_unreadable_ca_file)
{
    /* A directory cannot be read as a file, even by root. */
    mkdir(tmp("ca-dir"), 0755);
    EVP_PKEY *k = new_key();
    write_cert(tmp("c.pem"), k, 0, 86400);
    write_key(tmp("c.key"), k, 0);
    struct cfg *c = tls_conf(tmp("ca-dir"), tmp("c.pem"), tmp("c.key"));
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] ca_file: ", "not a regular file");
    cfg_free(c);
    if (geteuid() != 0) { /* mode bits stop everyone but root */
        write_cert(tmp("ca.pem"), k, 0, 86400);
        chmod(tmp("ca.pem"), 0);
        c = tls_conf(tmp("ca.pem"), tmp("c.pem"), tmp("c.key"));
        run(c, FILECHECK_MQTT, NULL);
        EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] ca_file: ", "Permission denied");
        cfg_free(c);
    }
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_unparsable_certificate_and_key)
{
    write_text(tmp("junk.pem"), "-----BEGIN CERTIFICATE-----\nnot base64 at all\n", 0644);
    write_text(tmp("junk.key"), "hello\n", 0600);
    struct cfg *c = tls_conf(tmp("junk.pem"), tmp("junk.pem"), tmp("junk.key"));
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] ca_file: ", "no PEM certificate in it");
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] cert_file: ", "no PEM certificate in it");
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] key_file: ", "no PEM private key in it");
    cfg_free(c);
}
END_TEST

START_TEST(test_key_must_match_certificate_and_be_unencrypted)
{
    EVP_PKEY *k = new_key(), *other = new_key();
    write_cert(tmp("c.pem"), k, 0, 86400);
    write_key(tmp("other.key"), other, 0);
    write_key(tmp("enc.key"), k, 1);
    struct cfg *c = tls_conf(tmp("c.pem"), tmp("c.pem"), tmp("other.key"));
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] key_file: ", "does not belong to cert_file");
    cfg_free(c);
    c = tls_conf(tmp("c.pem"), tmp("c.pem"), tmp("enc.key"));
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_MQTT, "[mqtt] key_file: ", "encrypted");
    cfg_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}
END_TEST

/* Outside its validity a certificate is advice, not unusable: an industrial
 * PC's clock can be wrong at boot. */
START_TEST(test_certificate_dates_are_advice)
{
    EVP_PKEY *k = new_key();
    write_cert(tmp("old.pem"), k, -2 * 86400, -86400);
    write_cert(tmp("future.pem"), k, 86400, 2 * 86400);
    write_key(tmp("c.key"), k, 0);
    struct cfg *c = tls_conf(tmp("future.pem"), tmp("old.pem"), tmp("c.key"));
    run(c, FILECHECK_MQTT, NULL);
    EXPECT(FILECHECK_ADVICE, FILECHECK_MQTT, "[mqtt] cert_file: ", "expired on");
    EXPECT(FILECHECK_ADVICE, FILECHECK_MQTT, "[mqtt] ca_file: ", "is not valid before");
    ck_assert_ptr_null(filecheck_first_unusable(probs, nprobs, FILECHECK_MQTT));
    cfg_free(c);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_bad_influx_token_file)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "[influx]\nurl = http://127.0.0.1:8086\norg = o\nbucket = b\n"
             "token_file = %s\n",
             tmp("no-token"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_ALL, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_INFLUX, "[influx] token_file: ", "No such file");
    ck_assert_ptr_null(filecheck_first_unusable(probs, nprobs, FILECHECK_MQTT));
    cfg_free(c);
    write_text(tmp("token"), " \n", 0600);
    snprintf(extra, sizeof(extra),
             "[influx]\nurl = http://127.0.0.1:8086\norg = o\nbucket = b\n"
             "token_file = %s\n",
             tmp("token"));
    c = ok(extra);
    run(c, FILECHECK_INFLUX, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_INFLUX, "[influx] token_file: ", "not a token");
    cfg_free(c);
}
END_TEST

START_TEST(test_state_dir_and_bus_device)
{
    char extra[512];
    snprintf(extra, sizeof(extra), "[bus rs485-2]\ntype = rtu\ndevice = %s\n", tmp("ttyUSB9"));
    state_dir(0);
    struct cfg *c = ok(extra);
    run(c, FILECHECK_ALL, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_STATE, ":8: [gateway] state_dir: ", "No such file");
    char want[256];
    snprintf(want, sizeof(want), ":%d: [bus rs485-2] device: ", EXTRA_LINE + 2);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_BUS, want, "No such file");
    ck_assert_ptr_null(find(FILECHECK_UNUSABLE, FILECHECK_BUS, "[bus rs485-1]", NULL));
    ck_assert_str_eq(filecheck_consequence(FILECHECK_BUS), "the bus retries until it can open it");
    write_text(tmp("state"), "a file\n", 0644);
    run(c, FILECHECK_STATE, NULL);
    EXPECT(FILECHECK_UNUSABLE, FILECHECK_STATE, "[gateway] state_dir: ", "not a directory");
    state_dir(1);
    run(c, FILECHECK_STATE, NULL);
    ck_assert_int_eq(nprobs, 0);
    cfg_free(c);
}
END_TEST

/* Run as root, --check asks whether the service user can use each file. */
START_TEST(test_service_user_access)
{
    char extra[512];
    state_dir(1);
    mkdir(tmp("etc"), 0755);
    write_text(tmp("etc/pw"), "secret\n", 0600);
    snprintf(extra, sizeof(extra),
             "[mqtt]\nuri = tcp://127.0.0.1:1883\nusername = gw\n"
             "password_file = %s\n",
             tmp("etc/pw"));
    struct cfg *c = ok(extra);
    run(c, FILECHECK_ALL, "nobody");
    EXPECT(FILECHECK_ADVICE, FILECHECK_MQTT, "the service user nobody cannot read it", "mode 0600");
    EXPECT(FILECHECK_ADVICE, FILECHECK_STATE, "the service user nobody cannot write in it", NULL);
    chmod(tmp("etc/pw"), 0644);
    chmod(tmp("etc"), 0700); /* now the directory stops it */
    run(c, FILECHECK_MQTT, "nobody");
    EXPECT(FILECHECK_ADVICE, FILECHECK_MQTT, "cannot read it: directory", tmp("etc"));
    chmod(tmp("etc"), 0755);
    run(c, FILECHECK_MQTT, "nobody");
    ck_assert_ptr_null(find(FILECHECK_ADVICE, FILECHECK_MQTT, "service user", NULL));
    run(c, FILECHECK_ALL, "no-such-user-here"); /* unknown: not checked */
    ck_assert_ptr_null(find(FILECHECK_ADVICE, FILECHECK_ALL, "service user", NULL));
    cfg_free(c);
}
END_TEST

/* ---- the lenient load ---- */

START_TEST(test_uplink_section_problems_are_warnings)
{
    struct cfg *c = ok("[mqtt]\nuri = mqtt://broker\n[influx]\nurl = http://a:8086\n");
    char want[512];
    snprintf(want, sizeof(want),
             "%s:%d: [mqtt] uri: 'mqtt://broker' must start with tcp:// or ssl://", path,
             EXTRA_LINE + 1);
    ck_assert_str_eq(c->mqtt.error, want);
    ck_assert_ptr_nonnull(strstr(c->influx.error, "[influx]"));
    ck_assert_ptr_nonnull(strstr(c->warnings, want));
    ck_assert_str_eq(out, ""); /* nothing printed: the caller reports them */
    ck_assert_int_eq(c->nsensors, 1);
    /* Their files are not checked: the section is unusable already. */
    run(c, FILECHECK_MQTT | FILECHECK_INFLUX, NULL);
    ck_assert_int_eq(nprobs, 0);
    cfg_free(c);
}
END_TEST

START_TEST(test_other_problems_stay_errors)
{
    ck_assert_ptr_null(load("[mqtt]\nuri = mqtt://broker\n[sensor leak-2]\nbus = nowhere\n"
                            "unit = 1\nkind = water_leak\nmodel = di8\ninput = 1\n",
                            CFG_UPLINK_LENIENT));
    /* Every problem printed, the uplink's too. */
    ck_assert_ptr_nonnull(strstr(out, "[mqtt] uri:"));
    ck_assert_ptr_nonnull(strstr(out, "[sensor leak-2] bus:"));
    /* The strict load (shelter-sim, tests) fails on an uplink problem. */
    ck_assert_ptr_null(load("[mqtt]\nuri = mqtt://broker\n", 0));
    ck_assert_ptr_nonnull(strstr(out, "[mqtt] uri:"));
}
END_TEST

START_TEST(test_clean_config_has_no_warnings)
{
    struct cfg *c = ok("[mqtt]\nuri = tcp://127.0.0.1:1883\n");
    ck_assert_ptr_null(c->warnings);
    ck_assert_str_eq(c->mqtt.error, "");
    ck_assert_str_eq(c->influx.error, "");
    cfg_free(c);
}
END_TEST

static Suite *filecheck_suite(void)
{
    Suite *s = suite_create("filecheck");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, test_usable_files_give_no_problem);
    tcase_add_test(tc, test_missing_password_file_is_named_with_its_line);
    tcase_add_test(tc, test_password_file_rules_are_the_clients);
    tcase_add_test(tc, test_secret_readable_by_others_is_advice);
    tcase_add_test(tc, test_unreadable_ca_file);
    tcase_add_test(tc, test_unparsable_certificate_and_key);
    tcase_add_test(tc, test_key_must_match_certificate_and_be_unencrypted);
    tcase_add_test(tc, test_certificate_dates_are_advice);
    tcase_add_test(tc, test_bad_influx_token_file);
    tcase_add_test(tc, test_state_dir_and_bus_device);
    tcase_add_test(tc, test_service_user_access);
    suite_add_tcase(s, tc);
    tc = tcase_create("lenient");
    tcase_add_test(tc, test_uplink_section_problems_are_warnings);
    tcase_add_test(tc, test_other_problems_stay_errors);
    tcase_add_test(tc, test_clean_config_has_no_warnings);
    suite_add_tcase(s, tc);
    return s;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_filecheck.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    chmod(tmpdir, 0755); /* the service-user test walks through it */
    snprintf(path, sizeof(path), "%s/gateway.conf", tmpdir);
    int rc = run_suite(filecheck_suite());
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
