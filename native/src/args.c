/* Argument and option helpers: convert or throw a TypeError naming the argument. */
#include "roamd.h"
#include <stdio.h>
#include <string.h>

static int bad(napi_env env, const char *what, const char *want) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be %s", what, want);
  rd_throw_type(env, msg);
  return 0;
}

int rd_arg_u32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d)
    return bad(env, what, "an integer in [0, 2^32)");
  *out = (uint32_t)d;
  return 1;
}

int rd_arg_i32(napi_env env, napi_value v, int32_t *out, const char *what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int32_t)d)
    return bad(env, what, "a 32-bit integer");
  *out = (int32_t)d;
  return 1;
}

int rd_arg_string(napi_env env, napi_value v, char *buf, size_t size, const char *what) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return bad(env, what, "a string");
  if (n >= size) return bad(env, what, "a shorter string (interface names have at most 15 bytes)");
  napi_get_value_string_utf8(env, v, buf, size, &n);
  if (strlen(buf) != n) return bad(env, what, "a string without NUL bytes");
  return 1;
}

int rd_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what) {
  bool is;
  napi_typedarray_type t;
  void *p;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return bad(env, what, "a Buffer or Uint8Array");
  if (napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok || t != napi_uint8_array)
    return bad(env, what, "a Buffer or Uint8Array");
  *data = p;
  return 1;
}

static int is_undef(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null);
}

int rd_arg_window(napi_env env, napi_value *args, size_t argc, size_t i, uint8_t **p, size_t *len) {
  uint8_t *data;
  size_t total;
  uint32_t off = 0, n;
  if (!rd_arg_bytes(env, args[i], &data, &total, "buf")) return 0;
  if (i + 1 < argc && !is_undef(env, args[i + 1]) && !rd_arg_u32(env, args[i + 1], &off, "off")) return 0;
  if (off > total) return bad(env, "off", "within the buffer");
  n = (uint32_t)(total - off);
  if (i + 2 < argc && !is_undef(env, args[i + 2]) && !rd_arg_u32(env, args[i + 2], &n, "len")) return 0;
  if ((size_t)off + n > total) return bad(env, "off + len", "within the buffer");
  *p = data + off;
  *len = n;
  return 1;
}

static int opt(napi_env env, napi_value obj, const char *name, napi_value *v) {
  bool has = false;
  if (is_undef(env, obj)) return 0;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return -1;
  if (!has) return 0;
  if (napi_get_named_property(env, obj, name, v) != napi_ok) return -1;
  return is_undef(env, *v) ? 0 : 1;
}

int rd_opt_i32(napi_env env, napi_value obj, const char *name, int32_t *out) {
  napi_value v;
  int r = opt(env, obj, name, &v);
  if (r <= 0) return r;
  return rd_arg_i32(env, v, out, name) ? 1 : -1;
}

int rd_opt_bool(napi_env env, napi_value obj, const char *name, int *out) {
  napi_value v;
  bool b;
  int r = opt(env, obj, name, &v);
  if (r <= 0) return r;
  if (napi_get_value_bool(env, v, &b) != napi_ok) return bad(env, name, "a boolean") - 1;
  *out = b;
  return 1;
}

int rd_opt_string(napi_env env, napi_value obj, const char *name, char *buf, size_t size) {
  napi_value v;
  int r = opt(env, obj, name, &v);
  if (r <= 0) return r;
  return rd_arg_string(env, v, buf, size, name) ? 1 : -1;
}
