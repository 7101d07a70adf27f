/* Tests of the MQTT transport (lib/mqtt.c).
 *
 * Without environment: the pure tests only (option validation, password
 * file handling, refusals before connecting, a refused first connect).  The
 * broker tests need a real mosquitto and run when MQTT_TEST_PORT is set, as
 * tests/integration/test_mqtt_transport.sh does:
 *   MQTT_TEST_PORT           mosquitto with password_file + acl_file
 *   MQTT_TEST_USER           user allowed everything but MQTT_TEST_DENIED_TOPIC
 *   MQTT_TEST_PASSWORD_FILE  that user's password, first line
 *   MQTT_TEST_DENIED_TOPIC   the ACL denies the user publishing here
 *   MQTT_TEST_DEAD_PORT      a loopback port nobody listens on
 *   MQTT_TEST_SPARE_PORT, MQTT_TEST_SPARE_CONF  a broker this test starts,
 *                            freezes, kills and restarts itself
 * The TLS case runs when MQTT_TEST_TLS_URI is set (tests/integration/
 * test_mqtt_tls.sh): MQTT_TEST_TLS_CA, _CERT, _KEY and _EXPECT
 * (connect | refuse).  MQTT_TEST_TRACE=1 prints every event with a time. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "gwerr.h"
#include "mqtt.h"

static char tmpdir[] = "/tmp/test_mqtt.XXXXXX";
static char uri_live[64], uri_dead[64], uri_spare[64];

/* ---- helpers ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *path_in_tmp(const char *name)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = path_in_tmp(name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* A unique name for this test process: client ids and topics. */
static const char *uniq(const char *what)
{
    static char buf[8][96];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, sizeof(buf[0]), "%s-%d", what, (int)getpid());
    return p;
}

static struct mqtt_opts base_opts(const char *uri, const char *client_id)
{
    static char wills[8][128];
    static int nwill;
    char *will = wills[nwill++ % 8];
    struct mqtt_opts o;

    memset(&o, 0, sizeof(o));
    o.uris[0] = uri;
    o.nuris = 1;
    o.client_id = client_id;
    snprintf(will, sizeof(wills[0]), "test/%s/status", client_id);
    o.will_topic = will;
    o.retry_min_s = 1;
    o.retry_max_s = 2;
    o.connect_timeout_s = 3;
    o.keepalive_s = 5;
    return o;
}

/* A subscription as the gateway makes them: QoS 1, retain as published. */
static struct mqtt_sub sub1(const char *filter)
{
    return (struct mqtt_sub){.filter = filter, .qos = 1, .retain_as_published = 1};
}

static struct mqtt_opts user_opts(const char *client_id)
{
    struct mqtt_opts o = base_opts(uri_live, client_id);
    o.username = env("MQTT_TEST_USER");
    o.password_file = env("MQTT_TEST_PASSWORD_FILE");
    return o;
}

/* The next event within timeout_ms: 1, or 0 on timeout. */
static int next_event(struct mqtt *m, struct mqtt_event *ev, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;

    for (;;) {
        int r = mqtt_next_event(m, ev);
        ck_assert_int_ge(r, 0);
        if (r == 1) {
            if (env("MQTT_TEST_TRACE"))
                fprintf(stderr, "%lld ev %d id %llu ok %d reason %d %s\n",
                        (long long)(mono_ms() % 100000), ev->type, (unsigned long long)ev->id,
                        ev->ok, ev->reason, ev->detail);
            return 1;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = mqtt_fd(m), .events = POLLIN};
        poll(&p, 1, (int)left);
    }
}

/* Wait for an event of the given type, discarding others. */
static int wait_type(struct mqtt *m, enum mqtt_event_type type, struct mqtt_event *ev,
                     int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int64_t left;

    while ((left = deadline - mono_ms()) > 0) {
        if (!next_event(m, ev, (int)left))
            return 0;
        if (ev->type == type)
            return 1;
        mqtt_event_clear(ev);
    }
    return 0;
}

static struct mqtt *new_client(const struct mqtt_opts *o)
{
    char err[256] = "";
    struct mqtt *m = mqtt_new(o, err, sizeof(err));
    ck_assert_msg(m != NULL, "mqtt_new: %s", err);
    ck_assert_int_eq(mqtt_start(m, err, sizeof(err)), 0);
    return m;
}

/* Start and wait until connected and, with subscriptions, subscribed. */
static struct mqtt *connected_client(const struct mqtt_opts *o)
{
    struct mqtt *m = new_client(o);
    struct mqtt_event ev;

    ck_assert_msg(wait_type(m, MQTT_EV_CONNECTED, &ev, 10000), "no CONNECTED");
    mqtt_event_clear(&ev);
    ck_assert_int_eq(mqtt_connected(m), 1);
    if (o->nsubscriptions) {
        ck_assert_msg(wait_type(m, MQTT_EV_SUBSCRIBED, &ev, 5000), "no SUBSCRIBED");
        ck_assert_msg(ev.ok, "subscribe refused: %s", ev.detail);
        mqtt_event_clear(&ev);
    }
    return m;
}

/* Publish and wait for this id's result; fills ev. */
static void publish_wait(struct mqtt *m, const char *topic, const char *payload, int qos,
                         int retained, uint64_t id, struct mqtt_event *ev)
{
    ck_assert_int_eq(mqtt_publish(m, topic, payload, strlen(payload), qos, retained, id), 0);
    ck_assert_msg(wait_type(m, MQTT_EV_PUBLISHED, ev, 5000), "no PUBLISHED for %llu",
                  (unsigned long long)id);
    ck_assert_uint_eq(ev->id, id);
}

/* A subscriber to one filter; returns once subscribed. */
static struct mqtt *subscriber(const char *filter)
{
    static int n;
    char id[64];
    snprintf(id, sizeof(id), "sub%d-%d", ++n, (int)getpid());
    struct mqtt_opts o = user_opts(id);
    o.subscriptions[0] = sub1(filter);
    o.nsubscriptions = 1;
    return connected_client(&o);
}

/* Wait for a MESSAGE on topic whose payload is want. */
static int wait_message(struct mqtt *m, const char *topic, const char *want, int timeout_ms,
                        int *retained)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct mqtt_event ev;
    int64_t left;

    while ((left = deadline - mono_ms()) > 0) {
        if (!wait_type(m, MQTT_EV_MESSAGE, &ev, (int)left))
            return 0;
        int hit = !strcmp(ev.topic, topic) && ev.payload && !strcmp(ev.payload, want) &&
                  ev.len == strlen(want);
        if (hit && retained)
            *retained = ev.retained;
        mqtt_event_clear(&ev);
        if (hit)
            return 1;
    }
    return 0;
}

