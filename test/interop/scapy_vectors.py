#!/usr/bin/python3
"""Mobile IPv4 packets built by scapy, for roamd's interop lane (test/interop/scapy.test.ts).

Run with the system interpreter (/usr/bin/python3, Debian package python3-scapy). Prints one JSON
object: `packets`, each with the whole IPv4 packet in hex, the UDP payload or ICMP message in
hex, the fields scapy was given (named like roamd's decoded structures) and the authenticators
computed here, independently of roamd, with hmac/hashlib; and `macs`, raw MAC vectors.

Fixed parts come from scapy's layers (scapy.layers.mobileip: MobileIP, MobileIPRRQ, MobileIPRRP,
MobileIPTunnelData; scapy.layers.inet: IP, UDP, ICMP). scapy has no layer for the extensions, the
revocation messages (RFC 3543) or the RFC 5944 §2.1 advertisement body, so those are struct-packed
here from the RFC figures.

Authenticators (RFC 5944 §3.5.1): computed over the UDP payload from its first byte through the
SPI of the authentication extension itself; for the generalized extension (RFC 4721 §5) through
the SPI after its 16-bit length.
"""
import hashlib
import hmac
import json
import logging
import struct
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import ICMP, IP, UDP  # noqa: E402
from scapy.layers.mobileip import (  # noqa: E402
    MobileIP,
    MobileIPRRP,
    MobileIPRRQ,
    MobileIPTunnelData,
)
from scapy.packet import Raw, raw  # noqa: E402

MN = "192.0.2.10"
HOME = "10.1.0.5"
HA = "10.1.0.1"
COA = "198.51.100.1"
FA = "198.51.100.1"
ID_HIGH = 0xE9A1B2C3
ID_LOW = 0x0A0B0C0D
IDENT = (ID_HIGH << 32) | ID_LOW

KEY_MD5 = b"scapy side mn-ha shared secret"
KEY_SHA256 = bytes(range(1, 41))
KEY_BLAKE2B = bytes(range(0x40, 0x60))  # 32 bytes, within roamd's 16..64


def mac(alg, key, data):
    if alg == "hmac-md5":
        return hmac.new(key, data, hashlib.md5).digest()
    if alg == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).digest()
    if alg == "blake2b":
        return hashlib.blake2b(data, key=key, digest_size=32).digest()
    raise ValueError(alg)


def ip_to_int(a):
    p = [int(x) for x in a.split(".")]
    return (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]


# Extensions, struct-packed from the RFC figures. Each returns (bytes, roamd-like description).
def ext_nai(nai):
    b = nai.encode()
    return struct.pack("!BB", 131, len(b)) + b, {"kind": "nai", "nai": nai}


def ext_udp_tunnel_request(flags, encap):
    return struct.pack("!BBBBBBH", 144, 6, 0, 0, flags, encap, 0), {
        "kind": "udp-tunnel-request", "subtype": 0, "flags": flags, "encapsulation": encap}


def ext_udp_tunnel_reply(code, flags, keepalive):
    return struct.pack("!BBBBHH", 44, 6, 0, code, flags, keepalive), {
        "kind": "udp-tunnel-reply", "subtype": 0, "code": code, "flags": flags, "keepalive": keepalive}


def ext_revocation_support(flags, timestamp):
    return struct.pack("!BBHI", 137, 6, flags, timestamp), {
        "kind": "revocation-support", "flags": flags, "timestamp": timestamp}


def ext_nvse(vendor, vtype, value):
    return struct.pack("!BBHIH", 134, 8 + len(value), 0, vendor, vtype) + value, {
        "kind": "nvse", "vendorId": vendor, "vendorType": vtype, "value": value.hex()}


def ext_cvse(vendor, vtype, value):
    return struct.pack("!BBHIH", 38, 0, 6 + len(value), vendor, vtype) + value, {
        "kind": "cvse", "vendorId": vendor, "vendorType": vtype, "value": value.hex()}


def ext_dynamic_ha(subtype, addr):
    return struct.pack("!BBBI", 139, 5, subtype, ip_to_int(addr)), {
        "kind": "dynamic-ha", "subtype": subtype, "haAddress": addr}


