/*
 * Raw IPv4 sockets: ICMP (protocol 1) for agent discovery (RFC 5944 §2) and protocol 4 for
 * IP-in-IP (RFC 2003) without the kernel's ipip module. Receiving delivers the whole IPv4
 * header (Linux raw socket semantics); IP_PKTINFO gives the arrival interface and msg_name the
 * source. Reads are recvmmsg(2) batches into a ring of `batch` slots; sends pass the caller's
 * buffer to sendto(2)/sendmmsg(2) without copying.
 */
#include "roamd.h"
#include <errno.h>
#include <net/if.h>
#include <linux/icmp.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(napi_env env, int fd, const char *syscall, const char *detail) {
  int e = errno;
  close(fd);
  rd_throw_errno(env, e, syscall, detail);
  return 0;
}

static int ifindex_of(napi_env env, const char *name, int *out) {
  unsigned idx = if_nametoindex(name);
  if (!idx) {
    rd_throw_errno(env, errno == ENXIO ? ENODEV : errno, "if_nametoindex", name);
    return 0;
  }
  *out = (int)idx;
  return 1;
}

static int set_int(int fd, int level, int name, int v) {
  return setsockopt(fd, level, name, &v, sizeof v);
}

/*
 * rawOpen(protocol, opts) → [handle, fd]. opts: hdrincl, device, pktinfo, ttl, multicastTtl,
 * multicastIf, multicastLoop, recvBuf, sendBuf, maxPacket, icmpAccept (bit mask of ICMP types).
 */
napi_value rd_raw_open(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  napi_value o = args[1];
  int32_t proto, ttl = -1, mttl = -1, rbuf = -1, sbuf = -1, maxp = RD_MAX_PACKET, accept = 0;
  int hdrincl = 0, pktinfo = 1, mloop = -1, has_accept, has_mif, has_dev;
  char dev[IFNAMSIZ] = "", mif[IFNAMSIZ] = "";
  if (!rd_arg_i32(env, args[0], &proto, "protocol")) return NULL;
  if (rd_opt_bool(env, o, "hdrincl", &hdrincl) < 0 || rd_opt_bool(env, o, "pktinfo", &pktinfo) < 0 ||
      rd_opt_bool(env, o, "multicastLoop", &mloop) < 0 || rd_opt_i32(env, o, "ttl", &ttl) < 0 ||
      rd_opt_i32(env, o, "multicastTtl", &mttl) < 0 || rd_opt_i32(env, o, "recvBuf", &rbuf) < 0 ||
      rd_opt_i32(env, o, "sendBuf", &sbuf) < 0 || rd_opt_i32(env, o, "maxPacket", &maxp) < 0 ||
      (has_accept = rd_opt_i32(env, o, "icmpAccept", &accept)) < 0 ||
      (has_dev = rd_opt_string(env, o, "device", dev, sizeof dev)) < 0 ||
      (has_mif = rd_opt_string(env, o, "multicastIf", mif, sizeof mif)) < 0)
    return NULL;
  if (maxp < 20 || maxp > (int32_t)RD_MAX_PACKET) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "maxPacket must be in [20, 65535]");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    rd_throw_errno(env, errno, "socket", "AF_INET SOCK_RAW");
    return NULL;
  }
  if (hdrincl && set_int(fd, IPPROTO_IP, IP_HDRINCL, 1) < 0) return fail(env, fd, "setsockopt", "IP_HDRINCL"), NULL;
  if (pktinfo && set_int(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0) return fail(env, fd, "setsockopt", "IP_PKTINFO"), NULL;
  if (ttl >= 0 && set_int(fd, IPPROTO_IP, IP_TTL, ttl) < 0) return fail(env, fd, "setsockopt", "IP_TTL"), NULL;
  if (mttl >= 0 && set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, mttl) < 0)
    return fail(env, fd, "setsockopt", "IP_MULTICAST_TTL"), NULL;
  if (mloop >= 0 && set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, mloop) < 0)
    return fail(env, fd, "setsockopt", "IP_MULTICAST_LOOP"), NULL;
  /* Root may exceed net.core.rmem_max with the FORCE variants; others get the clamped value. */
  if (rbuf >= 0 && set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, rbuf) < 0 && set_int(fd, SOL_SOCKET, SO_RCVBUF, rbuf) < 0)
    return fail(env, fd, "setsockopt", "SO_RCVBUF"), NULL;
  if (sbuf >= 0 && set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, sbuf) < 0 && set_int(fd, SOL_SOCKET, SO_SNDBUF, sbuf) < 0)
    return fail(env, fd, "setsockopt", "SO_SNDBUF"), NULL;
  if (has_accept > 0) {
    struct icmp_filter f = { .data = ~(uint32_t)accept }; /* a set bit drops that type */
    if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof f) < 0) return fail(env, fd, "setsockopt", "ICMP_FILTER"), NULL;
  }
  if (has_dev > 0 && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev) + 1) < 0)
    return fail(env, fd, "setsockopt SO_BINDTODEVICE", dev), NULL;
  if (has_mif > 0) {
    struct ip_mreqn m;
    memset(&m, 0, sizeof m);
    if (!ifindex_of(env, mif, &m.imr_ifindex)) return close(fd), NULL;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0)
      return fail(env, fd, "setsockopt IP_MULTICAST_IF", mif), NULL;
  }
  napi_value ext, res, vfd;
  rd_handle *h = rd_handle_new(env, RD_RAW, fd, &ext);
  if (!h) return NULL;
  h->slot = (uint32_t)maxp;
  napi_create_array_with_length(env, 2, &res);
  napi_create_int32(env, fd, &vfd);
  napi_set_element(env, res, 0, ext);
  napi_set_element(env, res, 1, vfd);
  return res;
}

