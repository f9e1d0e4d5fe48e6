#include "scanner/workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

struct workpool_job {
	void (*fn)(void *arg);
	void *arg;
	struct workpool_job *next;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct workpool_job *head;
	struct workpool_job *tail;
	bool stopping;
	unsigned n_threads;
	pthread_t *threads;
};

static void *
workpool_worker(void *arg)
{
	struct workpool *p = arg;
	struct workpool_job *job;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		job = p->head;
		if (job == NULL) {
			/* Stopping, and the queue is drained. */
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		job->fn(job->arg);
		pc_free(job);
	}
}

/* Wakes and joins the first n workers. */
static void
workpool_stop(struct workpool *p, unsigned n)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
}

struct workpool *
workpool_new(unsigned threads)
{
	struct workpool *p;
	long cpus;

	if (threads == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (threads > WORKPOOL_MAX_THREADS)
		threads = WORKPOOL_MAX_THREADS;

	p = pc_calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->threads = pc_calloc(threads, sizeof(*p->threads));
	if (p->threads == NULL) {
		pc_free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, workpool_worker, p);

		if (rc != 0) {
			log_error("event=workpool_start_failed threads=%u started=%u "
			    "error=%d", threads, i, rc);
			p->n_threads = i;
			workpool_free(p);
			return NULL;
		}
	}
	p->n_threads = threads;
	return p;
}

int
workpool_submit(struct workpool *p, void (*fn)(void *arg), void *arg)
{
	struct workpool_job *job = pc_malloc(sizeof(*job));
	int err = PC_OK;

	if (job == NULL)
		return PC_ERR_NOMEM;
	job->fn = fn;
	job->arg = arg;
	job->next = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		err = PC_ERR_INVALID;
	} else {
		if (p->tail != NULL)
			p->tail->next = job;
		else
			p->head = job;
		p->tail = job;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
	if (err != PC_OK)
		pc_free(job);
	return err;
}

unsigned
workpool_threads(const struct workpool *p)
{
	return p->n_threads;
}

void
workpool_free(struct workpool *p)
{
	if (p == NULL)
		return;
	workpool_stop(p, p->n_threads);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	pc_free(p->threads);
	pc_free(p);
}
