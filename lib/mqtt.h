/*
 * mqtt: the MQTT 5 client of every program (docs/design.md sections 10, 14),
 * on Paho C's async client: the gateway's uplink, shelter-watch, and the
 * centre's daemons.  The main thread owns the struct; Paho's threads only
 * append to an internal event queue and signal mqtt_fd().  Nothing is kept on
 * disk and nothing is buffered while disconnected, so a publish is either in
 * flight on the current connection or refused: the gateway's SQLite outbox
 * stays the source of truth.
 *
 * Delivery contract: every mqtt_publish() that returns 0 is answered by
 * exactly one MQTT_EV_PUBLISHED event carrying its id -- ok only when the
 * broker acknowledged it (QoS 1: PUBACK with a reason code < 0x80; QoS 0:
 * written to the socket).  When the connection drops, every publish still in
 * flight is failed before the MQTT_EV_DISCONNECTED event is returned, so after
 * DISCONNECTED nothing is in flight.  A failed id may have reached the broker
 * anyway (at-least-once: the centre drops duplicates by seq).
 *
 * Incoming messages: Paho sends a QoS 1 message's PUBACK when our callback
 * returns (Paho 1.3.12 calls it straight from the receive thread while its
 * own queue is empty, which it is: the callback never refuses a message).
 * By default the callback only queues the message, so a message still in
 * the queue when the process dies is not sent again by the broker.  A
 * receiver that must not lose one sets hold_messages: the callback then
 * waits until the main thread has stored the message (mqtt_message_done()),
 * and with a persistent session (session_expiry_s) the broker sends again
 * whatever was not acknowledged when the process died.
 *
 * What differs between programs is optional: the client id (made up when not
 * given), the will, the subscriptions and their options (QoS, retain as
 * published, no local, shared subscriptions $share/GROUP/FILTER), a
 * persistent session, and a filter on incoming topics.
 *
 * Thread: every function here is for the main thread only.  Paho's threads
 * are started with every asynchronous signal blocked, so signals reach the
 * program's own threads only.
 */
#ifndef GW_MQTT_H
#define GW_MQTT_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_URI_MAX 4
#define MQTT_SUB_MAX 16
#define MQTT_DETAIL_MAX 160
#define MQTT_CLIENT_ID_MAX 128 /* a made-up client id, NUL included */
#define MQTT_HOLD_MAX_MS 10000 /* hold_messages: at most this long (keepalive goes on) */

struct mqtt;

/* One subscription, (re)made on every connect.  Zero options: QoS 0, the
 * broker clears the retain flag of what it forwards live, our own
 * publications come back. */
struct mqtt_sub {
    const char *filter;      /* a topic filter, or $share/{group}/{filter} (MQTT 5 shared
                              * subscription: each message goes to one of the group;
                              * mosquitto 2.0.11 sends the retained messages to the member
                              * that subscribes, other brokers may send none) */
    int qos;                 /* 0 or 1 */
    int retain_as_published; /* keep the retain flag on live messages: a retained command
                              * published while we are connected still looks retained */
    int no_local;            /* not our own publications (not on a shared subscription) */
};

/* What mqtt_new() needs.  Strings are copied; NULL or "" means "not set".
 * Zero numeric fields take the default given. */
