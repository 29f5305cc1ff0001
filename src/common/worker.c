#include "worker.h"

#include "err.h"
#include "mem.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>

#define DRAIN_ROUNDS 8

struct job {
    struct job *next;
    scc_worker_fn fn, done;
    void *arg;
};

struct queue {
    struct job *head, *tail;
    size_t len;
};

struct scc_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* work for the thread */
    pthread_cond_t idle; /* the thread ran out of work (scc_worker_drain) */
    struct queue todo, finished;
    size_t max_queue;
    bool stop, started, running;
    struct event *done_ev;
};

static void
push(struct queue *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
}

static struct job *
pop(struct queue *q)
{
    struct job *j = q->head;

    if (j) {
        q->head = j->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->len--;
    }
    return j;
}

static void *
thread_main(void *arg)
{
    struct scc_worker *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct job *j;

        while (w->todo.head == NULL && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if ((j = pop(&w->todo)) == NULL)
            break; /* stop requested and nothing left */
        w->running = true;
        pthread_mutex_unlock(&w->mu);
        j->fn(j->arg);
        pthread_mutex_lock(&w->mu);
        w->running = false;
        push(&w->finished, j);
        event_active(w->done_ev, 0, 0);
        if (w->todo.head == NULL)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void
run_done(evutil_socket_t fd, short what, void *arg)
{
    struct scc_worker *w = arg;
    struct queue q;
    struct job *j;

    (void)fd, (void)what;
    pthread_mutex_lock(&w->mu);
    q = w->finished;
    w->finished = (struct queue){NULL, NULL, 0};
    pthread_mutex_unlock(&w->mu);
    while ((j = pop(&q)) != NULL) {
        if (j->done)
            j->done(j->arg);
        scc_free(j);
    }
}

int
scc_worker_new(struct event_base *base, size_t max_queue, struct scc_worker **out)
{
    struct scc_worker *w = scc_calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return SCC_ENOMEM;
    w->max_queue = max_queue;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    if ((w->done_ev = event_new(base, -1, 0, run_done, w)) == NULL ||
        pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        scc_worker_free(w);
        return SCC_ENOMEM;
    }
    w->started = true;
    *out = w;
    return 0;
}

int
scc_worker_submit(struct scc_worker *w, scc_worker_fn fn, scc_worker_fn done, void *arg)
{
    struct job *j;

    pthread_mutex_lock(&w->mu);
    if (w->stop || w->todo.len >= w->max_queue) { /* a stopped thread would never run it */
        pthread_mutex_unlock(&w->mu);
        return SCC_EBUSY;
    }
    pthread_mutex_unlock(&w->mu);
    if ((j = scc_calloc(1, sizeof(*j))) == NULL)
        return SCC_ENOMEM;
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w->mu);
    push(&w->todo, j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

struct sync_job {
    scc_worker_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void
sync_fn(void *arg)
{
    struct sync_job *s = arg;

    s->fn(s->arg);
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int
scc_worker_run_sync(struct scc_worker *w, scc_worker_fn fn, void *arg)
{
    struct sync_job s = {.fn = fn, .arg = arg};
    int rc;

    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    if ((rc = scc_worker_submit(w, sync_fn, NULL, &s)) == 0) {
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
    }
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    return rc;
}

void
scc_worker_drain(struct scc_worker *w)
{
    /* Done callbacks may queue more work (a revocation refreshes the
     * revoked list): a few rounds take those too. */
    for (int round = 0; round < DRAIN_ROUNDS; round++) {
        bool idle;

        pthread_mutex_lock(&w->mu);
        while (w->todo.head != NULL || w->running)
            pthread_cond_wait(&w->idle, &w->mu);
        idle = w->finished.head == NULL;
        pthread_mutex_unlock(&w->mu);
        if (idle)
            return;
        run_done(-1, 0, w);
    }
}

void
scc_worker_free(struct scc_worker *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    run_done(-1, 0, w);
    if (w->done_ev)
        event_free(w->done_ev);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle);
    scc_free(w);
}
