#ifndef PORTCULLIS_SCANNER_WORKPOOL_H
#define PORTCULLIS_SCANNER_WORKPOOL_H

/*
 * A fixed pool of worker threads that run submitted jobs in FIFO order.
 * Layer scans block on their source and burn CPU in decompression, so they
 * run here rather than on the network thread. A job reports its own
 * completion (the proxy marshals results back to its event loop).
 */

/* Maximum number of worker threads in one pool. */
#define WORKPOOL_MAX_THREADS 256U

struct workpool;

/*
 * Starts threads workers (1..WORKPOOL_MAX_THREADS; 0 means one per online
 * CPU). Returns NULL when out of memory or when a thread cannot start.
 */
struct workpool *workpool_new(unsigned threads);

/*
 * Queues fn(arg) to run on a worker. Safe from any thread, never blocks on
 * a running job. Returns PC_OK, PC_ERR_NOMEM, or PC_ERR_INVALID once
 * workpool_free() has begun.
 */
int workpool_submit(struct workpool *p, void (*fn)(void *arg), void *arg);

/* Returns the number of worker threads. */
unsigned workpool_threads(const struct workpool *p);

/*
 * Runs every queued job to completion, joins the workers and frees the
 * pool. Must not be called from a job of the same pool. NULL is a no-op.
 */
void workpool_free(struct workpool *p);

#endif
