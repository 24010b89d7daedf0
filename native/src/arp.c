/*
 * Gratuitous ARP (RFC 5944 §4.6, RFC 5227 §3): an ARP request announcing `ip` with the sending
 * interface's own hardware address, broadcast on that interface. The home agent sends it when a
 * node leaves home (so neighbours send to the agent, which proxies for the node), and the node
 * when it comes back (so they send to the node again). One AF_PACKET socket per call.
 */
#include "roamd.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>

/* gratuitousArp(ifname, ip uint32): sends one ARP request with sender = target = ip. */
napi_value rd_gratuitous_arp(napi_env env, napi_callback_info info) {
  RD_ARGS(env, info, 2, args);
  char name[IF_NAMESIZE];
  uint32_t ip;
  if (!rd_arg_string(env, args[0], name, sizeof name, "ifname") || !rd_arg_u32(env, args[1], &ip, "ip")) return NULL;
  unsigned idx = if_nametoindex(name);
  if (!idx) {
    rd_throw_errno(env, ENODEV, "if_nametoindex", name);
    return NULL;
  }
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) {
    rd_throw_errno(env, errno, "socket", "AF_PACKET");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IF_NAMESIZE - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    int e = errno;
    close(fd);
    rd_throw_errno(env, e, "ioctl", "SIOCGIFHWADDR");
    return NULL;
  }
  /* ARP payload for Ethernet/IPv4 (RFC 826): htype, ptype, hlen, plen, op, sha, spa, tha, tpa. */
  uint8_t pkt[28];
  uint32_t nip = htonl(ip);
  pkt[0] = 0; pkt[1] = 1;       /* Ethernet */
  pkt[2] = 0x08; pkt[3] = 0x00; /* IPv4 */
  pkt[4] = 6; pkt[5] = 4;
  pkt[6] = 0; pkt[7] = 1;       /* request: what RFC 5227 recommends for announcements */
  memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, 6);
  memcpy(pkt + 14, &nip, 4);
  memset(pkt + 18, 0, 6);
  memcpy(pkt + 24, &nip, 4);
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = (int)idx;
  to.sll_halen = 6;
  memset(to.sll_addr, 0xff, 6);
  ssize_t n = sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to);
  int e = errno;
  close(fd);
  if (n < 0) {
    rd_throw_errno(env, e, "sendto", "ARP");
    return NULL;
  }
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}
