/*
 * The machine's floor without Python: N parked POSIX threads, each started by one semaphore
 * post, that only sleep L = 20 ms; median of 21 rounds against one such sleep, as
 * bench_group_scaling.py's "floor" column does with Python threads.
 *
 * Why it exists: at N = 32 the group-scaling speedup target (0.95 x N) is out of reach of
 * Python threads that do nothing but wait, on CPython 3.11 and on free-threaded 3.13 alike.
 * This shows how much of that is the kernel and hypervisor (little) and how much the
 * interpreter's thread hand-off (the rest). Not part of any test run:
 *
 *     cc -O2 -pthread -o /tmp/thread_floor benchmarks/thread_floor.c && /tmp/thread_floor
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 64
#define ROUNDS 21

static sem_t go[MAX_THREADS];
static sem_t done;
static volatile int stopping;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void wait_latency(void) {
    struct timespec latency = {0, 20 * 1000 * 1000};
    nanosleep(&latency, NULL);
}

static void *branch(void *arg) {
    long index = (long)arg;
    for (;;) {
        sem_wait(&go[index]);
        if (stopping) return NULL;
        wait_latency();
        sem_post(&done);
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values) {
    qsort(values, ROUNDS, sizeof *values, by_value);
    return values[ROUNDS / 2];
}

int main(void) {
    double rounds[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double started = now();
        wait_latency();
        rounds[r] = now() - started;
    }
    double one_wait = median(rounds);
    printf("one wait of L: %.3f ms\n", one_wait * 1e3);

    const int widths[] = {2, 4, 8, 16, 32};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int n = widths[w];
        pthread_t threads[MAX_THREADS];
        sem_init(&done, 0, 0);
        for (long i = 0; i < n; i++) {
            sem_init(&go[i], 0, 0);
            pthread_create(&threads[i], NULL, branch, (void *)i);
        }
        for (int r = 0; r < ROUNDS; r++) {
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
            double started = now();
            for (int i = 0; i < n; i++) sem_post(&go[i]);
            for (int i = 0; i < n; i++) sem_wait(&done);
            rounds[r] = now() - started;
        }
        double group = median(rounds);
        printf("N = %2d: %.3f ms, speedup %.2fx (target %.2fx)\n", n, group * 1e3,
               n * one_wait / group, 0.95 * n);
        stopping = 1;
        for (int i = 0; i < n; i++) sem_post(&go[i]);
        for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
        stopping = 0;
    }
    return 0;
}
