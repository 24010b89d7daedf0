"""A mobile node built with scapy, independent of roamd's code: registers with a running roamd
home agent over real UDP and checks its replies. HMAC-MD5 authenticators are computed here with
Python's hmac module over exactly the bytes RFC 5944 section 3.5.1 says.

usage: scapy_ha_client.py HA_IP PORT HOME HA_ADDR COA SPI KEYHEX CASE...
CASE: good | bad-auth | replay (replays the identification of the previous case)
Prints one JSON object per case: code, lifetime, home, id_low, sent_id_low, reply_auth_ok.
"""
import hashlib, hmac, json, os, socket, struct, sys, time
from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP

ha_ip, port, home, ha_addr, coa, spi, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), bytes.fromhex(sys.argv[7])
cases = sys.argv[8:]

last_ident = 0

def ident():
    # NTP timestamp (RFC 5944 section 5.7.1): seconds and fraction, strictly increasing, so every
    # new request is newer than the one the home agent accepted last.
    global last_ident
    t = time.time()
    high = (int(t) + 2208988800) & 0xffffffff
    low = int((t % 1) * 2**32) & 0xffffff00 | (struct.unpack('!B', os.urandom(1))[0])
    last_ident = max((high << 32) | low, last_ident + 1)
    return last_ident

def request(identification, corrupt):
    body = bytes(MobileIP(type=1) / MobileIPRRQ(flags=0x02, lifetime=600, homeaddr=home, haaddr=ha_addr, coaddr=coa, id=identification))
    head = body + struct.pack('!BBI', 32, 20, spi)   # MN-HA extension: type, length, SPI
    mac = hmac.new(key, head, hashlib.md5).digest()
    if corrupt:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    return head + mac

def reply_auth_ok(data):
    # Walk the extensions after the 20-byte fixed part to the MN-HA extension.
    off = 20
    while off + 2 <= len(data):
        t, l = data[off], data[off + 1]
        if t == 32:
            covered = data[:off + 6]
            return hmac.compare_digest(hmac.new(key, covered, hashlib.md5).digest(), data[off + 6:off + 2 + l])
        off += 2 + l
    return False

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
s.settimeout(3)
last = None
for case in cases:
    identification = last if case == 'replay' else ident()
    last = identification
    s.sendto(request(identification, case == 'bad-auth'), (ha_ip, port))
    data, _ = s.recvfrom(2048)
    rrp = MobileIP(data)
    r = rrp[MobileIPRRP]
    print(json.dumps({'case': case, 'type': rrp.type, 'code': r.code, 'lifetime': r.lifetime, 'home': r.homeaddr,
                      'id_low': r.id & 0xffffffff, 'sent_id_low': identification & 0xffffffff, 'reply_auth_ok': reply_auth_ok(data)}))
    sys.stdout.flush()
    time.sleep(0.01)
