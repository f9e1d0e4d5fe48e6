#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/workpool.h"

static atomic_int counter;

static void
count_job(void *arg)
{
	atomic_fetch_add(&counter, 1);
}

static void
test_all_jobs_run_before_free(void **state)
{
	struct workpool *p = workpool_new(3);

	assert_non_null(p);
	assert_int_equal(workpool_threads(p), 3);
	atomic_store(&counter, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(workpool_submit(p, count_job, NULL), PC_OK);
	workpool_free(p);
	assert_int_equal(atomic_load(&counter), 1000);
}

static int order[100];
static int order_len;

static void
order_job(void *arg)
{
	order[order_len++] = (int)(intptr_t)arg;
}

static void
test_one_thread_keeps_fifo_order(void **state)
{
	struct workpool *p = workpool_new(1);

	assert_non_null(p);
	order_len = 0;
	for (intptr_t i = 0; i < 100; i++)
		assert_int_equal(workpool_submit(p, order_job, (void *)i), PC_OK);
	workpool_free(p);
	assert_int_equal(order_len, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(order[i], i);
}

/* Two jobs that each wait for the other prove that two run at once. */
struct rendezvous {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int arrived;
	int met;
};

static void
meet_job(void *arg)
{
	struct rendezvous *r = arg;
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&r->lock);
	r->arrived++;
	pthread_cond_broadcast(&r->cond);
	while (r->arrived < 2) {
		if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != 0)
			break;
	}
	if (r->arrived >= 2)
		r->met++;
	pthread_mutex_unlock(&r->lock);
}

static void
test_jobs_run_in_parallel(void **state)
{
	struct rendezvous r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0, 0};
	struct workpool *p = workpool_new(2);

	assert_non_null(p);
	assert_int_equal(workpool_submit(p, meet_job, &r), PC_OK);
	assert_int_equal(workpool_submit(p, meet_job, &r), PC_OK);
	workpool_free(p);
	assert_int_equal(r.met, 2);
}

static void
test_zero_threads_means_cpus(void **state)
{
	struct workpool *p = workpool_new(0);

	assert_non_null(p);
	assert_true(workpool_threads(p) >= 1);
	workpool_free(p);
	workpool_free(NULL);
}

static void
test_submit_without_memory_fails(void **state)
{
	struct workpool *p = workpool_new(1);

	assert_non_null(p);
	pc_alloc_fail_after(0);
	assert_int_equal(workpool_submit(p, count_job, NULL), PC_ERR_NOMEM);
	pc_alloc_fail_after(-1);
	workpool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_jobs_run_before_free),
		cmocka_unit_test(test_one_thread_keeps_fifo_order),
		cmocka_unit_test(test_jobs_run_in_parallel),
		cmocka_unit_test(test_zero_threads_means_cpus),
		cmocka_unit_test(test_submit_without_memory_fails),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