struct mqtt_opts {
    const char *uris[MQTT_URI_MAX]; /* tcp://host:port or ssl://host:port, tried in order */
    int nuris;                      /* 1..MQTT_URI_MAX; all tcp:// or all ssl:// */
    const char *client_id;          /* the gateway's id; NULL or "": made up from
                                     * client_id_prefix, the pid, a time and the host (see
                                     * mqtt_client_id()) */
    const char *client_id_prefix;   /* default "shelter" */
    const char *username;
    const char *password_file;    /* first line is the password; needs username */
    const char *ca_file;          /* ssl:// only: trust store (else system CAs) */
    const char *cert_file;        /* ssl:// only: client certificate (mutual TLS) */
    const char *key_file;         /* ssl:// only: its key, if not in cert_file */
    int keepalive_s;              /* default 30; a silent broker is noticed after ~2-3x */
    int connect_timeout_s;        /* per attempt and URI; default 10 */
    int retry_min_s, retry_max_s; /* reconnect backoff, doubling; default 1, 30 (Paho
                                   * reconnects ~3 s later than this at the earliest) */
    int manual_reconnect;         /* 1: Paho does not reconnect by itself (the backoff
                                   * above is unused); the owner calls mqtt_reconnect() on
                                   * its own schedule and every failed attempt is a
                                   * CONNECT_FAILED event.  Paho checks its own schedule
                                   * only every 3 s, too slow to be back within 2 s of a
                                   * broker's return */
    const char *will_topic;       /* will: retained, QoS 1; NULL or "": no will */
    const char *will_payload;     /* default {"online":false}; needs will_topic */
    unsigned will_expiry_s;       /* MQTT 5 Message Expiry Interval of the will; 0: none.  The
                                   * broker forwards a retained message with what is left of
                                   * it, so a receiver learns when the will was published */
    struct mqtt_sub subscriptions[MQTT_SUB_MAX]; /* (re)subscribed on every connect, in one
                                                  * SUBSCRIBE, in this order */
    int nsubscriptions;
    int session_expiry_s; /* 0: every connect starts a clean session (nothing is kept for
                           * us while away).  > 0: the broker keeps the session (its
                           * subscriptions, and QoS 1 messages for them) this long after
                           * a disconnect, and a connect with the same client id resumes
                           * it; Paho then also resends what it had in flight */
    /* Called on Paho's threads for each incoming message before it is queued:
     * 0 drops it, uncounted.  Must be pure (it races with everything else). */
    int (*accept)(const char *topic, void *accept_arg);
    void *accept_arg;
    /* Each incoming message waits in Paho's callback (so no PUBACK goes)
     * until the main thread calls mqtt_message_done() with its hold, or
     * MQTT_HOLD_MAX_MS passed, or the main thread makes a Paho call of its
     * own (a publish, mqtt_free()), which Paho would block on.  One message
     * at a time comes in: take them promptly.  mqtt_free() releases a held
     * message (Paho acknowledges it); to leave it to the broker's session,
     * exit without mqtt_free(), as a kill -9 would. */
    int hold_messages;
    int max_inflight;         /* publishes awaiting their result; default 10.  Keep it
                               * at or below the broker's Receive Maximum (mosquitto
                               * 20, HiveMQ 10): Paho holds the excess, and after a
                               * disconnect sends it although we reported it failed */
    size_t max_message_bytes; /* larger incoming payloads arrive as oversized; default 16 KiB */
    int max_queued_messages;  /* incoming messages not yet taken; more are dropped; default 64 */
};

enum mqtt_event_type {
    MQTT_EV_NONE,
    MQTT_EV_CONNECTED,      /* detail: server URI (first connect) or "automatic reconnect";
                             * the filters are being subscribed again */
    MQTT_EV_CONNECT_FAILED, /* the first connect failed (reason: CONNACK refusal, e.g. 0x86,
                             * 0x87; else code + detail).  Paho retries silently after it */
    MQTT_EV_DISCONNECTED,   /* connection lost (reason if the broker sent DISCONNECT); every
                             * publish in flight got its failed PUBLISHED before this.
                             * Reconnecting goes on by itself */
    MQTT_EV_SUBSCRIBED,     /* after each CONNECTED with filters: ok, or the refusal's reason */
    MQTT_EV_PUBLISHED,      /* id, ok, reason, code, detail (on failure) */
    MQTT_EV_MESSAGE,        /* topic, payload, len, retained, oversized */
};

struct mqtt_event {
    enum mqtt_event_type type;
    uint64_t id; /* PUBLISHED: the id given to mqtt_publish() */
    int ok;      /* PUBLISHED, SUBSCRIBED */
    int reason;  /* MQTT 5 reason code from the broker (>= 0x80 is a refusal), -1 if none */
    int code;    /* Paho error code (MQTTASYNC_*) for failures the broker did not answer, else 0 */
    char detail[MQTT_DETAIL_MAX]; /* human-readable; never holds a secret */
    /* MESSAGE: owned by the event until mqtt_event_clear() */
    char *topic;
    void *payload;    /* NUL-terminated for convenience (not counted in len); NULL if oversized */
    size_t len;       /* the payload's length as received */
    int retained;     /* as published: also set on a retained message forwarded live */
    int64_t expiry_s; /* MQTT 5 Message Expiry Interval as received (what is left of the
                       * publisher's: the time it waited in the broker is taken off), -1: none */
    int oversized;    /* len > max_message_bytes: payload dropped, reject the command */
    uint64_t hold;    /* hold_messages: give it to mqtt_message_done() once stored */
};

