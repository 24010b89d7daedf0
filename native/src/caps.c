/*
 * Dropping capabilities after setup (issue 9 "Privileges"), without libcap.
 *
 * dropCapabilities(keep: number[], keepAcrossSetuid?: boolean) → { threads, passes, unreachable }: for every thread of the process
 * (capabilities are per thread in Linux, and Node runs a libuv thread pool and V8 platform threads
 * next to the main one, which would otherwise keep everything and run fs calls such as chown):
 *   1. securebits NOROOT | NOROOT_LOCKED: an execve as uid 0 no longer grants every capability
 *      (with keepAcrossSetuid also NO_SETUID_FIXUP: a setuid away from 0 keeps the sets, see
 *      src/platform/privileges.ts for the switch to `option user`);
 *   2. prctl(PR_CAPBSET_DROP) of every capability not kept (bounding set);
 *   3. ambient set cleared;
 *   4. PR_SET_NO_NEW_PRIVS;
 *   5. capset(2) (version 3, raw syscall): effective = permitted = inheritable = keep ∩ permitted.
 * The calling thread does it directly; the others run the same steps in a signal handler (one
 * real-time signal sent with tgkill to each, as libpsx does), and /proc/self/task/TID/status is
 * then read back for every thread until they all show the target sets (threads created meanwhile
 * are caught by the next pass). Throws if a step fails or a thread does not comply.
 *
 * Limit: a thread that blocks the signal cannot be reached (no other mechanism runs code in another
 * thread; glibc's SIGSETXID broadcast only carries set*id calls). In Node 20 there is one: the
 * inspector's SIGUSR1 watcher, which blocks every signal and only waits on a semaphore. It keeps its
 * sets; it is reported as `unreachable` and every thread it could create inherits from it only.
 */
#include "roamd.h"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/securebits.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define RD_CAP_SIGNAL (SIGRTMAX - 3)
#define RD_MAX_CAP 63

static uint64_t g_keep;      /* target permitted/effective/inheritable set */
static unsigned long g_bits; /* securebits to set besides NOROOT(_LOCKED): NO_SETUID_FIXUP before a uid switch */
static int g_last_cap;       /* /proc/sys/kernel/cap_last_cap */
static atomic_int g_done, g_failed, g_errno;

static int last_cap(void) {
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int n = 40; /* CAP_CHECKPOINT_RESTORE on 5.9+; the prctl below ignores EINVAL beyond the kernel's */
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = 40;
    fclose(f);
  }
  return n < 0 ? 0 : n > RD_MAX_CAP ? RD_MAX_CAP : n;
}

/* Steps 1-5 on the calling thread; async-signal-safe (raw syscalls only). Returns 0 or an errno. */
static int apply_here(void) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) return errno;
  uint64_t prm = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
  uint64_t keep = g_keep & prm;
  /* 1: needs CAP_SETPCAP; without it (already dropped, or never had it) the bits stay as they are. */
  if (prm & (1ull << CAP_SETPCAP)) {
    unsigned long want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | g_bits;
    long bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (bits >= 0 && ((unsigned long)bits & want) != want && prctl(PR_SET_SECUREBITS, (unsigned long)bits | want, 0, 0, 0) != 0)
      return errno;
    /* 2 */
    for (int c = 0; c <= g_last_cap; c++) {
      if (keep & (1ull << c)) continue;
      if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    }
  }
  /* 3: EINVAL on kernels before 4.3 (no ambient set): nothing to clear. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  /* 4 */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  /* 5 */
  memset(data, 0, sizeof data);
  data[0].effective = data[0].permitted = data[0].inheritable = (uint32_t)keep;
  data[1].effective = data[1].permitted = data[1].inheritable = (uint32_t)(keep >> 32);
  if (syscall(SYS_capset, &hdr, data) != 0) return errno;
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  int saved = errno;
  int e = apply_here();
  if (e) {
    atomic_store(&g_errno, e);
    atomic_fetch_add(&g_failed, 1);
  }
  atomic_fetch_add(&g_done, 1);
  errno = saved;
}

/* Reads "Name:\t<hex>" from a status file. */
static int status_hex(const char *text, const char *name, uint64_t *out) {
  const char *p = strstr(text, name);
  if (!p) return 0;
  *out = strtoull(p + strlen(name), NULL, 16);
  return 1;
}

/* 1 if thread `tid` already shows the target sets, 0 if not, -1 if it is gone, 2 if it blocks the
 * signal (it can never be reached: Node's inspector thread waiting for SIGUSR1 blocks every signal). */
