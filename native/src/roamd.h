/*
 * roamd_native: the user-space data plane's system calls (TUN devices, raw IPv4 sockets) for
 * Node-API 8, in plain C. One handle type serves both: an fd, a libuv poll watcher that reads in
 * batches on the loop thread when the fd is readable, the JS callback, and counters.
 *
 * Memory bounds per handle: the struct, plus a receive ring of `batch` slots of `slot` bytes
 * (TUN: one 64 KiB slot, reads are one packet per syscall; raw: batch slots for recvmmsg, 64 KiB
 * each by default; untouched pages of the ring are never made resident by Linux).
 */
#ifndef ROAMD_NATIVE_H
#define ROAMD_NATIVE_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define RD_MAGIC 0x726f616du /* "roam" */
#define RD_MAX_PACKET 65535u /* largest IPv4 datagram (RFC 791 total length field) */
#define RD_MAX_BATCH 1024u

enum rd_kind { RD_TUN = 1, RD_RAW = 2 };

typedef struct rd_env rd_env;
typedef struct rd_handle rd_handle;

/*
 * Per-env state. Teardown (process exit, worker termination) goes through an async cleanup hook:
 * it closes every open handle and completes only when libuv has run every close callback, since
 * Node unloads the addon afterwards and a later callback would jump into unmapped code.
 */
struct rd_env {
  int tearing_down;    /* set by the cleanup hook: finalizers must not call into the engine */
  rd_handle *head;     /* open handles, closed by the cleanup hook */
  uint32_t pending_closes; /* uv_close() calls whose callback has not run yet */
  napi_async_cleanup_hook_handle hook;
};

struct rd_handle {
  uint32_t magic;
  int kind;
  int fd;
  int ifindex; /* TUN: its own interface (reported as the arrival interface) */
  napi_env env;
  rd_env *renv;  /* while open: the list it is on */
  rd_env *owner; /* always: for pending_closes */
  rd_handle *prev, *next;
  uv_poll_t poll;
  unsigned poll_inited : 1, polling : 1, dispatching : 1, js_alive : 1, actx_release_pending : 1, env_gone : 1;
  napi_ref cb;
  napi_async_context actx;
  uint32_t batch;  /* packets per wake-up, at most */
  uint32_t slot;   /* bytes per receive slot */
  uint32_t nslots; /* slots allocated in the ring */
  uint8_t *ring;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_in *names;
  uint8_t *ctrl;
  size_t ctrl_len;
  uint64_t rx_packets, rx_bytes, rx_wakeups, rx_truncated, rx_errors, tx_packets, tx_bytes, tx_dropped;
};

/* errors.c */
const char *rd_errno_code(int err);
napi_value rd_errno_error(napi_env env, int err, const char *syscall, const char *detail);
void rd_throw_errno(napi_env env, int err, const char *syscall, const char *detail);
void rd_throw_type(napi_env env, const char *msg);

/* handle.c */
rd_handle *rd_handle_new(napi_env env, int kind, int fd, napi_value *external);
rd_handle *rd_handle_arg(napi_env env, napi_value v, int kind); /* throws and returns NULL if bad or closed */
int rd_ensure_ring(rd_handle *h, uint32_t nslots);
void rd_handle_close(rd_handle *h);
void rd_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg);
napi_value rd_start(napi_env env, napi_callback_info info);
napi_value rd_stop(napi_env env, napi_callback_info info);
napi_value rd_close(napi_env env, napi_callback_info info);
napi_value rd_stats(napi_env env, napi_callback_info info);
napi_value rd_set_ref(napi_env env, napi_callback_info info);
napi_value rd_packet(napi_env env, const uint8_t *p, size_t len, int ifindex, uint32_t src, int with_ttl);

/* args.c: small argument helpers; each throws and returns 0 on failure */
int rd_arg_u32(napi_env env, napi_value v, uint32_t *out, const char *what);
int rd_arg_i32(napi_env env, napi_value v, int32_t *out, const char *what);
int rd_arg_string(napi_env env, napi_value v, char *buf, size_t size, const char *what);
int rd_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what);
/* A byte window [off, off+len) of a Buffer/Uint8Array from args[i..i+2] (off and len optional). */
int rd_arg_window(napi_env env, napi_value *args, size_t argc, size_t i, uint8_t **p, size_t *len);
/* Optional property of an options object: returns 1 if present (and converted), 0 if absent, -1 on error. */
int rd_opt_i32(napi_env env, napi_value obj, const char *name, int32_t *out);
int rd_opt_bool(napi_env env, napi_value obj, const char *name, int *out);
int rd_opt_string(napi_env env, napi_value obj, const char *name, char *buf, size_t size);

/* tun.c, raw.c */
napi_value rd_tun_open(napi_env env, napi_callback_info info);
napi_value rd_tun_write(napi_env env, napi_callback_info info);
napi_value rd_tun_write_batch(napi_env env, napi_callback_info info);
int rd_tun_read(rd_handle *h, napi_env env, napi_value arr, uint32_t *n, int *err);
napi_value rd_raw_open(napi_env env, napi_callback_info info);
napi_value rd_raw_send(napi_env env, napi_callback_info info);
napi_value rd_raw_send_batch(napi_env env, napi_callback_info info);
napi_value rd_raw_bind_device(napi_env env, napi_callback_info info);
napi_value rd_raw_membership(napi_env env, napi_callback_info info);
int rd_raw_read(rd_handle *h, napi_env env, napi_value arr, uint32_t *n, int *err);

#define RD_CALL(env, call, ret)                                                   \
  do {                                                                            \
    if ((call) != napi_ok) {                                                      \
      const napi_extended_error_info *ei_ = NULL;                                 \
      napi_get_last_error_info((env), &ei_);                                      \
      bool pending_ = false;                                                      \
      napi_is_exception_pending((env), &pending_);                                \
      if (!pending_)                                                              \
        napi_throw_error((env), "ERR_NATIVE",                                     \
                         ei_ && ei_->error_message ? ei_->error_message : #call); \
      return ret;                                                                 \
    }                                                                             \
  } while (0)

#define RD_ARGS(env, info, n, args)                                                    \
  size_t argc = (n);                                                                   \
  napi_value args[(n) > 0 ? (n) : 1];                                                  \
  RD_CALL(env, napi_get_cb_info((env), (info), &argc, args, NULL, NULL), NULL);        \
  for (size_t i_ = argc; i_ < (n); i_++) napi_get_undefined((env), &args[i_]);

napi_value rd_gratuitous_arp(napi_env env, napi_callback_info info);
napi_value rd_drop_capabilities(napi_env env, napi_callback_info info); /* caps.c */

#endif