static void dest(struct sockaddr_in *sa, uint32_t dst) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(dst);
}

/* rawSend(handle, buf, dst, off?, len?) → bytes sent, -1 if the kernel had no room (dropped) */
napi_value rd_raw_send(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 5, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_RAW);
  uint8_t *p, *unused;
  size_t len, ulen;
  uint32_t dst;
  struct sockaddr_in sa;
  napi_value v;
  if (!h || !rd_arg_bytes(env, args[1], &unused, &ulen, "buf") || !rd_arg_u32(env, args[2], &dst, "dst")) return NULL;
  napi_value win[3] = { args[1], args[3], args[4] };
  if (!rd_arg_window(env, win, 3, 0, &p, &len)) return NULL;
  dest(&sa, dst);
  ssize_t n;
  do n = sendto(h->fd, p, len, 0, (struct sockaddr *)&sa, sizeof sa);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != ENOBUFS) {
      rd_throw_errno(env, errno, "sendto", NULL);
      return NULL;
    }
    h->tx_dropped++;
  } else {
    h->tx_packets++;
    h->tx_bytes += (uint64_t)n;
  }
  napi_create_int32(env, (int32_t)n, &v);
  return v;
}

/* rawSendBatch(handle, bufs[], dsts[]) → packets sent by sendmmsg(2) (fewer if the kernel had no room) */
napi_value rd_raw_send_batch(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 3, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_RAW);
  uint32_t count, dcount, i, sent = 0;
  bool a1, a2;
  if (!h) return NULL;
  if (napi_is_array(env, args[1], &a1) != napi_ok || !a1 || napi_is_array(env, args[2], &a2) != napi_ok || !a2) {
    rd_throw_type(env, "bufs and dsts must be arrays");
    return NULL;
  }
  napi_get_array_length(env, args[1], &count);
  napi_get_array_length(env, args[2], &dcount);
  if (dcount != count) {
    rd_throw_type(env, "bufs and dsts must have the same length");
    return NULL;
  }
  while (sent < count) {
    struct mmsghdr m[64];
    struct iovec iov[64];
    struct sockaddr_in sa[64];
    uint32_t k = count - sent > 64 ? 64 : count - sent;
    memset(m, 0, sizeof m[0] * k);
    for (i = 0; i < k; i++) {
      napi_value b, d;
      uint8_t *p;
      size_t len;
      uint32_t dst;
      if (napi_get_element(env, args[1], sent + i, &b) != napi_ok || !rd_arg_bytes(env, b, &p, &len, "bufs[i]") ||
          napi_get_element(env, args[2], sent + i, &d) != napi_ok || !rd_arg_u32(env, d, &dst, "dsts[i]"))
        return NULL;
      iov[i].iov_base = p;
      iov[i].iov_len = len;
      dest(&sa[i], dst);
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_name = &sa[i];
      m[i].msg_hdr.msg_namelen = sizeof sa[i];
    }
    int r;
    do r = sendmmsg(h->fd, m, k, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) {
        h->tx_dropped++;
        break;
      }
      if (sent == 0) {
        rd_throw_errno(env, errno, "sendmmsg", NULL);
        return NULL;
      }
      break; /* report what went out; the caller retries the rest and sees the error then */
    }
    for (i = 0; i < (uint32_t)r; i++) h->tx_bytes += m[i].msg_len;
    h->tx_packets += (uint64_t)r;
    sent += (uint32_t)r;
    if ((uint32_t)r < k) break;
  }
  napi_value v;
  napi_create_uint32(env, sent, &v);
  return v;
}