static int thread_done(long tid, uint64_t keep_prm) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  uint64_t prm, eff, bnd, nnp = 0;
  if (!status_hex(buf, "CapPrm:", &prm) || !status_hex(buf, "CapEff:", &eff) || !status_hex(buf, "CapBnd:", &bnd)) return 0;
  const char *q = strstr(buf, "NoNewPrivs:");
  if (q) nnp = strtoull(q + 11, NULL, 10);
  uint64_t blk;
  int done = prm == keep_prm && eff == keep_prm && (bnd & ~g_keep) == 0 && (!q || nnp == 1);
  if (!done && status_hex(buf, "SigBlk:", &blk) && (blk & (1ull << (RD_CAP_SIGNAL - 1)))) return 2;
  return prm == keep_prm && eff == keep_prm && (bnd & ~g_keep) == 0 && (!q || nnp == 1);
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

napi_value rd_drop_capabilities(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  bool is_array;
  uint32_t len;
  if (napi_is_array(env, args[0], &is_array) != napi_ok || !is_array) {
    rd_throw_type(env, "keep must be an array of capability numbers");
    return NULL;
  }
  napi_get_array_length(env, args[0], &len);
  g_last_cap = last_cap();
  uint64_t keep = 0;
  for (uint32_t i = 0; i < len; i++) {
    napi_value v;
    uint32_t c;
    napi_get_element(env, args[0], i, &v);
    if (!rd_arg_u32(env, v, &c, "capability")) return NULL;
    if (c > (uint32_t)g_last_cap) {
      rd_throw_type(env, "capability number beyond this kernel's cap_last_cap");
      return NULL;
    }
    keep |= 1ull << c;
  }
  g_keep = keep;
  /* keepAcrossSetuid: SECBIT_NO_SETUID_FIXUP on every thread, so that a following setuid away from
   * 0 (glibc and musl run it on every thread) leaves these sets as they are (capabilities(7)). */
  bool keep_across = false;
  napi_valuetype t2;
  if (napi_typeof(env, args[1], &t2) == napi_ok && t2 == napi_boolean) napi_get_value_bool(env, args[1], &keep_across);
  g_bits = keep_across ? SECBIT_NO_SETUID_FIXUP : 0;
  atomic_store(&g_failed, 0);
  atomic_store(&g_errno, 0);
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) {
    rd_throw_errno(env, errno, "capget", NULL);
    return NULL;
  }
  uint64_t keep_prm = keep & ((uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32));

  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(RD_CAP_SIGNAL, &sa, &old) != 0) {
    rd_throw_errno(env, errno, "sigaction", NULL);
    return NULL;
  }
  /* The calling thread must not take the signal meant for another: it does its own part first. */
  sigset_t block, prev;
  sigemptyset(&block);
  sigaddset(&block, RD_CAP_SIGNAL);
  pthread_sigmask(SIG_BLOCK, &block, &prev);
  int err = apply_here();
  const char *step = "capset";
  long self = syscall(SYS_gettid);
  pid_t pid = getpid();
  uint32_t threads = 1, passes = 0, unreachable = 0;
  int pending_threads = 0;
  for (passes = 1; !err && passes <= 8; passes++) {
    DIR *d = opendir("/proc/self/task");
    if (!d) {
      err = errno;
      step = "opendir /proc/self/task";
      break;
    }
    int sent = 0, waiting = 0;
    uint32_t seen = 0, blocked = 0;
    atomic_store(&g_done, 0);
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
      long tid = strtol(de->d_name, NULL, 10);
      seen++;
      if (tid == self) continue;
      int st = thread_done(tid, keep_prm);
      if (st == 2) blocked++;
      if (st != 0) continue;
      waiting++;
      if (syscall(SYS_tgkill, pid, tid, RD_CAP_SIGNAL) == 0) sent++;
    }
    closedir(d);
    if (seen > threads) threads = seen;
    unreachable = blocked;
    pending_threads = waiting;
    if (waiting == 0) break;
    for (int t = 0; t < 200 && atomic_load(&g_done) < sent; t++) sleep_ms(5);
    if (atomic_load(&g_failed)) {
      err = atomic_load(&g_errno);
      step = "capset (another thread)";
    }
  }
  pthread_sigmask(SIG_SETMASK, &prev, NULL);
  sigaction(RD_CAP_SIGNAL, &old, NULL);
  if (err) {
    rd_throw_errno(env, err, step, NULL);
    return NULL;
  }
  if (pending_threads) {
    rd_throw_errno(env, EAGAIN, "dropCapabilities", "threads did not drop their capabilities");
    return NULL;
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_uint32(env, threads, &v);
  napi_set_named_property(env, out, "threads", v);
  napi_create_uint32(env, passes, &v);
  napi_set_named_property(env, out, "passes", v);
  napi_create_uint32(env, unreachable, &v);
  napi_set_named_property(env, out, "unreachable", v);
  return out;
}
