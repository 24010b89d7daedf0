/*
 * System errors as JS Errors shaped like Node's own: message "syscall detail: strerror",
 * `code` = errno name ('ENODEV'), `errno` = the number, `syscall`. musl has no strerrorname_np,
 * so the names come from a table of the errnos these calls can return.
 */
#include "roamd.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define E(x) { x, #x }
static const struct { int err; const char *name; } names[] = {
  E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(ENXIO), E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES),
  E(EFAULT), E(EBUSY), E(EEXIST), E(ENODEV), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOSPC),
  E(EPIPE), E(ENAMETOOLONG), E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
  E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EAFNOSUPPORT),
  E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH), E(ECONNREFUSED), E(EHOSTDOWN),
  E(EHOSTUNREACH), E(ENOBUFS), E(ENOTCONN), E(ETIMEDOUT), E(EBADFD), E(ENOTTY), E(ERANGE),
};
#undef E

const char *rd_errno_code(int err) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].err == err) return names[i].name;
  return "EUNKNOWN";
}

napi_value rd_errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[256];
  const char *code = rd_errno_code(err);
  snprintf(msg, sizeof msg, "%s: %s%s%s, %s", code, syscall, detail ? " " : "", detail ? detail : "", strerror(err));
  napi_value vmsg, vcode, verrno, vsys, e;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &vmsg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &vcode);
  napi_create_int32(env, err, &verrno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &vsys);
  napi_create_error(env, vcode, vmsg, &e);
  napi_set_named_property(env, e, "errno", verrno);
  napi_set_named_property(env, e, "syscall", vsys);
  return e;
}

void rd_throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  napi_throw(env, rd_errno_error(env, err, syscall, detail));
}

void rd_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}