struct mqtt_stats {
    int connected; /* as seen through the events returned so far */
    int inflight;
    uint64_t published_ok, published_failed;
    uint64_t failed_locally;   /* in-flight publishes failed by us on disconnect, Paho silent */
    int awaiting_paho;         /* of those, how many Paho has not reported on yet */
    uint64_t messages_dropped; /* incoming messages over max_queued_messages */
    uint64_t holds_cut;        /* hold_messages: released by a timeout or a Paho call of ours */
    uint64_t connects, disconnects;
};

/* Validate opts and read the password file; nothing connects yet.  Returns
 * NULL with a reason in err (errno EGW_CONFIG, or the system errno of a file
 * that cannot be read).  The password never appears in err or in any log. */
struct mqtt *mqtt_new(const struct mqtt_opts *o, char *err, size_t errlen);

/* Can path serve as password_file?  The same rules as mqtt_new(): readable,
 * a first line that is neither empty nor longer than 1024 bytes.  0, or -1
 * with errno and "PATH: reason" in why (never the contents).  Any thread. */
int mqtt_password_check(const char *path, char *why, size_t len);

/* The client id in use (given, or made up by mqtt_new()).  Valid until
 * mqtt_free(). */
const char *mqtt_client_id(const struct mqtt *m);

/* Begin connecting in the background; Paho reconnects by itself forever with
 * doubling backoff, through the URIs in order; without session_expiry_s each
 * session is clean (nothing resent by Paho or the broker: the gateway's
 * outbox resends).  0, or -1 with errno (EALREADY, EIO) and err. */
int mqtt_start(struct mqtt *m, char *err, size_t errlen);

/* manual_reconnect: try to connect now, unless started, not connected and
 * no attempt is under way (then 0 and nothing happens: 1 means an attempt
 * began).  Its outcome is a CONNECTED or CONNECT_FAILED event.  -1 with
 * errno (EIO) when Paho refused to try. */
int mqtt_reconnect(struct mqtt *m);

/* Readable while events are queued; poll it for POLLIN and then call
 * mqtt_next_event() until it returns 0. */
int mqtt_fd(const struct mqtt *m);

/* Pop the next event into ev (cleared first).  1 if one was popped, 0 if none
 * is left (the fd is then drained).  A MESSAGE's topic and payload belong to
 * ev until mqtt_event_clear(). */
int mqtt_next_event(struct mqtt *m, struct mqtt_event *ev);
void mqtt_event_clear(struct mqtt_event *ev);

/* hold_messages: the message with this hold (and every one before it) is
 * stored: Paho may acknowledge it.  0 is a no-op. */
void mqtt_message_done(struct mqtt *m, uint64_t hold);

/* Hand a message (qos 0 or 1) to Paho.  0: a PUBLISHED event with this id
 * will follow.
 * -1 with errno: ENOTCONN (not connected as the events have told so far),
 * EGW_FULL (max_inflight reached), EINVAL (bad topic, qos or length), ENOMEM,
 * EIO (Paho refused otherwise); nothing follows, the caller retries later.
 * Paho copies topic and payload. */
int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retained, uint64_t id);

/* 1 between a CONNECTED and the next DISCONNECTED event returned, else 0. */
int mqtt_connected(const struct mqtt *m);
void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *st);

/* Disconnect (waiting up to 2 s; with a will, MQTT 5 reason 0x04 so the
 * broker publishes it: the gateway is offline) and destroy.  Events not yet
 * taken and publishes in flight are dropped unreported: the outbox still holds
 * them.  NULL is a no-op. */
void mqtt_free(struct mqtt *m);

/* Make the next disconnect (mqtt_free()) a normal one: the broker discards
 * the will instead of publishing it.  For replacing a client by one whose
 * will is newer without telling the world the program went offline. */
void mqtt_drop_will(struct mqtt *m);

/* MQTT 5 reason code name ("not authorized"), for log lines. */
const char *mqtt_reason_str(int reason);

#endif