def ext_message_string(subtype, text):
    b = text.encode()
    return struct.pack("!BBB", 145, 1 + len(b), subtype) + b, {
        "kind": "message-string", "subtype": subtype, "text": text}


def ext_challenge(challenge):
    return struct.pack("!BB", 132, len(challenge)) + challenge, {"kind": "challenge", "challenge": challenge.hex()}


def ext_encap_delivery():
    return struct.pack("!BB", 130, 0), {"kind": "encap-delivery"}


def ext_unknown(t, data):
    return struct.pack("!BB", t, len(data)) + data, {"kind": "unknown", "type": t, "data": data.hex()}


class Auth:
    """An authentication extension whose authenticator is computed once the bytes before it are known."""

    def __init__(self, ext_type, spi, alg, key, generalized=False, subtype=1):
        self.type, self.spi, self.alg, self.key = ext_type, spi, alg, key
        self.generalized, self.subtype = generalized, subtype

    def build(self, preceding):
        n = len(mac(self.alg, self.key, b""))
        if self.generalized:
            head = struct.pack("!BBHI", 36, self.subtype, 4 + n, self.spi)
        else:
            head = struct.pack("!BBI", self.type, 4 + n, self.spi)
        covered = preceding + head
        authenticator = mac(self.alg, self.key, covered)
        if self.generalized:
            desc = {"kind": "gen-auth", "subtype": self.subtype, "spi": self.spi, "authenticator": authenticator.hex()}
        else:
            desc = {"kind": "auth", "type": self.type, "spi": self.spi, "authenticator": authenticator.hex()}
        check = {"offset": len(preceding), "covered": len(covered), "alg": self.alg, "key": self.key.hex(),
                 "spi": self.spi, "mac": authenticator.hex()}
        return head + authenticator, desc, check


def with_extensions(fixed, exts):
    """Appends extensions to the fixed part; Auth entries are signed over everything before them."""
    body, descs, checks = fixed, [], []
    for e in exts:
        if isinstance(e, Auth):
            b, d, c = e.build(body)
            checks.append(c)
        else:
            b, d = e
        body += b
        descs.append(d)
    return body, descs, checks


def udp_vector(name, fixed_layers, fields, exts, src=MN, dst=HA, sport=434, dport=434, ttl=64, ip_id=7):
    fixed = raw(fixed_layers)
    payload, descs, checks = with_extensions(fixed, exts)
    pkt = IP(src=src, dst=dst, ttl=ttl, id=ip_id) / UDP(sport=sport, dport=dport) / Raw(payload)
    # Cross-check: scapy dissects its own packet back into the Mobile IP layers.
    back = IP(raw(pkt))
    assert raw(back[UDP].payload) == payload
    fields = dict(fields, extensions=descs)
    return {
        "name": name, "kind": "udp", "packet": raw(pkt).hex(), "payload": payload.hex(), "fields": fields,
        "ip": {"src": src, "dst": dst, "ttl": ttl, "id": ip_id, "protocol": 17, "srcPort": sport, "dstPort": dport},
        "auth": checks, "scapy": back.summary(),
    }


def rrq(flags, lifetime, home, coa, ident=IDENT):
    return MobileIP(type=1) / MobileIPRRQ(flags=flags, lifetime=lifetime, homeaddr=home, haaddr=HA, coaddr=coa, id=ident)


def rrq_fields(flags, lifetime, home, coa, ident=IDENT):
    return {"type": 1, "flags": flags, "lifetime": lifetime, "homeAddress": home, "homeAgent": HA,
            "careOfAddress": coa, "idHigh": ident >> 32, "idLow": ident & 0xFFFFFFFF}


def rrp(code, lifetime, ident=IDENT):
    return MobileIP(type=3) / MobileIPRRP(code=code, lifetime=lifetime, homeaddr=HOME, haaddr=HA, id=ident)


def rrp_fields(code, lifetime, ident=IDENT):
    return {"type": 3, "code": code, "lifetime": lifetime, "homeAddress": HOME, "homeAgent": HA,
            "idHigh": ident >> 32, "idLow": ident & 0xFFFFFFFF}


