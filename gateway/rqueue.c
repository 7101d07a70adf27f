/*
 * rqueue: a mutex-protected ring of poll results plus an eventfd.  See
 * rqueue.h for the full policy.  Lock order: only q->lock, never nested.
 */
#include "rqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct rqueue {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    struct poll_result *ring;
    int capacity, head, count;
    int efd;
    int armed; /* the eventfd was written since the consumer last drained it */
};

struct rqueue *rqueue_new(int capacity)
{
    struct rqueue *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;

    if (q == NULL)
        return NULL;
    q->efd = -1;
    q->ring = calloc((size_t)capacity, sizeof(*q->ring));
    if (q->ring == NULL)
        goto fail;
    q->capacity = capacity;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd == -1)
        goto fail;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    return q;
fail:
    if (q->efd != -1)
        close(q->efd);
    free(q->ring);
    free(q);
    return NULL;
}

void rqueue_free(struct rqueue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_full);
    close(q->efd);
    free(q->ring);
    free(q);
}

int rqueue_fd(const struct rqueue *q)
{
    return q->efd;
}

/* Under the lock: arm the eventfd once per drain (one write wakes the
 * consumer, who then drains everything). */
static int arm(struct rqueue *q)
{
    uint64_t one = 1;

    if (q->armed || q->count == 0)
        return 0;
    q->armed = 1;
    /* EAGAIN only when the counter is at its maximum: the fd is readable anyway. */
    if (write(q->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
        return -1;
    return 0;
}

static int push(struct rqueue *q, const struct poll_result *r, const atomic_int *stop, int wake)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity) {
        if (stop != NULL && atomic_load(stop)) {
            pthread_mutex_unlock(&q->lock);
            errno = ECANCELED;
            return -1;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000000L; /* re-check the stop flag every 100 ms */
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        arm(q); /* full: whatever was held, the consumer must make room */
        pthread_cond_timedwait(&q->not_full, &q->lock, &until);
    }
    q->ring[(q->head + q->count) % q->capacity] = *r;
    q->count++;
    int rc = wake ? arm(q) : 0;
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int rqueue_push(struct rqueue *q, const struct poll_result *r, const atomic_int *stop)
{
    return push(q, r, stop, 1);
}

int rqueue_push_held(struct rqueue *q, const struct poll_result *r, const atomic_int *stop)
{
    return push(q, r, stop, 0);
}

void rqueue_wake(struct rqueue *q)
{
    pthread_mutex_lock(&q->lock);
    arm(q);
    pthread_mutex_unlock(&q->lock);
}

int rqueue_pop(struct rqueue *q, struct poll_result *r)
{
    int got = 0;

    pthread_mutex_lock(&q->lock);
    if (q->count > 0) {
        *r = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        got = 1;
        pthread_cond_signal(&q->not_full);
    }
    if (q->count == 0) {
        /* Drain the eventfd under the lock so a push racing with us re-arms it. */
        uint64_t v;
        ssize_t n = read(q->efd, &v, sizeof(v));
        (void)n; /* EAGAIN when already drained */
        q->armed = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

int rqueue_depth(struct rqueue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
