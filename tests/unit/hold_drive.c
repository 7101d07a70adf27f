/*
 * hold_drive: a driver for tests/integration/test_mqtt_hold.sh, on
 * lib/mqtt's hold_messages: subscribe to one topic on a persistent session
 * and print each message; with --keep, never say it is stored (the test
 * then kills it -9 and expects the broker to send it again), with
 * --no-hold, let Paho acknowledge it at once (the test expects it lost).
 *
 *   hold_drive --broker URI --client-id ID --topic T [--keep] [--no-hold]
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mqtt.h"

int main(int argc, char **argv)
{
    struct mqtt_opts o = {0};
    struct mqtt *m;
    char err[256];
    int keep = 0, hold = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--no-hold") == 0)
            hold = 0;
        else if (i + 1 < argc && strcmp(argv[i], "--broker") == 0)
            o.uris[o.nuris++] = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--client-id") == 0)
            o.client_id = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--topic") == 0)
            o.subscriptions[o.nsubscriptions++] = (struct mqtt_sub){.filter = argv[++i], .qos = 1};
        else {
            fprintf(stderr, "usage: hold_drive --broker URI --client-id ID --topic T [--keep] "
                            "[--no-hold]\n");
            return 64;
        }
    }
    log_init(0);
    o.session_expiry_s = 300;
    o.hold_messages = hold;
    if ((m = mqtt_new(&o, err, sizeof(err))) == NULL || mqtt_start(m, err, sizeof(err)) < 0) {
        fprintf(stderr, "hold_drive: %s\n", err);
        return 1;
    }
    for (;;) {
        struct pollfd p = {.fd = mqtt_fd(m), .events = POLLIN};
        struct mqtt_event ev;
        poll(&p, 1, 1000);
        while (mqtt_next_event(m, &ev) == 1) {
            if (ev.type == MQTT_EV_SUBSCRIBED)
                printf("subscribed\n");
            if (ev.type == MQTT_EV_MESSAGE) {
                printf("got %s\n", ev.payload != NULL ? (char *)ev.payload : "");
                if (!keep)
                    mqtt_message_done(m, ev.hold);
            }
            fflush(stdout);
            mqtt_event_clear(&ev);
        }
    }
}
