/*
 * TUN devices (IFF_TUN | IFF_NO_PI): one IP packet per read(2)/write(2), no packet-info prefix.
 * Reads drain up to `batch` packets per wake-up into one 64 KiB slot, each copied into its own
 * Buffer; writes hand the caller's buffer straight to write(2).
 */
#include "roamd.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

static int set_link(const char *name, int mtu, int up, const char **failed) {
  struct ifreq ifr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;
  if (s < 0) {
    *failed = "socket";
    return errno;
  }
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (mtu > 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
      err = errno;
      *failed = "ioctl SIOCSIFMTU";
    }
  }
  if (!err && up) {
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
      err = errno;
      *failed = "ioctl SIOCSIFFLAGS";
    }
  }
  close(s);
  return err;
}

/* tunOpen(name, { mtu?, up? }) → [handle, fd, name, ifindex] */
napi_value rd_tun_open(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  char name[IFNAMSIZ];
  int32_t mtu = 0;
  int up = 0, r;
  struct ifreq ifr;
  const char *failed = NULL;
  if (!rd_arg_string(env, args[0], name, sizeof name, "name")) return NULL;
  if ((r = rd_opt_i32(env, args[1], "mtu", &mtu)) < 0 || rd_opt_bool(env, args[1], "up", &up) < 0) return NULL;
  if (r > 0 && (mtu < 68 || mtu > 65535)) { /* 68: RFC 791 minimum MTU */
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mtu must be in [68, 65535]");
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    rd_throw_errno(env, errno, "open", "/dev/net/tun");
    return NULL;
  }
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    rd_throw_errno(env, e, "ioctl TUNSETIFF", name);
    return NULL;
  }
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = 0;
  if ((mtu > 0 || up) && (r = set_link(name, mtu, up, &failed)) != 0) {
    close(fd);
    rd_throw_errno(env, r, failed, name);
    return NULL;
  }
  napi_value ext, res, vfd, vname, vidx;
  rd_handle *h = rd_handle_new(env, RD_TUN, fd, &ext);
  if (!h) return NULL;
  h->ifindex = (int)if_nametoindex(name);
  h->slot = RD_MAX_PACKET + 1;
  napi_create_array_with_length(env, 4, &res);
  napi_create_int32(env, fd, &vfd);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &vname);
  napi_create_int32(env, h->ifindex, &vidx);
  napi_set_element(env, res, 0, ext);
  napi_set_element(env, res, 1, vfd);
  napi_set_element(env, res, 2, vname);
  napi_set_element(env, res, 3, vidx);
  return res;
}

static napi_value written(napi_env env, rd_handle *h, ssize_t n, const char *syscall) {
  napi_value v;
  if (n < 0) {
    if (errno == EAGAIN || errno == ENOBUFS) {
      h->tx_dropped++;
      n = -1;
    } else {
      rd_throw_errno(env, errno, syscall, NULL);
      return NULL;
    }
  } else {
    h->tx_packets++;
    h->tx_bytes += (uint64_t)n;
  }
  napi_create_int32(env, (int32_t)n, &v);
  return v;
}

/* tunWrite(handle, buf, off?, len?) → bytes written, -1 if the kernel had no room (dropped) */
napi_value rd_tun_write(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 4, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_TUN);
  uint8_t *p;
  size_t len;
  if (!h || !rd_arg_window(env, args, argc, 1, &p, &len)) return NULL;
  ssize_t n;
  do n = write(h->fd, p, len);
  while (n < 0 && errno == EINTR);
  return written(env, h, n, "write");
}

/* tunWriteBatch(handle, bufs[]) → packets written (stops at the first one the kernel drops) */
napi_value rd_tun_write_batch(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_TUN);
  uint32_t count, i;
  bool is;
  if (!h) return NULL;
  if (napi_is_array(env, args[1], &is) != napi_ok || !is) {
    rd_throw_type(env, "bufs must be an array of Buffers");
    return NULL;
  }
  napi_get_array_length(env, args[1], &count);
  for (i = 0; i < count; i++) {
    napi_value b;
    uint8_t *p;
    size_t len;
    ssize_t n;
    if (napi_get_element(env, args[1], i, &b) != napi_ok || !rd_arg_bytes(env, b, &p, &len, "bufs[i]")) return NULL;
    do n = write(h->fd, p, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) {
        h->tx_dropped++;
        break;
      }
      rd_throw_errno(env, errno, "write", NULL);
      return NULL;
    }
    h->tx_packets++;
    h->tx_bytes += (uint64_t)n;
  }
  napi_value v;
  napi_create_uint32(env, i, &v);
  return v;
}

static uint32_t ipv4_src(const uint8_t *p, size_t len) {
  if (len < 20 || (p[0] >> 4) != 4) return 0;
  return (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 | p[15];
}

int rd_tun_read(rd_handle *h, napi_env env, napi_value arr, uint32_t *n, int *err) {
  uint32_t got = 0;
  while (got < h->batch) {
    ssize_t r = read(h->fd, h->ring, h->slot);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) *err = errno;
      break;
    }
    if ((size_t)r >= h->slot) { /* cannot happen with a 64 KiB + 1 slot; counted if it does */
      h->rx_truncated++;
      continue;
    }
    napi_value pkt = rd_packet(env, h->ring, (size_t)r, h->ifindex, ipv4_src(h->ring, (size_t)r), 1);
    if (!pkt) break;
    napi_set_element(env, arr, got++, pkt);
    h->rx_packets++;
    h->rx_bytes += (uint64_t)r;
  }
  *n = got;
  return 0;
}
