/*
 * The handle shared by TUN devices and raw sockets: ownership of the fd, libuv polling and the
 * per-wake-up batch delivered to JS.
 *
 * Lifetime: the JS side holds an External; close() stops the poll watcher, uv_close()s it and
 * close(2)s the fd at once (libuv allows closing the fd right after uv_close). The struct is freed
 * when both the External has been finalized and the uv handle's close callback has run. A
 * finalizer that finds the fd open (JS forgot close()) closes it. While the JS callback runs, the
 * async context stays alive even if the callback closes the handle (released after it returns).
 */
#include "roamd.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The receive ring and vectors go at close(): only the small struct waits for the GC. */
static void free_buffers(rd_handle *h) {
  free(h->ring);
  free(h->msgs);
  free(h->iov);
  free(h->names);
  free(h->ctrl);
  h->ring = NULL;
  h->msgs = NULL;
  h->iov = NULL;
  h->names = NULL;
  h->ctrl = NULL;
  h->nslots = 0;
}

static void maybe_free(rd_handle *h) {
  if (h->js_alive || h->poll_inited) return;
  free_buffers(h);
  h->magic = 0;
  free(h);
}

static void on_uv_closed(uv_handle_t *uh) {
  rd_handle *h = uh->data;
  rd_env *e = h->owner;
  h->poll_inited = 0;
  maybe_free(h);
  if (e && --e->pending_closes == 0 && e->tearing_down && e->hook) {
    napi_async_cleanup_hook_handle hook = e->hook;
    e->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
}

static void unlink_handle(rd_handle *h) {
  if (!h->renv) return;
  if (h->prev) h->prev->next = h->next;
  else h->renv->head = h->next;
  if (h->next) h->next->prev = h->prev;
  h->prev = h->next = NULL;
  h->renv = NULL;
}

/* Releases the callback and async context; deferred while the callback is running. */
static void release_js(rd_handle *h, int engine_ok) {
  if (!engine_ok) return; /* env teardown: the engine is going away with everything it owns */
  if (h->cb) {
    napi_delete_reference(h->env, h->cb);
    h->cb = NULL;
  }
  if (h->actx) {
    if (h->dispatching) {
      h->actx_release_pending = 1;
    } else {
      napi_async_destroy(h->env, h->actx);
      h->actx = NULL;
    }
  }
}

/* Stops polling and closes the fd; safe to call more than once. */
static void close_fd(rd_handle *h, int engine_ok) {
  if (h->fd < 0) return;
  h->polling = 0;
  if (h->poll_inited && !uv_is_closing((uv_handle_t *)&h->poll)) {
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t *)&h->poll, on_uv_closed);
    if (h->owner) h->owner->pending_closes++;
  }
  close(h->fd);
  h->fd = -1;
  free_buffers(h); /* on_poll never touches them once fd < 0, and JS has its own copies */
  unlink_handle(h);
  release_js(h, engine_ok);
}

void rd_handle_close(rd_handle *h) {
  close_fd(h, 1);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  rd_handle *h = data;
  close_fd(h, !h->env_gone && !(h->renv && h->renv->tearing_down));
  h->js_alive = 0;
  maybe_free(h);
}

void rd_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  rd_env *e = arg;
  e->tearing_down = 1;
  while (e->head) {
    e->head->env_gone = 1; /* its finalizer, if any runs, must not touch references */
    close_fd(e->head, 0);
  }
  if (e->pending_closes == 0) {
    e->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
}

rd_handle *rd_handle_new(napi_env env, int kind, int fd, napi_value *external) {
  rd_env *e = NULL;
  rd_handle *h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    rd_throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  h->magic = RD_MAGIC;
  h->kind = kind;
  h->fd = fd;
  h->env = env;
  h->js_alive = 1;
  if (napi_create_external(env, h, finalize, NULL, external) != napi_ok) {
    close(fd);
    free(h);
    napi_throw_error(env, "ERR_NATIVE", "napi_create_external failed");
    return NULL;
  }
  napi_get_instance_data(env, (void **)&e);
  if (e) {
    h->owner = e;
    h->renv = e;
    h->next = e->head;
    if (e->head) e->head->prev = h;
    e->head = h;
  }
  return h;
}

