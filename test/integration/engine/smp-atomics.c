// The guest program of smp-atomics.test.ts (built with Debian's riscv64 cross compiler,
// -static -O2 -pthread): THREADS threads each add 1 to one shared counter ITERATIONS times with
// an atomic add (amoadd), then ITERATIONS times under one pthread mutex (glibc: lr/sc and futex).
// Any lost update — an AMO or an SC that is not atomic across harts, a missed futex wake-up —
// shows as a total below THREADS * ITERATIONS (or as a hang).
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long atomic_total;
static long mutex_total;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long iterations;

static void *work(void *unused) {
  (void)unused;
  for (long i = 0; i < iterations; i++) atomic_fetch_add_explicit(&atomic_total, 1, memory_order_relaxed);
  for (long i = 0; i < iterations; i++) {
    pthread_mutex_lock(&mutex);
    mutex_total++;
    pthread_mutex_unlock(&mutex);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  iterations = argc > 2 ? atol(argv[2]) : 1000000;
  pthread_t ids[64];
  if (threads < 1 || threads > 64) return 2;
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&ids[t], NULL, work, NULL) != 0) return 3;
  }
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  printf("atomic %ld mutex %ld\n", (long)atomic_load(&atomic_total), mutex_total);
  return 0;
}