/* rawBindDevice(handle, ifname): SO_BINDTODEVICE; "" unbinds */
napi_value rd_raw_bind_device(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_RAW);
  char dev[IFNAMSIZ];
  if (!h || !rd_arg_string(env, args[1], dev, sizeof dev, "ifname")) return NULL;
  if (setsockopt(h->fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev) + (dev[0] ? 1 : 0)) < 0)
    rd_throw_errno(env, errno, "setsockopt SO_BINDTODEVICE", dev);
  return NULL;
}

/* rawMembership(handle, join, group, ifname): IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP by ifindex */
napi_value rd_raw_membership(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 4, args);
  rd_handle *h = rd_handle_arg(env, args[0], RD_RAW);
  bool join;
  uint32_t group;
  char dev[IFNAMSIZ];
  struct ip_mreqn m;
  if (!h) return NULL;
  if (napi_get_value_bool(env, args[1], &join) != napi_ok) {
    rd_throw_type(env, "join must be a boolean");
    return NULL;
  }
  if (!rd_arg_u32(env, args[2], &group, "group") || !rd_arg_string(env, args[3], dev, sizeof dev, "ifname")) return NULL;
  memset(&m, 0, sizeof m);
  m.imr_multiaddr.s_addr = htonl(group);
  if (!ifindex_of(env, dev, &m.imr_ifindex)) return NULL;
  if (setsockopt(h->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) < 0)
    rd_throw_errno(env, errno, join ? "setsockopt IP_ADD_MEMBERSHIP" : "setsockopt IP_DROP_MEMBERSHIP", dev);
  return NULL;
}

int rd_raw_read(rd_handle *h, napi_env env, napi_value arr, uint32_t *n, int *err) {
  uint32_t k = h->batch, got = 0, i;
  for (i = 0; i < k; i++) { /* the kernel rewrites namelen/controllen/flags: reset every call */
    struct msghdr *mh = &h->msgs[i].msg_hdr;
    h->iov[i].iov_base = h->ring + (size_t)i * h->slot;
    h->iov[i].iov_len = h->slot;
    mh->msg_iov = &h->iov[i];
    mh->msg_iovlen = 1;
    mh->msg_name = &h->names[i];
    mh->msg_namelen = sizeof h->names[i];
    mh->msg_control = h->ctrl + i * h->ctrl_len;
    mh->msg_controllen = h->ctrl_len;
    mh->msg_flags = 0;
  }
  int r;
  do r = recvmmsg(h->fd, h->msgs, k, MSG_DONTWAIT, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != EAGAIN) *err = errno;
    *n = 0;
    return 0;
  }
  for (i = 0; i < (uint32_t)r; i++) {
    struct msghdr *mh = &h->msgs[i].msg_hdr;
    int ifindex = 0;
    if (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
      if (mh->msg_flags & MSG_TRUNC) {
        h->rx_truncated++;
        continue;
      }
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        ifindex = pi.ipi_ifindex;
      }
    }
    uint32_t src = ntohl(h->names[i].sin_addr.s_addr);
    napi_value pkt = rd_packet(env, h->iov[i].iov_base, h->msgs[i].msg_len, ifindex, src, 1);
    if (!pkt) break;
    napi_set_element(env, arr, got++, pkt);
    h->rx_packets++;
    h->rx_bytes += h->msgs[i].msg_len;
  }
  *n = got;
  return 0;
}