rd_handle *rd_handle_arg(napi_env env, napi_value v, int kind) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok ||
      !p || ((rd_handle *)p)->magic != RD_MAGIC || (kind && ((rd_handle *)p)->kind != kind)) {
    rd_throw_type(env, "not a roamd native handle of the right kind");
    return NULL;
  }
  rd_handle *h = p;
  if (h->fd < 0) {
    rd_throw_errno(env, EBADF, "use", "of a closed handle");
    return NULL;
  }
  return h;
}

int rd_ensure_ring(rd_handle *h, uint32_t nslots) {
  if (h->ring && h->nslots >= nslots) return 1;
  uint8_t *ring = malloc((size_t)nslots * h->slot);
  if (!ring) return 0;
  free(h->ring);
  h->ring = ring;
  h->nslots = nslots;
  return 1;
}

/* { data, ifindex, src, ttl }: src and ttl from the IPv4 header when the packet is IPv4. */
napi_value rd_packet(napi_env env, const uint8_t *p, size_t len, int ifindex, uint32_t src, int with_ttl) {
  napi_value obj, data, vif, vsrc, vttl;
  void *copy;
  if (napi_create_buffer_copy(env, len, p, &copy, &data) != napi_ok) return NULL;
  napi_create_int32(env, ifindex, &vif);
  napi_create_uint32(env, src, &vsrc);
  napi_property_descriptor props[4] = {
    { "data", NULL, NULL, NULL, NULL, data, napi_writable | napi_enumerable | napi_configurable, NULL },
    { "ifindex", NULL, NULL, NULL, NULL, vif, napi_writable | napi_enumerable | napi_configurable, NULL },
    { "src", NULL, NULL, NULL, NULL, vsrc, napi_writable | napi_enumerable | napi_configurable, NULL },
    { "ttl", NULL, NULL, NULL, NULL, NULL, napi_writable | napi_enumerable | napi_configurable, NULL },
  };
  size_t nprops = 3;
  if (with_ttl && len >= 20 && (p[0] >> 4) == 4) {
    napi_create_uint32(env, p[8], &vttl);
    props[3].value = vttl;
    nprops = 4;
  }
  napi_create_object(env, &obj);
  if (napi_define_properties(env, obj, nprops, props) != napi_ok) return NULL;
  return obj;
}

static void report_exception(napi_env env) {
  napi_value exc;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)events;
  rd_handle *h = p->data;
  if (!h->polling || h->fd < 0 || !h->cb) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value arr, argv[2], cb, global, result;
  uint32_t n = 0;
  int err = 0;
  napi_create_array(env, &arr);
  if (status < 0) err = -status; /* libuv on Unix: negated errno */
  else if (h->kind == RD_TUN) rd_tun_read(h, env, arr, &n, &err);
  else rd_raw_read(h, env, arr, &n, &err);
  h->rx_wakeups++;
  if (n == 0 && err == 0) goto out; /* spurious wake-up */
  argv[0] = arr;
  if (err) {
    /* Anything but EAGAIN/EINTR is treated as fatal for this fd: stop, so a level-triggered
       error condition cannot spin the loop, and tell JS. */
    h->rx_errors++;
    h->polling = 0;
    uv_poll_stop(&h->poll);
    argv[1] = rd_errno_error(env, err, h->kind == RD_TUN ? "read" : "recvmmsg", NULL);
  } else {
    napi_get_undefined(env, &argv[1]);
  }
  napi_get_reference_value(env, h->cb, &cb);
  napi_get_global(env, &global);
  h->dispatching = 1;
  napi_status st = napi_make_callback(env, h->actx, global, cb, 2, argv, &result);
  h->dispatching = 0;
  if (h->actx_release_pending) {
    h->actx_release_pending = 0;
    napi_async_destroy(env, h->actx);
    h->actx = NULL;
  }
  if (st != napi_ok) report_exception(env);
out:
  napi_close_handle_scope(env, scope);
}

/* Initialises the handle's uv_poll once; false (with a JS exception pending) on failure. */
static bool poll_init(napi_env env, rd_handle *h) {
  if (h->poll_inited) return true;
  uv_loop_t *loop;
  RD_CALL(env, napi_get_uv_event_loop(env, &loop), false);
  int r = uv_poll_init(loop, &h->poll, h->fd);
  if (r < 0) {
    rd_throw_errno(env, -r, "uv_poll_init", NULL);
    return false;
  }
  h->poll.data = h;
  h->poll_inited = 1;
  return true;
}

