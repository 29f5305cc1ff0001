/*
 * worker.h - one background thread for blocking work (SQLite, fsync, key
 * generation) so that the event loop never blocks.
 *
 * fn runs on the worker thread; done then runs on the loop thread, in
 * submission order.  Jobs run one at a time, which also serialises every
 * writer of the state store without further locking.
 * The process must call evthread_use_pthreads() before creating the base.
 */
#ifndef SCC_COMMON_WORKER_H
#define SCC_COMMON_WORKER_H

#include <stddef.h>

struct event_base;
struct scc_worker;

typedef void (*scc_worker_fn)(void *arg);

/* scc_worker_new - start the thread; at most max_queue jobs may wait. */
int scc_worker_new(struct event_base *base, size_t max_queue, struct scc_worker **out);

/* scc_worker_submit - queue a job.  SCC_EBUSY when the queue is full or
 * the worker is being freed, SCC_ENOMEM.  done may be NULL. */
int scc_worker_submit(struct scc_worker *w, scc_worker_fn fn, scc_worker_fn done, void *arg);

/* scc_worker_run_sync - run fn on the worker and wait (start-up and
 * shutdown only, never from the running loop's callbacks). */
int scc_worker_run_sync(struct scc_worker *w, scc_worker_fn fn, void *arg);

/* scc_worker_drain - wait for every queued job, then run the done
 * callbacks due on the calling (loop) thread; repeat for a few
 * generations of jobs those callbacks queue.  Shutdown calls it before
 * freeing what the callbacks use. */
void scc_worker_drain(struct scc_worker *w);

/* scc_worker_free - finish queued jobs, run their done callbacks, join. */
void scc_worker_free(struct scc_worker *w);

#endif /* SCC_COMMON_WORKER_H */