static int unused_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void setup_tmp(void)
{
    strcpy(tmpdir, "/tmp/test_mqtt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* The temp dir holds plain files only. */
static void teardown_tmp(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        ck_assert_int_eq(unlink(path), 0);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}

/* ---- pure tests ---- */

struct bad_case {
    const char *name;
    void (*mutate)(struct mqtt_opts *o);
    const char *want; /* substring of err */
    int want_errno;
};

static void no_uri(struct mqtt_opts *o)
{
    o->nuris = 0;
}
static void five_uris(struct mqtt_opts *o)
{
    o->nuris = 5;
}
static void http_uri(struct mqtt_opts *o)
{
    o->uris[0] = "http://127.0.0.1:1883";
}
static void empty_host(struct mqtt_opts *o)
{
    o->uris[0] = "tcp://";
}
static void mixed(struct mqtt_opts *o)
{
    o->uris[1] = "ssl://127.0.0.1:8883";
    o->nuris = 2;
}
static void ca_on_tcp(struct mqtt_opts *o)
{
    o->ca_file = "/etc/hostname";
}
static void key_alone(struct mqtt_opts *o)
{
    o->uris[0] = "ssl://127.0.0.1:8883";
    o->key_file = "/etc/hostname";
}
static void long_id_prefix(struct mqtt_opts *o)
{
    o->client_id = NULL;
    o->client_id_prefix = "a-prefix-much-longer-than-half-of-the-room-for-a-made-up-client-id-x";
}
static void will_payload_alone(struct mqtt_opts *o)
{
    o->will_topic = NULL;
    o->will_payload = "{\"online\":false}";
}
static void wild_will(struct mqtt_opts *o)
{
    o->will_topic = "shelter/#";
}
static void pw_no_user(struct mqtt_opts *o)
{
    o->password_file = "/etc/hostname";
}
static void ca_missing(struct mqtt_opts *o)
{
    o->uris[0] = "ssl://127.0.0.1:8883";
    o->ca_file = "/nonexistent/ca.pem";
}
static void seventeen_subs(struct mqtt_opts *o)
{
    o->nsubscriptions = 17;
}
static void null_sub(struct mqtt_opts *o)
{
    o->nsubscriptions = 1;
}
static void qos2_sub(struct mqtt_opts *o)
{
    o->subscriptions[0] = (struct mqtt_sub){.filter = "a/#", .qos = 2};
    o->nsubscriptions = 1;
}
static void no_local_shared(struct mqtt_opts *o)
{
    o->subscriptions[0] = (struct mqtt_sub){.filter = "$share/g/a/#", .qos = 1, .no_local = 1};
    o->nsubscriptions = 1;
}
static void shared_without_filter(struct mqtt_opts *o)
{
    o->subscriptions[0] = sub1("$share/g");
    o->nsubscriptions = 1;
}
static void neg_session_expiry(struct mqtt_opts *o)
{
    o->session_expiry_s = -1;
}
static void empty_sub(struct mqtt_opts *o)
{
    o->subscriptions[0] = sub1("");
    o->nsubscriptions = 1;
}
static void hash_mid(struct mqtt_opts *o)
{
    o->subscriptions[0] = sub1("a/#/b");
    o->nsubscriptions = 1;
}
static void hash_glued(struct mqtt_opts *o)
{
    o->subscriptions[0] = sub1("a/b#");
    o->nsubscriptions = 1;
}
static void plus_glued(struct mqtt_opts *o)
{
    o->subscriptions[0] = sub1("a/#");
    o->subscriptions[1] = sub1("a/x+/c");
    o->nsubscriptions = 2;
}
static void neg_keepalive(struct mqtt_opts *o)
{
    o->keepalive_s = -1;
}
static void pw_missing(struct mqtt_opts *o)
{
    o->username = "gw";
    o->password_file = "/nonexistent/password";
}

static const struct bad_case bad_cases[] = {
    {"no uri", no_uri, "between 1 and 4", EGW_CONFIG},
    {"five uris", five_uris, "between 1 and 4", EGW_CONFIG},
    {"http uri", http_uri, "http://127.0.0.1:1883", EGW_CONFIG},
    {"empty host", empty_host, "tcp://HOST:PORT", EGW_CONFIG},
    {"tcp and ssl mixed", mixed, "mixed", EGW_CONFIG},
    {"ca_file on tcp", ca_on_tcp, "need ssl://", EGW_CONFIG},
    {"key without cert", key_alone, "key_file needs cert_file", EGW_CONFIG},
    {"long client id prefix", long_id_prefix, "client_id_prefix", EGW_CONFIG},
    {"will payload without topic", will_payload_alone, "needs a will topic", EGW_CONFIG},
    {"wildcard will topic", wild_will, "wildcard", EGW_CONFIG},
    {"password without user", pw_no_user, "needs username", EGW_CONFIG},
    {"unreadable ca_file", ca_missing, "ca_file /nonexistent/ca.pem: No such file", ENOENT},
    {"seventeen subscriptions", seventeen_subs, "at most 16", EGW_CONFIG},
    {"subscription without filter", null_sub, "not a valid topic filter", EGW_CONFIG},
    {"QoS 2 subscription", qos2_sub, "QoS 0 or 1", EGW_CONFIG},
    {"no_local on a shared subscription", no_local_shared, "no_local", EGW_CONFIG},
    {"$share without a filter", shared_without_filter, "\"$share/g\"", EGW_CONFIG},
    {"negative session expiry", neg_session_expiry, "out of range", EGW_CONFIG},
    {"empty subscription", empty_sub, "not a valid topic filter", EGW_CONFIG},
    {"# inside a filter", hash_mid, "\"a/#/b\"", EGW_CONFIG},
    {"# glued to a level", hash_glued, "not a valid topic filter", EGW_CONFIG},
    {"+ glued to a level", plus_glued, "\"a/x+/c\"", EGW_CONFIG},
    {"negative keepalive", neg_keepalive, "out of range", EGW_CONFIG},
    {"unreadable password_file", pw_missing, "password_file /nonexistent/password: No such file",
     ENOENT},
};

START_TEST(test_new_rejects_bad_options)
{
    const struct bad_case *c = &bad_cases[_i];
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1883", "gw-test");
    o.uris[1] = o.uris[2] = o.uris[3] = "tcp://127.0.0.1:1883";
    char err[256] = "";

    c->mutate(&o);
    errno = 0;
    ck_assert_msg(mqtt_new(&o, err, sizeof(err)) == NULL, "%s: accepted", c->name);
    ck_assert_msg(errno == c->want_errno, "%s: errno %d", c->name, errno);
    ck_assert_msg(strstr(err, c->want), "%s: err \"%s\" lacks \"%s\"", c->name, err, c->want);
}
END_TEST

START_TEST(test_new_accepts_valid_options_without_connecting)
{
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1", "gw-test");
    struct mqtt_event ev;
    struct mqtt_stats st;
    char err[256] = "";

    o.uris[1] = "tcp://127.0.0.2:1";
    o.nuris = 2;
    o.subscriptions[0] = sub1("shelter/x/cmd/#");
    o.subscriptions[1] = sub1("+/x/+/y");
    o.subscriptions[2] = sub1("#");
    o.subscriptions[3] = sub1("+");
    o.nsubscriptions = 4;
    struct mqtt *m = mqtt_new(&o, err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_int_ge(mqtt_fd(m), 0);
    ck_assert_int_eq(mqtt_connected(m), 0);
    ck_assert_int_eq(mqtt_next_event(m, &ev), 0);
    mqtt_get_stats(m, &st);
    ck_assert_int_eq(st.inflight, 0);
    ck_assert_uint_eq(st.connects, 0);
    mqtt_free(m);
    mqtt_free(NULL);
}
END_TEST

/* Without a client id one is made up: the prefix, then the unique part
 * (pid first), different for every client of a process. */
START_TEST(test_client_id_made_up_when_not_given)
{
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1", "gw-test");
    char err[256], pid[32], want[64];

    struct mqtt *given = mqtt_new(&o, err, sizeof(err));
    ck_assert_msg(given != NULL, "%s", err);
    ck_assert_str_eq(mqtt_client_id(given), "gw-test");
    o.client_id = NULL;
    o.client_id_prefix = "shelter-watch";
    struct mqtt *a = mqtt_new(&o, err, sizeof(err));
    o.client_id = "";
    struct mqtt *b = mqtt_new(&o, err, sizeof(err));
    o.client_id_prefix = NULL;
    struct mqtt *c = mqtt_new(&o, err, sizeof(err));
    ck_assert(a != NULL && b != NULL && c != NULL);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    snprintf(want, sizeof(want), "shelter-watch-%s-", pid);
    ck_assert_msg(strncmp(mqtt_client_id(a), want, strlen(want)) == 0, "%s", mqtt_client_id(a));
    ck_assert_msg(strncmp(mqtt_client_id(b), want, strlen(want)) == 0, "%s", mqtt_client_id(b));
    ck_assert_str_ne(mqtt_client_id(a), mqtt_client_id(b));
    snprintf(want, sizeof(want), "shelter-%s-", pid);
    ck_assert_msg(strncmp(mqtt_client_id(c), want, strlen(want)) == 0, "%s", mqtt_client_id(c));
    ck_assert_uint_lt(strlen(mqtt_client_id(a)), MQTT_CLIENT_ID_MAX);
    mqtt_free(given);
    mqtt_free(a);
    mqtt_free(b);
    mqtt_free(c);
}
END_TEST

/* Password files: first line, LF or CRLF stripped; failures name the file
 * and never show its contents. */
START_TEST(test_password_file_first_line)
{
    static const char *good[] = {"secret\n", "secret", "secret\r\n", "secret\nsecond line\n"};
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1", "gw-test");
    char err[256];
    size_t i;

    o.username = "gw";
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        o.password_file = write_file("pw", good[i]);
        struct mqtt *m = mqtt_new(&o, err, sizeof(err));
        ck_assert_msg(m != NULL, "case %zu: %s", i, err);
        mqtt_free(m);
    }
}
END_TEST

START_TEST(test_password_file_errors_hide_the_secret)
{
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1", "gw-test");
    char err[256], big[2100];
    struct mqtt *m;

    o.username = "gw";
    o.password_file = write_file("empty", "");
    err[0] = '\0';
    ck_assert_ptr_null(mqtt_new(&o, err, sizeof(err)));
    ck_assert_int_eq(errno, EGW_CONFIG);
    ck_assert_msg(strstr(err, "first line is empty"), "%s", err);
    ck_assert_msg(strstr(err, o.password_file), "%s", err);

    o.password_file = write_file("blank", "\nsecret-on-line-2\n");
    ck_assert_ptr_null(mqtt_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "first line is empty") && !strstr(err, "secret"), "%s", err);

    memset(big, 'S', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    o.password_file = write_file("long", big);
    ck_assert_ptr_null(mqtt_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "longer than") && !strstr(err, "SSSS"), "%s", err);

    o.password_file = write_file("noread", "secret\n");
    ck_assert_int_eq(chmod(o.password_file, 0), 0);
    m = mqtt_new(&o, err, sizeof(err));
    if (geteuid() != 0) { /* root reads anything */
        ck_assert_ptr_null(m);
        ck_assert_int_eq(errno, EACCES);
        ck_assert_msg(strstr(err, "Permission denied"), "%s", err);
    }
    mqtt_free(m);

    o.password_file = tmpdir; /* a directory */
    ck_assert_ptr_null(mqtt_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "Is a directory"), "%s", err);
}
END_TEST