/* start(handle, cb(pkts, err), batch) */
napi_value rd_start(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 3, args);
  rd_handle *h = rd_handle_arg(env, args[0], 0);
  uint32_t batch;
  napi_valuetype t;
  if (!h) return NULL;
  if (napi_typeof(env, args[1], &t) != napi_ok || t != napi_function) {
    rd_throw_type(env, "cb must be a function");
    return NULL;
  }
  if (!rd_arg_u32(env, args[2], &batch, "batch")) return NULL;
  if (batch < 1 || batch > RD_MAX_BATCH) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "batch must be in [1, 1024]");
    return NULL;
  }
  if (!rd_ensure_ring(h, h->kind == RD_TUN ? 1 : batch)) {
    rd_throw_errno(env, ENOMEM, "malloc", "receive ring");
    return NULL;
  }
  if (h->kind == RD_RAW && h->msgs == NULL) {
    /* recvmmsg vectors, sized for the largest batch once: a few KiB */
    h->msgs = calloc(RD_MAX_BATCH, sizeof *h->msgs);
    h->iov = calloc(RD_MAX_BATCH, sizeof *h->iov);
    h->names = calloc(RD_MAX_BATCH, sizeof *h->names);
    h->ctrl_len = CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int));
    h->ctrl = calloc(RD_MAX_BATCH, h->ctrl_len);
    if (!h->msgs || !h->iov || !h->names || !h->ctrl) {
      rd_throw_errno(env, ENOMEM, "malloc", "recvmmsg vectors");
      return NULL;
    }
  }
  h->batch = batch;
  if (h->cb) napi_delete_reference(env, h->cb);
  h->cb = NULL;
  RD_CALL(env, napi_create_reference(env, args[1], 1, &h->cb), NULL);
  if (!h->actx) {
    napi_value name;
    napi_create_string_utf8(env, h->kind == RD_TUN ? "roamd:tun" : "roamd:raw", NAPI_AUTO_LENGTH, &name);
    RD_CALL(env, napi_async_init(env, NULL, name, &h->actx), NULL);
  }
  if (!poll_init(env, h)) return NULL;
  int r = uv_poll_start(&h->poll, UV_READABLE, on_poll);
  if (r < 0) {
    rd_throw_errno(env, -r, "uv_poll_start", NULL);
    return NULL;
  }
  h->polling = 1;
  return NULL;
}

napi_value rd_stop(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 1, args);
  rd_handle *h = rd_handle_arg(env, args[0], 0);
  if (!h) return NULL;
  if (h->poll_inited) uv_poll_stop(&h->poll);
  h->polling = 0;
  if (h->cb) napi_delete_reference(env, h->cb);
  h->cb = NULL;
  return NULL;
}

/* setRef(handle, bool): whether an active poll keeps the event loop alive (uv_ref/uv_unref). */
napi_value rd_set_ref(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  rd_handle *h = rd_handle_arg(env, args[0], 0);
  bool on;
  if (!h) return NULL;
  if (napi_get_value_bool(env, args[1], &on) != napi_ok) {
    rd_throw_type(env, "ref must be a boolean");
    return NULL;
  }
  if (!poll_init(env, h)) return NULL;
  if (on) uv_ref((uv_handle_t *)&h->poll);
  else uv_unref((uv_handle_t *)&h->poll);
  return NULL;
}

/* close(handle): idempotent, so a closed handle is not an error here */
napi_value rd_close(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 1, args);
  void *p = NULL;
  if (napi_get_value_external(env, args[0], &p) != napi_ok || !p || ((rd_handle *)p)->magic != RD_MAGIC) {
    rd_throw_type(env, "not a roamd native handle");
    return NULL;
  }
  rd_handle_close(p);
  return NULL;
}

napi_value rd_stats(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 1, args);
  void *p = NULL;
  if (napi_get_value_external(env, args[0], &p) != napi_ok || !p || ((rd_handle *)p)->magic != RD_MAGIC) {
    rd_throw_type(env, "not a roamd native handle");
    return NULL;
  }
  rd_handle *h = p;
  napi_value o, v;
  napi_create_object(env, &o);
#define S(field, name)                          \
  napi_create_double(env, (double)h->field, &v); \
  napi_set_named_property(env, o, name, v);
  S(rx_packets, "rxPackets") S(rx_bytes, "rxBytes") S(rx_wakeups, "rxWakeups") S(rx_truncated, "rxTruncated")
  S(rx_errors, "rxErrors") S(tx_packets, "txPackets") S(tx_bytes, "txBytes") S(tx_dropped, "txDropped")
#undef S
  return o;
}
