/* Module registration and interface name/index lookups (if_nametoindex(3), if_indextoname(3)). */
#include "roamd.h"
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>

static napi_value if_index(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 1, args);
  char name[IF_NAMESIZE];
  napi_value v;
  if (!rd_arg_string(env, args[0], name, sizeof name, "name")) return NULL;
  unsigned idx = if_nametoindex(name);
  if (!idx) {
    rd_throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", name);
    return NULL;
  }
  napi_create_uint32(env, idx, &v);
  return v;
}

static napi_value if_name(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 1, args);
  char name[IF_NAMESIZE];
  uint32_t idx;
  napi_value v;
  if (!rd_arg_u32(env, args[0], &idx, "index")) return NULL;
  if (!if_indextoname(idx, name)) {
    rd_throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_indextoname", NULL);
    return NULL;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  return v;
}

static void free_env(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value init(napi_env env, napi_value exports) {
  rd_env *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  napi_set_instance_data(env, e, free_env, NULL);
  napi_add_async_cleanup_hook(env, rd_env_cleanup, e, &e->hook);
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "ifIndex", if_index }, { "ifName", if_name }, { "tunOpen", rd_tun_open }, { "tunWrite", rd_tun_write },
    { "tunWriteBatch", rd_tun_write_batch }, { "rawOpen", rd_raw_open }, { "rawSend", rd_raw_send },
    { "rawSendBatch", rd_raw_send_batch }, { "rawBindDevice", rd_raw_bind_device },
    { "rawMembership", rd_raw_membership }, { "start", rd_start }, { "stop", rd_stop }, { "close", rd_close },
    { "stats", rd_stats }, { "setRef", rd_set_ref }, { "gratuitousArp", rd_gratuitous_arp },
    { "dropCapabilities", rd_drop_capabilities },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
