/*
 * exec: see exec.h.  A waiting run is a job in a ring; a running one a slot
 * with its pid.  The JSON goes to the child through a memfd as its stdin, so
 * there is no pipe to feed and nothing blocks on a slow CMD.  Everything the
 * child needs (its environment) is built before fork(): the child of a
 * threaded process (Paho's threads) may only call async-signal-safe
 * functions until it execs.
 */
#include "exec.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define TOPIC_VAR "SHELTER_ALARM_TOPIC="

struct job {
    char *json; /* the alarm payload as received */
    char *topic;
    char what[200]; /* "gateway sensor alarm seq N" for log lines */
};

struct child {
    pid_t pid; /* 0: slot free */
    int64_t started_ms;
    bool killed;
    char what[200];
};

struct exec {
    char *cmd;
    int max_running, max_queued, timeout_ms, drain_ms;
    struct child *running; /* max_running slots */
    int nrunning;
    struct job *queue; /* ring of max_queued */
    int qhead, qlen;
};

struct exec *exec_new(const struct exec_opts *o)
{
    struct exec *x;

    if (o == NULL || o->cmd == NULL || o->max_running < 0 || o->max_queued < 0 ||
        o->timeout_ms < 0 || o->drain_ms < 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL)
        return NULL;
    x->max_running = o->max_running ? o->max_running : 4;
    x->max_queued = o->max_queued ? o->max_queued : 256;
    x->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
    x->drain_ms = o->drain_ms ? o->drain_ms : 5000;
    x->cmd = strdup(o->cmd);
    x->running = calloc((size_t)x->max_running, sizeof(*x->running));
    x->queue = calloc((size_t)x->max_queued, sizeof(*x->queue));
    if (x->cmd == NULL || x->running == NULL || x->queue == NULL) {
        free(x->cmd);
        free(x->running);
        free(x->queue);
        free(x);
        errno = ENOMEM;
        return NULL;
    }
    return x;
}

static void job_clear(struct job *j)
{
    free(j->json);
    free(j->topic);
    memset(j, 0, sizeof(*j));
}

static void job_pop(struct exec *x)
{
    job_clear(&x->queue[x->qhead]);
    x->qhead = (x->qhead + 1) % x->max_queued;
    x->qlen--;
}

/* The environment of a child: ours plus SHELTER_ALARM_TOPIC, which is the
 * last entry (and the only one allocated besides the array). */
extern char **environ;
static char **child_env(const char *topic)
{
    size_t n = 0, k = 0;
    char **env, *var;

    while (environ[n] != NULL)
        n++;
    if ((env = calloc(n + 2, sizeof(*env))) == NULL)
        return NULL;
    if ((var = malloc(strlen(TOPIC_VAR) + strlen(topic) + 1)) == NULL) {
        free(env);
        return NULL;
    }
    sprintf(var, "%s%s", TOPIC_VAR, topic);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], TOPIC_VAR, strlen(TOPIC_VAR)) != 0)
            env[k++] = environ[i];
    env[k++] = var;
    env[k] = NULL;
    return env;
}

static void child_env_free(char **env)
{
    if (env != NULL) {
        size_t k = 0;
        while (env[k] != NULL)
            k++;
        if (k > 0)
            free(env[k - 1]); /* ours is the last one */
        free(env);
    }
}