def packets():
    out = []
    md5 = lambda: Auth(32, 0x100, "hmac-md5", KEY_MD5)  # noqa: E731
    out.append(udp_vector(
        "01 RRQ S B T, NAI, MN-HA HMAC-MD5", rrq(0xC2, 1800, HOME, COA), rrq_fields(0xC2, 1800, HOME, COA),
        [ext_nai("bob@example.net"), md5()]))
    out.append(udp_vector(
        "02 RRQ D, co-located CoA, home address 0, UDP tunnel request, revocation support, MN-HA",
        rrq(0x20, 65535, "0.0.0.0", MN), rrq_fields(0x20, 65535, "0.0.0.0", MN),
        [ext_nai("mn2@roamd.test"), ext_udp_tunnel_request(0x80, 4), ext_revocation_support(0x8000, 123456789), md5()],
        sport=49152))
    out.append(udp_vector(
        "03 RRQ deregistration M G, vendor extensions, dynamic HA, message string, MN-HA",
        rrq(0x18, 0, HOME, HOME), rrq_fields(0x18, 0, HOME, HOME),
        [ext_nvse(311, 0x0101, b"\x01\x02\x03\x04\x05"), ext_cvse(9, 7, b"xyz"), ext_dynamic_ha(1, "10.1.0.9"),
         ext_message_string(1, "hello"), ext_encap_delivery(), md5(), ext_unknown(201, b"\x00\xff")]))
    out.append(udp_vector(
        "04 RRQ, MN-HA, challenge, generalized MN-AAA auth (HMAC-MD5 over RFC 4721 §5 range)",
        rrq(0x02, 600, HOME, COA), rrq_fields(0x02, 600, HOME, COA),
        [md5(), ext_challenge(bytes(range(16))), Auth(36, 0x200, "hmac-md5", KEY_MD5, generalized=True, subtype=1)]))
    out.append(udp_vector(
        "05 RRQ, MN-HA HMAC-SHA-256", rrq(0x00, 300, HOME, COA), rrq_fields(0x00, 300, HOME, COA),
        [Auth(32, 0x2000, "hmac-sha256", KEY_SHA256)]))
    out.append(udp_vector(
        "06 RRQ, MN-HA keyed BLAKE2b", rrq(0x80, 300, HOME, COA), rrq_fields(0x80, 300, HOME, COA),
        [Auth(32, 0x3000, "blake2b", KEY_BLAKE2B)]))
    out.append(udp_vector(
        "07 RRP 0 accepted, UDP tunnel reply, MN-HA", rrp(0, 1800), rrp_fields(0, 1800),
        [ext_udp_tunnel_reply(0, 0x8000, 60), md5()], src=HA, dst=COA))
    out.append(udp_vector(
        "08 RRP 133 identification mismatch, MN-HA", rrp(133, 0, (0xE9A1B2FF << 32) | ID_LOW),
        rrp_fields(133, 0, (0xE9A1B2FF << 32) | ID_LOW), [md5()], src=HA, dst=COA))
    out.append(udp_vector(
        "09 RRP 70 poorly formed request (FA), message string", rrp(70, 0), rrp_fields(70, 0),
        [ext_message_string(2, "bad request")], src=FA, dst=MN))

    # Tunnel data (RFC 3519 §3.3) around an inner IPv4/UDP datagram.
    inner = IP(src=HOME, dst="203.0.113.9", ttl=61, id=0x1111) / UDP(sport=5000, dport=53) / Raw(b"inner payload")
    td = MobileIP(type=4) / MobileIPTunnelData(nexthdr=4) / inner
    v = udp_vector("10 tunnel data carrying IPv4/UDP", td, {"type": 4, "nextHeader": 4}, [], src=HA, dst=COA)
    v["inner"] = raw(inner).hex()
    del v["fields"]["extensions"]
    out.append(v)

    # Registration revocation (RFC 3543 §3.1) and its acknowledgement (§3.2): no scapy layer.
    fa_ha = lambda: Auth(34, 0x400, "hmac-md5", KEY_MD5)  # noqa: E731
    rev = MobileIP(type=7) / Raw(struct.pack("!BHIIII", 0, 0x8000, ip_to_int(HOME), ip_to_int(HA), ip_to_int(FA), 77))
    out.append(udp_vector(
        "11 registration revocation A, FA-HA auth", rev,
        {"type": 7, "flags": 0x8000, "homeAddress": HOME, "homeDomainAddress": HA, "foreignDomainAddress": FA, "revocationId": 77},
        [fa_ha()], src=HA, dst=FA))
    ack = MobileIP(type=15) / Raw(struct.pack("!BHII", 0, 0x8000, ip_to_int(HOME), 77))
    out.append(udp_vector(
        "12 revocation acknowledgement I, FA-HA auth", ack,
        {"type": 15, "flags": 0x8000, "homeAddress": HOME, "revocationId": 77}, [fa_ha()], src=FA, dst=HA))

    # Agent advertisement: scapy's ICMP type 9 header (its 32-bit `unused` holds num addrs, entry
    # size, lifetime); the router entries and RFC 5944 §2.1 extensions are struct-packed.
    routers = [(FA, 0), ("198.51.100.254", -1)]
    coas = [COA, "198.51.100.3"]
    flags = 0x8000 | 0x1000 | 0x0100 | 0x0080 | 0x0040  # R F T U X
    body = b"".join(struct.pack("!Ii", ip_to_int(a), p) for a, p in routers)
    body += struct.pack("!BBHHH", 16, 6 + 4 * len(coas), 42, 900, flags) + b"".join(struct.pack("!I", ip_to_int(c)) for c in coas)
    body += struct.pack("!BBBB", 19, 2, 24, 25) + b"\x00"
    adv = ICMP(type=9, code=0, unused=(len(routers) << 24) | (2 << 16) | 1800) / Raw(body)
    pkt = IP(src=FA, dst="224.0.0.1", ttl=1, id=3) / adv
    out.append({
        "name": "13 agent advertisement R F T U X, 2 routers, 2 CoAs, prefix lengths, padding", "kind": "icmp",
        "packet": raw(pkt).hex(), "payload": raw(adv).hex(),
        "ip": {"src": FA, "dst": "224.0.0.1", "ttl": 1, "id": 3, "protocol": 1},
        "fields": {"type": 9, "code": 0, "lifetime": 1800,
                   "routers": [{"address": a, "preference": p} for a, p in routers],
                   "extensions": [
                       {"kind": "mobility-agent", "sequence": 42, "registrationLifetime": 900, "flags": flags, "careOfAddresses": coas},
                       {"kind": "prefix-lengths", "prefixLengths": [24, 25]},
                       {"kind": "pad"}]},
        "auth": [], "scapy": IP(raw(pkt)).summary(),
    })
    sol = ICMP(type=10, code=0)
    pkt = IP(src=MN, dst="224.0.0.2", ttl=1, id=4) / sol
    out.append({
        "name": "14 agent solicitation", "kind": "icmp", "packet": raw(pkt).hex(), "payload": raw(sol).hex(),
        "ip": {"src": MN, "dst": "224.0.0.2", "ttl": 1, "id": 4, "protocol": 1},
        "fields": {"type": 10, "code": 0}, "auth": [], "scapy": IP(raw(pkt)).summary(),
    })
    return out


def macs():
    """Raw MAC vectors over assorted key and data lengths (HMAC block-size edges included)."""
    out = []
    datas = [b"", b"a", bytes(range(64)), bytes(range(256)) * 3]
    keys = {
        "hmac-md5": [b"k", bytes(range(64)), bytes(range(100))],
        "hmac-sha256": [b"k", bytes(range(64)), bytes(range(100))],
        "blake2b": [bytes(range(16)), bytes(range(33)), bytes(range(64))],
    }
    for alg, ks in keys.items():
        for k in ks:
            for d in datas:
                out.append({"alg": alg, "key": k.hex(), "data": d.hex(), "mac": mac(alg, k, d).hex()})
    return out


if __name__ == "__main__":
    import scapy

    json.dump({"scapy": scapy.VERSION, "python": sys.version.split()[0], "packets": packets(), "macs": macs()}, sys.stdout)
    sys.stdout.write("\n")