START_TEST(test_publish_refused_until_connected)
{
    struct mqtt_opts o = base_opts("tcp://127.0.0.1:1", "gw-test");
    char err[256];
    struct mqtt *m = mqtt_new(&o, err, sizeof(err));

    ck_assert_ptr_nonnull(m);
    errno = 0;
    ck_assert_int_eq(mqtt_publish(m, "a/b", "x", 1, 1, 0, 1), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    ck_assert_int_eq(mqtt_publish(m, "a/#", "x", 1, 1, 0, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mqtt_publish(m, "a/b", "x", 1, 2, 0, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mqtt_publish(m, "a/b", NULL, 3, 1, 0, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mqtt_publish(m, "", "x", 1, 1, 0, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    mqtt_free(m);
}
END_TEST

/* Nobody listens: the first attempt is reported, nothing connects. */
START_TEST(test_refused_first_connect_is_reported)
{
    char uri[64], err[256];
    struct mqtt_event ev;

    snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", unused_port());
    struct mqtt_opts o = base_opts(uri, "gw-test");
    struct mqtt *m = new_client(&o);
    ck_assert_int_eq(mqtt_start(m, err, sizeof(err)), -1);
    ck_assert_int_eq(errno, EALREADY);
    ck_assert_msg(wait_type(m, MQTT_EV_CONNECT_FAILED, &ev, 5000), "no CONNECT_FAILED");
    ck_assert_int_eq(ev.reason, -1);
    ck_assert_msg(ev.detail[0], "empty detail");
    mqtt_event_clear(&ev);
    ck_assert_int_eq(mqtt_connected(m), 0);
    ck_assert_int_eq(mqtt_publish(m, "a/b", "x", 1, 1, 0, 1), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    mqtt_free(m);
}
END_TEST

/* ---- broker tests ---- */

START_TEST(test_qos1_publish_reports_ok_with_its_id)
{
    struct mqtt_opts o = user_opts(uniq("pub"));
    struct mqtt_event ev;
    struct mqtt_stats st;
    struct mqtt *m = connected_client(&o);

    publish_wait(m, uniq("t/qos1"), "{\"n\":1}", 1, 0, 42, &ev);
    ck_assert_msg(ev.ok, "failed: %s", ev.detail);
    ck_assert_int_eq(ev.reason, 0);
    publish_wait(m, uniq("t/qos0"), "{\"n\":2}", 0, 0, 1ULL << 40, &ev);
    ck_assert(ev.ok);
    /* Nothing left: the fd is drained and not readable. */
    ck_assert_int_eq(mqtt_next_event(m, &ev), 0);
    struct pollfd p = {.fd = mqtt_fd(m), .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    mqtt_get_stats(m, &st);
    ck_assert_uint_eq(st.published_ok, 2);
    ck_assert_int_eq(st.inflight, 0);
    mqtt_free(m);
}
END_TEST

/* The user/password came from a file whose first line ends in CRLF and that
 * has a second line: only "the password" of the first line is sent. */
START_TEST(test_password_file_crlf_connects)
{
    char text[256];
    FILE *f = fopen(env("MQTT_TEST_PASSWORD_FILE"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
    fclose(f);
    text[strcspn(text, "\r\n")] = '\0';
    strcat(text, "\r\nnot the password\n");

    struct mqtt_opts o = user_opts(uniq("crlf"));
    o.password_file = write_file("pw-crlf", text);
    struct mqtt *m = connected_client(&o);
    mqtt_free(m);
}
END_TEST

START_TEST(test_bad_password_is_refused_with_reason)
{
    struct mqtt_opts o = user_opts(uniq("badpw"));
    struct mqtt_event ev;

    o.password_file = write_file("pw-bad", "not-the-password\n");
    struct mqtt *m = new_client(&o);
    ck_assert_msg(wait_type(m, MQTT_EV_CONNECT_FAILED, &ev, 5000), "no CONNECT_FAILED");
    /* mosquitto 2.0.11 answers 0x87 not authorized (0x86 would also do). */
    ck_assert_msg(ev.reason == 0x86 || ev.reason == 0x87, "reason %d (%s)", ev.reason, ev.detail);
    ck_assert_msg(!strstr(ev.detail, "not-the-password"), "%s", ev.detail);
    mqtt_event_clear(&ev);
    ck_assert_msg(!wait_type(m, MQTT_EV_CONNECTED, &ev, 1500), "connected with a bad password");
    mqtt_free(m);
}
END_TEST

START_TEST(test_retained_message_reaches_late_subscriber)
{
    struct mqtt_opts o = user_opts(uniq("ret"));
    const char *topic = uniq("t/retained/alarm");
    struct mqtt_event ev;
    int retained = 0;

    struct mqtt *m = connected_client(&o);
    publish_wait(m, topic, "{\"seq\":7,\"active\":true}", 1, 1, 7, &ev);
    ck_assert(ev.ok);
    mqtt_free(m);

    struct mqtt *s = subscriber(topic);
    ck_assert_msg(wait_message(s, topic, "{\"seq\":7,\"active\":true}", 5000, &retained),
                  "retained message not delivered");
    ck_assert_int_eq(retained, 1);
    mqtt_free(s);
}
END_TEST

/* kill -9 of a connected gateway: the broker publishes the retained will. */
START_TEST(test_will_published_when_process_killed)
{
    const char *client = uniq("killed");
    struct mqtt_opts o = user_opts(client);
    int pfd[2];
    char c;

    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct mqtt_event ev;
        struct mqtt *m = connected_client(&o);
        publish_wait(m, o.will_topic, "{\"online\":true}", 1, 1, 1, &ev);
        if (ev.ok && write(pfd[1], "r", 1) == 1)
            pause();
        _exit(1);
    }
    close(pfd[1]);
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 10000) == 1 && read(pfd[0], &c, 1) == 1, "child not connected");
    close(pfd[0]);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

    struct mqtt *s = subscriber(o.will_topic);
    int retained = -1;
    ck_assert_msg(wait_message(s, o.will_topic, "{\"online\":false}", 5000, &retained),
                  "no will message");
    mqtt_free(s);
}
END_TEST

/* An orderly mqtt_free() also leaves {"online":false} (MQTT 5 reason 0x04). */
START_TEST(test_orderly_free_publishes_will)
{
    struct mqtt_opts o = user_opts(uniq("orderly"));
    struct mqtt_event ev;
    struct mqtt *m = connected_client(&o);

    publish_wait(m, o.will_topic, "{\"online\":true}", 1, 1, 1, &ev);
    ck_assert(ev.ok);
    struct mqtt *s = subscriber(o.will_topic);
    ck_assert(wait_message(s, o.will_topic, "{\"online\":true}", 5000, NULL));
    mqtt_free(m);
    ck_assert_msg(wait_message(s, o.will_topic, "{\"online\":false}", 5000, NULL),
                  "no will after mqtt_free");
    mqtt_free(s);
}
END_TEST

/* mosquitto's ACL denies the topic: PUBACK 0x87 makes the publish fail. */
START_TEST(test_puback_refusal_fails_the_publish)
{
    struct mqtt_opts o = user_opts(uniq("acl"));
    struct mqtt_event ev;
    struct mqtt_stats st;
    struct mqtt *m = connected_client(&o);

    publish_wait(m, env("MQTT_TEST_DENIED_TOPIC"), "{\"seq\":9}", 1, 1, 9, &ev);
    ck_assert_msg(!ev.ok, "denied publish reported ok");
    ck_assert_int_eq(ev.reason, 0x87);
    ck_assert_msg(strstr(ev.detail, "authorized") || strstr(ev.detail, "Not authorized"), "%s",
                  ev.detail);
    /* The connection survives; the next publish goes through. */
    ck_assert_int_eq(mqtt_connected(m), 1);
    publish_wait(m, uniq("t/after-denied"), "{}", 1, 0, 10, &ev);
    ck_assert(ev.ok);
    mqtt_get_stats(m, &st);
    ck_assert_uint_eq(st.published_failed, 1);
    ck_assert_uint_eq(st.published_ok, 1);
    mqtt_free(m);
}
END_TEST

START_TEST(test_failover_to_second_uri)
{
    struct mqtt_opts o = user_opts(uniq("failover"));
    struct mqtt_event ev;

    o.uris[0] = uri_dead;
    o.uris[1] = uri_live;
    o.nuris = 2;
    struct mqtt *m = new_client(&o);
    ck_assert_msg(wait_type(m, MQTT_EV_CONNECTED, &ev, 10000), "no CONNECTED");
    ck_assert_msg(strstr(ev.detail, env("MQTT_TEST_PORT")), "connected to %s", ev.detail);
    publish_wait(m, uniq("t/failover"), "{}", 1, 0, 5, &ev);
    ck_assert(ev.ok);
    mqtt_free(m);
}
END_TEST

/* Two gateways with one id: the broker drops the older one.  mosquitto
 * 2.0.11 just closes its socket (no DISCONNECT 0x8E), so there is no reason
 * code; both then keep taking the session from each other. */
START_TEST(test_session_takeover_disconnects_the_older)
{
    struct mqtt_opts o = user_opts(uniq("twin"));
    struct mqtt_event ev;
    struct mqtt *a = connected_client(&o);
    struct mqtt *b = connected_client(&o);

    ck_assert_msg(wait_type(a, MQTT_EV_DISCONNECTED, &ev, 5000), "no DISCONNECTED");
    fprintf(stderr, "takeover: reason %d: %s\n", ev.reason, ev.detail);
    ck_assert_int_eq(mqtt_connected(a), 0);
    mqtt_free(a);
    mqtt_free(b);
}
END_TEST

/* ---- what differs between programs: will, subscriptions, sessions ---- */

/* A live message (not retained) on a topic under prefix within timeout_ms:
 * 1 and its topic in got, or 0. */
static int live_message_under(struct mqtt *m, const char *prefix, int timeout_ms, char *got,
                              size_t len)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct mqtt_event ev;
    int64_t left;

    while ((left = deadline - mono_ms()) > 0) {
        if (!wait_type(m, MQTT_EV_MESSAGE, &ev, (int)left))
            return 0;
        int hit = !ev.retained && strncmp(ev.topic, prefix, strlen(prefix)) == 0;
        if (hit)
            snprintf(got, len, "%s %s", ev.topic, ev.payload ? (char *)ev.payload : "");
        mqtt_event_clear(&ev);
        if (hit)
            return 1;
    }
    return 0;
}

/* A client without a will (shelter-watch) works, and kill -9 of it makes
 * the broker publish nothing: a watcher that dies is no gateway offline. */
START_TEST(test_will_less_client_leaves_no_will)
{
    const char *client = uniq("nowill");
    char topic[128]; /* named here: uniq() in the child has the child's pid */
    struct mqtt_opts o = user_opts(client);
    struct mqtt_sub all = {.filter = "#",
                           .qos = 1}; /* not as published: a live will is not retained */
    struct mqtt_opts wo = user_opts(uniq("everything"));
    char got[512];
    int pfd[2];
    char c;

    snprintf(topic, sizeof(topic), "%s", uniq("t/nowill/status"));
    o.will_topic = NULL;
    wo.subscriptions[0] = all;
    wo.nsubscriptions = 1;
    wo.will_topic = NULL;
    /* Fork before this process has a client: Paho's state does not survive fork(). */
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct mqtt_event ev;
        struct mqtt *m = connected_client(&o);
        publish_wait(m, topic, "{\"online\":true}", 1, 1, 1, &ev);
        if (ev.ok && write(pfd[1], "r", 1) == 1)
            pause();
        _exit(1);
    }
    close(pfd[1]);
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 10000) == 1 && read(pfd[0], &c, 1) == 1, "child not connected");
    close(pfd[0]);
    /* Its retained publish: the watcher sees everything. */
    struct mqtt *w = connected_client(&wo);
    ck_assert_msg(wait_message(w, topic, "{\"online\":true}", 5000, NULL),
                  "the publish was not seen");
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    /* A will is published at once when the socket closes; wait well past that. */
    ck_assert_msg(!live_message_under(w, "", 2000, got, sizeof(got)), "published: %s", got);
    mqtt_free(w);
}
END_TEST

/* $share/GROUP/FILTER (shelter-notify's instances split the load): each
 * message goes to exactly one member of the group, and both get some
 * (mosquitto 2.0.11 deals them round robin). */
START_TEST(test_shared_subscription_delivers_each_message_once)
{
    char filter[128], topic[128], got[512];
    int seen[10] = {0}, per[2] = {0};
    struct mqtt *member[2];

    snprintf(filter, sizeof(filter), "$share/%s/%s/#", uniq("group"), uniq("t/shared"));
    for (int i = 0; i < 2; i++) {
        struct mqtt_opts o = user_opts(NULL);
        o.client_id_prefix = "notify-test";
        o.will_topic = NULL;
        o.subscriptions[0] = (struct mqtt_sub){.filter = filter, .qos = 1};
        o.nsubscriptions = 1;
        member[i] = connected_client(&o);
    }
    /* A member publishes (one client fewer to connect); its own messages
     * may come back to it or go to the other, once. */
    for (int n = 0; n < 10; n++) {
        char payload[16];
        snprintf(topic, sizeof(topic), "%s/%d", uniq("t/shared"), n);
        snprintf(payload, sizeof(payload), "%d", n);
        ck_assert_int_eq(
            mqtt_publish(member[0], topic, payload, strlen(payload), 1, 0, (uint64_t)n + 1), 0);
    }
    /* Every message arrives within the time; then nothing more (no copy). */
    int total = 0;
    for (int64_t deadline = mono_ms() + 5000; total < 10 && mono_ms() < deadline;)
        for (int i = 0; i < 2; i++)
            while (live_message_under(member[i], uniq("t/shared"), 100, got, sizeof(got))) {
                int n = atoi(strrchr(got, ' ') + 1);
                ck_assert(n >= 0 && n < 10);
                seen[n]++;
                per[i]++;
                total++;
            }
    for (int i = 0; i < 2; i++)
        ck_assert_msg(!live_message_under(member[i], uniq("t/shared"), 300, got, sizeof(got)),
                      "a copy: %s", got);
    for (int n = 0; n < 10; n++)
        ck_assert_msg(seen[n] == 1, "message %d arrived %d times", n, seen[n]);
    ck_assert_msg(per[0] > 0 && per[1] > 0, "one member got all: %d and %d", per[0], per[1]);
    mqtt_free(member[0]);
    mqtt_free(member[1]);
}
END_TEST

/* Options per filter, on one client: no local keeps our own publications
 * away; retain as published keeps the retain flag of a live message, which
 * without it the broker clears. */
START_TEST(test_subscription_options_are_per_filter)
{
    char nl[128], rap[128], plain[128], got[512];
    struct mqtt_event ev;

    snprintf(nl, sizeof(nl), "%s", uniq("t/opts/nolocal"));
    snprintf(rap, sizeof(rap), "%s", uniq("t/opts/rap"));
    snprintf(plain, sizeof(plain), "%s", uniq("t/opts/plain"));
    struct mqtt_opts o = user_opts(uniq("opts"));
    o.subscriptions[0] = (struct mqtt_sub){.filter = nl, .qos = 1, .no_local = 1};
    o.subscriptions[1] = (struct mqtt_sub){.filter = plain, .qos = 0};
    o.subscriptions[2] = (struct mqtt_sub){.filter = rap, .qos = 1, .retain_as_published = 1};
    o.nsubscriptions = 3;
    struct mqtt *m = connected_client(&o);

    /* Not publish_wait(): it would pass over the messages coming back. */
    ck_assert_int_eq(mqtt_publish(m, nl, "a", 1, 1, 0, 1), 0);
    ck_assert_int_eq(mqtt_publish(m, plain, "c", 1, 1, 1, 2), 0);
    ck_assert_int_eq(mqtt_publish(m, rap, "b", 1, 1, 1, 3), 0);
    /* In order on one connection: "a" would have come first. */
    ck_assert_msg(wait_type(m, MQTT_EV_MESSAGE, &ev, 5000), "nothing came back");
    ck_assert_str_eq(ev.topic, plain);
    ck_assert_int_eq(ev.retained, 0); /* published retained, the flag cleared */
    mqtt_event_clear(&ev);
    ck_assert_msg(wait_type(m, MQTT_EV_MESSAGE, &ev, 5000), "rap did not come back");
    ck_assert_str_eq(ev.topic, rap);
    ck_assert_int_eq(ev.retained, 1);
    mqtt_event_clear(&ev);
    ck_assert_msg(!live_message_under(m, nl, 300, got, sizeof(got)), "own message back: %s", got);
    mqtt_free(m);
}
END_TEST

/* session_expiry_s: the broker keeps the session (its subscription, and a
 * QoS 1 message for it) while the client is away; a clean start keeps
 * nothing. */
START_TEST(test_persistent_session_keeps_messages_while_away)
{
    const char *id = uniq("persist"), *topic = uniq("t/persist");
    char got[512];
    struct mqtt_event ev;

    struct mqtt_opts o = user_opts(id);
    o.will_topic = NULL;
    o.session_expiry_s = 60;
    o.subscriptions[0] = (struct mqtt_sub){.filter = topic, .qos = 1};
    o.nsubscriptions = 1;
    mqtt_free(connected_client(&o));

    struct mqtt_opts po = user_opts(uniq("persistpub"));
    struct mqtt *pub = connected_client(&po);
    publish_wait(pub, topic, "while-away", 1, 0, 1, &ev);
    ck_assert(ev.ok);

    /* Back, with no subscription of its own: the session has one. */
    o.nsubscriptions = 0;
    struct mqtt *m = connected_client(&o);
    ck_assert_msg(wait_message(m, topic, "while-away", 5000, NULL), "message kept while away lost");
    mqtt_free(m);

    /* A clean start throws the session away: nothing comes any more. */
    o.session_expiry_s = 0;
    m = connected_client(&o);
    publish_wait(pub, topic, "after-clean-start", 1, 0, 2, &ev);
    ck_assert(ev.ok);
    ck_assert_msg(!live_message_under(m, topic, 1000, got, sizeof(got)), "got %s", got);
    mqtt_free(m);
    mqtt_free(pub);
}
END_TEST

/* accept: what it refuses is dropped on Paho's thread, uncounted. */
static int only_keep(const char *topic, void *arg)
{
    const char *suffix = arg;
    size_t n = strlen(topic), k = strlen(suffix);
    return n >= k && strcmp(topic + n - k, suffix) == 0;
}

START_TEST(test_accept_filter_drops_uncounted)
{
    const char *base = uniq("t/accept");
    char keep[128], drop[128];
    struct mqtt_event ev;
    struct mqtt_stats st;

    snprintf(keep, sizeof(keep), "%s/keep", base);
    snprintf(drop, sizeof(drop), "%s/drop", base);
    struct mqtt_opts o = user_opts(uniq("acceptor"));
    char filter[128];
    snprintf(filter, sizeof(filter), "%s/#", base);
    o.subscriptions[0] = sub1(filter);
    o.nsubscriptions = 1;
    o.accept = only_keep;
    o.accept_arg = "/keep";
    struct mqtt *m = connected_client(&o);
    /* Not publish_wait(): it would pass over the messages coming back. */
    ck_assert_int_eq(mqtt_publish(m, drop, "d", 1, 1, 0, 1), 0);
    ck_assert_int_eq(mqtt_publish(m, keep, "k", 1, 1, 0, 2), 0);
    ck_assert_msg(wait_type(m, MQTT_EV_MESSAGE, &ev, 5000), "nothing arrived");
    ck_assert_str_eq(ev.topic, keep); /* "d" came first on the wire */
    mqtt_event_clear(&ev);
    mqtt_get_stats(m, &st);
    ck_assert_uint_eq(st.messages_dropped, 0);
    mqtt_free(m);
}
END_TEST

/* ---- the spare broker: frozen, killed, restarted ---- */

static pid_t spare_pid;

static int port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void spare_start(void)
{
    int port = atoi(env("MQTT_TEST_SPARE_PORT"));
    int64_t deadline = mono_ms() + 5000;

    spare_pid = fork();
    ck_assert_int_ge(spare_pid, 0);
    if (spare_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        int fd = open(path_in_tmp("spare.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        const char *bin =
            env("MQTT_TEST_MOSQUITTO") ? env("MQTT_TEST_MOSQUITTO") : "/usr/sbin/mosquitto";
        execl(bin, "mosquitto", "-c", env("MQTT_TEST_SPARE_CONF"), (char *)NULL);
        _exit(127);
    }
    while (!port_open(port)) {
        ck_assert_msg(mono_ms() < deadline, "spare mosquitto did not start");
        usleep(50000);
    }
}

static void spare_kill(void)
{
    if (spare_pid > 0) {
        kill(spare_pid, SIGKILL);
        waitpid(spare_pid, NULL, 0);
        spare_pid = 0;
    }
}

static void setup_spare(void)
{
    spare_pid = 0;
}

static void teardown_spare(void)
{
    spare_kill();
}

/* The broker freezes with 30 QoS 1 publishes outstanding (more than its
 * Receive Maximum of 20), then dies: every id gets exactly one failed
 * PUBLISHED before DISCONNECTED.  After the restart the client reconnects by
 * itself, subscribes again and receives a command; Paho's late results for
 * the publishes it still held produce no second event. */
START_TEST(test_broker_restart_fails_inflight_then_reconnects)
{
    enum { N = 30 };
    char cmd_topic[128], filter[128];
    struct mqtt_event ev;
    struct mqtt_stats st;
    int seen[N] = {0}, i, nfailed = 0;

    snprintf(cmd_topic, sizeof(cmd_topic), "t/gw-%d/cmd/test", (int)getpid());
    snprintf(filter, sizeof(filter), "t/gw-%d/cmd/#", (int)getpid());
    spare_start();
    struct mqtt_opts o = base_opts(uri_spare, uniq("restart"));
    o.subscriptions[0] = sub1(filter);
    o.nsubscriptions = 1;
    o.max_inflight = 64;
    struct mqtt *m = connected_client(&o);

    ck_assert_int_eq(kill(spare_pid, SIGSTOP), 0);
    for (i = 0; i < N; i++)
        ck_assert_int_eq(mqtt_publish(m, uniq("t/inflight"), "{}", 2, 1, 0, 1000 + (uint64_t)i), 0);
    usleep(300000);
    spare_kill();

    for (;;) {
        ck_assert_msg(next_event(m, &ev, 10000), "no DISCONNECTED");
        if (ev.type == MQTT_EV_DISCONNECTED)
            break;
        ck_assert_int_eq(ev.type, MQTT_EV_PUBLISHED);
        ck_assert_msg(!ev.ok, "id %llu reported ok", (unsigned long long)ev.id);
        ck_assert(ev.id >= 1000 && ev.id < 1000 + N);
        ck_assert_msg(seen[ev.id - 1000]++ == 0, "id %llu twice", (unsigned long long)ev.id);
        nfailed++;
    }
    mqtt_event_clear(&ev);
    ck_assert_int_eq(nfailed, N);
    ck_assert_int_eq(mqtt_connected(m), 0);
    mqtt_get_stats(m, &st);
    ck_assert_int_eq(st.inflight, 0);
    /* Paho itself failed only what it had sent (the broker's 20). */
    fprintf(stderr, "restart: %d failed, %llu of them by us (Paho silent)\n", nfailed,
            (unsigned long long)st.failed_locally);
    ck_assert_int_eq(mqtt_publish(m, "t/x", "{}", 2, 1, 0, 1), -1);
    ck_assert_int_eq(errno, ENOTCONN);

    spare_start();
    ck_assert_msg(wait_type(m, MQTT_EV_CONNECTED, &ev, 10000), "no automatic reconnect");
    mqtt_event_clear(&ev);
    ck_assert_msg(wait_type(m, MQTT_EV_SUBSCRIBED, &ev, 5000), "not subscribed again");
    ck_assert(ev.ok);

    struct mqtt_opts so = base_opts(uri_spare, uniq("sender"));
    struct mqtt *sender = connected_client(&so);
    publish_wait(sender, cmd_topic, "{\"id\":\"c1\",\"verb\":\"test\"}", 1, 0, 1, &ev);
    ck_assert(ev.ok);
    ck_assert_msg(next_event(m, &ev, 5000), "no MESSAGE");
    ck_assert_int_eq(ev.type, MQTT_EV_MESSAGE); /* and no late PUBLISHED before it */
    ck_assert_str_eq(ev.topic, cmd_topic);
    ck_assert_str_eq(ev.payload, "{\"id\":\"c1\",\"verb\":\"test\"}");
    ck_assert_int_eq(ev.retained, 0);
    mqtt_event_clear(&ev);
    ck_assert_msg(!next_event(m, &ev, 500), "unexpected event %d", ev.type);

    publish_wait(m, uniq("t/after-restart"), "{}", 1, 0, 77, &ev);
    ck_assert(ev.ok);
    mqtt_get_stats(m, &st);
    ck_assert_uint_eq(st.connects, 2);
    ck_assert_uint_eq(st.disconnects, 1);
    /* Paho did stay silent on some, and has answered for all of them since. */
    ck_assert_uint_gt(st.failed_locally, 0);
    ck_assert_int_eq(st.awaiting_paho, 0);
    ck_assert_uint_eq(st.published_failed, N);
    ck_assert_uint_eq(st.published_ok, 1);
    mqtt_free(sender);
    mqtt_free(m);
}
END_TEST

/* The broker closes with a reason (spare.conf: max_packet_size 65536): the
 * publish fails, DISCONNECTED carries 0x95, and the client reconnects. */
START_TEST(test_broker_disconnect_reason_then_reconnect)
{
    static char big[70000];
    struct mqtt_event ev;
    struct mqtt_stats st;

    spare_start();
    struct mqtt_opts o = base_opts(uri_spare, uniq("toolarge"));
    struct mqtt *m = connected_client(&o);
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(mqtt_publish(m, uniq("t/big"), big, sizeof(big), 1, 0, 501), 0);
    ck_assert_msg(next_event(m, &ev, 5000), "no event");
    ck_assert_int_eq(ev.type, MQTT_EV_PUBLISHED);
    ck_assert_uint_eq(ev.id, 501);
    ck_assert_int_eq(ev.ok, 0);
    ck_assert_msg(next_event(m, &ev, 5000), "no event");
    ck_assert_int_eq(ev.type, MQTT_EV_DISCONNECTED);
    ck_assert_int_eq(ev.reason, 0x95);
    ck_assert_msg(wait_type(m, MQTT_EV_CONNECTED, &ev, 10000), "no reconnect");
    publish_wait(m, uniq("t/small"), "{}", 1, 0, 502, &ev);
    ck_assert(ev.ok);
    mqtt_get_stats(m, &st);
    ck_assert_uint_eq(st.connects, 2);
    ck_assert_uint_eq(st.disconnects, 1);
    mqtt_free(m);
}
END_TEST

/* A command larger than max_message_bytes arrives flagged, without payload. */
START_TEST(test_oversized_message_is_flagged)
{
    const char *topic = uniq("t/big/cmd");
    struct mqtt_event ev;
    char big[300];

    spare_start();
    struct mqtt_opts o = base_opts(uri_spare, uniq("small"));
    o.subscriptions[0] = sub1(topic);
    o.nsubscriptions = 1;
    o.max_message_bytes = 256;
    struct mqtt *m = connected_client(&o);
    struct mqtt_opts so = base_opts(uri_spare, uniq("bigsender"));
    struct mqtt *sender = connected_client(&so);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    publish_wait(sender, topic, big, 1, 0, 1, &ev);
    ck_assert_msg(wait_type(m, MQTT_EV_MESSAGE, &ev, 5000), "no MESSAGE");
    ck_assert_int_eq(ev.oversized, 1);
    ck_assert_ptr_null(ev.payload);
    ck_assert_uint_eq(ev.len, sizeof(big) - 1);
    mqtt_event_clear(&ev);
    mqtt_free(sender);
    mqtt_free(m);
}
END_TEST

/* ---- TLS, one case per run (tests/integration/test_mqtt_tls.sh) ---- */

START_TEST(test_tls_case)
{
    const char *expect = env("MQTT_TEST_TLS_EXPECT");
    struct mqtt_opts o = base_opts(env("MQTT_TEST_TLS_URI"), uniq("tls"));
    struct mqtt_event ev;
    char err[256];

    ck_assert_ptr_nonnull(expect);
    o.ca_file = env("MQTT_TEST_TLS_CA");
    o.cert_file = env("MQTT_TEST_TLS_CERT");
    o.key_file = env("MQTT_TEST_TLS_KEY");
    struct mqtt *m = mqtt_new(&o, err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_int_eq(mqtt_start(m, err, sizeof(err)), 0);
    ck_assert_msg(next_event(m, &ev, 10000), "neither CONNECTED nor CONNECT_FAILED");
    fprintf(stderr, "tls %s: event %d reason %d: %s\n", o.uris[0], ev.type, ev.reason, ev.detail);
    if (!strcmp(expect, "connect")) {
        ck_assert_msg(ev.type == MQTT_EV_CONNECTED, "refused: %s", ev.detail);
        publish_wait(m, uniq("t/tls"), "{\"tls\":true}", 1, 0, 3, &ev);
        ck_assert_msg(ev.ok, "publish over TLS failed: %s", ev.detail);
    } else {
        ck_assert_msg(ev.type == MQTT_EV_CONNECT_FAILED, "expected a refusal, got event %d",
                      ev.type);
        mqtt_event_clear(&ev);
        ck_assert_msg(!wait_type(m, MQTT_EV_CONNECTED, &ev, 3000), "connected on retry");
    }
    mqtt_event_clear(&ev);
    mqtt_free(m);
}
END_TEST

static Suite *mqtt_suite(void)
{
    Suite *s = suite_create("mqtt");
    TCase *tc = tcase_create("pure");
    tcase_add_unchecked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_loop_test(tc, test_new_rejects_bad_options, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_new_accepts_valid_options_without_connecting);
    tcase_add_test(tc, test_client_id_made_up_when_not_given);
    tcase_add_test(tc, test_password_file_first_line);
    tcase_add_test(tc, test_password_file_errors_hide_the_secret);
    tcase_add_test(tc, test_publish_refused_until_connected);
    tcase_add_test(tc, test_refused_first_connect_is_reported);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);

    if (env("MQTT_TEST_PORT")) {
        snprintf(uri_live, sizeof(uri_live), "tcp://127.0.0.1:%s", env("MQTT_TEST_PORT"));
        snprintf(uri_dead, sizeof(uri_dead), "tcp://127.0.0.1:%s",
                 env("MQTT_TEST_DEAD_PORT") ? env("MQTT_TEST_DEAD_PORT") : "1");
        tc = tcase_create("broker");
        tcase_add_unchecked_fixture(tc, setup_tmp, teardown_tmp);
        tcase_add_test(tc, test_qos1_publish_reports_ok_with_its_id);
        tcase_add_test(tc, test_password_file_crlf_connects);
        tcase_add_test(tc, test_bad_password_is_refused_with_reason);
        tcase_add_test(tc, test_retained_message_reaches_late_subscriber);
        tcase_add_test(tc, test_will_published_when_process_killed);
        tcase_add_test(tc, test_orderly_free_publishes_will);
        tcase_add_test(tc, test_puback_refusal_fails_the_publish);
        tcase_add_test(tc, test_failover_to_second_uri);
        tcase_add_test(tc, test_session_takeover_disconnects_the_older);
        tcase_add_test(tc, test_will_less_client_leaves_no_will);
        tcase_add_test(tc, test_shared_subscription_delivers_each_message_once);
        tcase_add_test(tc, test_subscription_options_are_per_filter);
        tcase_add_test(tc, test_persistent_session_keeps_messages_while_away);
        tcase_add_test(tc, test_accept_filter_drops_uncounted);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
    } else {
        printf("mqtt broker tests not run: MQTT_TEST_PORT unset "
               "(tests/integration/test_mqtt_transport.sh runs them)\n");
    }
    if (env("MQTT_TEST_SPARE_PORT") && env("MQTT_TEST_SPARE_CONF")) {
        snprintf(uri_spare, sizeof(uri_spare), "tcp://127.0.0.1:%s", env("MQTT_TEST_SPARE_PORT"));
        tc = tcase_create("restart");
        tcase_add_unchecked_fixture(tc, setup_tmp, teardown_tmp);
        tcase_add_checked_fixture(tc, setup_spare, teardown_spare);
        tcase_add_test(tc, test_broker_restart_fails_inflight_then_reconnects);
        tcase_add_test(tc, test_oversized_message_is_flagged);
        tcase_add_test(tc, test_broker_disconnect_reason_then_reconnect);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
    }
    if (env("MQTT_TEST_TLS_URI")) {
        tc = tcase_create("tls");
        tcase_add_test(tc, test_tls_case);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mqtt_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