/* Start a job in a free slot: 0, or -1 after logging why. */
static int start(struct exec *x, struct job *j)
{
    int fd = -1, slot;
    char **env = NULL;
    size_t len = strlen(j->json), off = 0;
    pid_t pid;

    for (slot = 0; slot < x->max_running && x->running[slot].pid != 0; slot++)
        ;
    if (slot == x->max_running)
        return -1;
    if ((fd = memfd_create("shelter-watch-alarm", MFD_CLOEXEC)) == -1) {
        log_warn("--exec for %s: memfd_create", j->what);
        return -1;
    }
    while (off < len) {
        ssize_t w = write(fd, j->json + off, len - off);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("--exec for %s: write", j->what);
            goto fail;
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) == -1 || (env = child_env(j->topic)) == NULL) {
        log_warn("--exec for %s", j->what);
        goto fail;
    }
    fflush(stdout);
    if ((pid = fork()) == -1) {
        log_warn("--exec for %s: fork", j->what);
        goto fail;
    }
    if (pid == 0) {
        /* Own process group: a Ctrl-C for the watcher does not cut a
         * notification short, and a hung CMD is killed as a whole. */
        struct sigaction dfl;
        sigset_t none;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        sigaction(SIGCHLD, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        if (dup2(fd, STDIN_FILENO) == -1)
            _exit(126);
        execle("/bin/sh", "sh", "-c", x->cmd, (char *)NULL, env);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first */
    close(fd);
    child_env_free(env);
    x->running[slot] = (struct child){.pid = pid, .started_ms = mono_ms()};
    memcpy(x->running[slot].what, j->what, sizeof(j->what)); /* same size, NUL-terminated */
    x->nrunning++;
    log_debug("--exec for %s: pid %ld", j->what, (long)pid);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    child_env_free(env);
    return -1;
}

void exec_add(struct exec *x, const char *json, const char *topic, const char *what)
{
    struct job *j;

    if (x->qlen == x->max_queued) {
        /* Bounded: the oldest waiting run goes, loudly (the line was printed). */
        log_warnx("--exec for %s dropped: %d runs waiting", x->queue[x->qhead].what, x->max_queued);
        job_pop(x);
    }
    j = &x->queue[(x->qhead + x->qlen) % x->max_queued];
    j->json = strdup(json);
    j->topic = strdup(topic);
    snprintf(j->what, sizeof(j->what), "%s", what);
    if (j->json == NULL || j->topic == NULL) {
        log_warnx("--exec for %s: out of memory", what);
        job_clear(j);
        return;
    }
    x->qlen++;
}

void exec_pump(struct exec *x)
{
    while (x->qlen > 0 && x->nrunning < x->max_running) {
        struct job *j = &x->queue[x->qhead];
        if (start(x, j) == -1 && x->nrunning < x->max_running)
            log_warnx("--exec for %s not run", j->what);
        job_pop(x);
    }
}

void exec_reap(struct exec *x, int64_t now)
{
    for (int i = 0; i < x->max_running; i++) {
        struct child *ch = &x->running[i];
        int st;
        pid_t r;

        if (ch->pid == 0)
            continue;
        r = waitpid(ch->pid, &st, WNOHANG);
        if (r == ch->pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
                log_warnx("--exec for %s: exit status %d", ch->what, WEXITSTATUS(st));
            else if (WIFSIGNALED(st))
                log_warnx("--exec for %s: killed by signal %d%s", ch->what, WTERMSIG(st),
                          ch->killed ? " (took too long)" : "");
            else
                log_debug("--exec for %s: done", ch->what);
            ch->pid = 0;
            x->nrunning--;
        } else if (r == -1 && errno == ECHILD) {
            ch->pid = 0;
            x->nrunning--;
        } else if (!ch->killed && now - ch->started_ms >= x->timeout_ms) {
            log_warnx("--exec for %s: still running after %d s, killing it", ch->what,
                      x->timeout_ms / 1000);
            kill(-ch->pid, SIGKILL); /* its own process group, started by us */
            ch->killed = true;
        }
    }
}

int exec_running(const struct exec *x)
{
    return x->nrunning;
}

void exec_free(struct exec *x)
{
    int64_t until;

    if (x == NULL)
        return;
    until = mono_ms() + x->drain_ms;
    if (x->qlen > 0)
        log_warnx("%d --exec runs not started (exiting)", x->qlen);
    while (x->qlen > 0)
        job_pop(x);
    while (x->nrunning > 0 && mono_ms() < until) {
        exec_reap(x, mono_ms());
        if (x->nrunning > 0)
            poll(NULL, 0, 50);
    }
    for (int i = 0; i < x->max_running; i++)
        if (x->running[i].pid != 0) {
            log_warnx("--exec for %s: still running at exit, stopping it", x->running[i].what);
            kill(-x->running[i].pid, SIGTERM);
            waitpid(x->running[i].pid, NULL, 0);
            x->running[i].pid = 0;
        }
    free(x->cmd);
    free(x->running);
    free(x->queue);
    free(x);
}
