/**
 * Proxy flows (docs/protocol.md), with a real home agent state machine behind the proxy: first
 * attach relayed to the HA, move without the HA, simultaneous bindings, NAT, time-outs, denials.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProxy, stepProxy, proxyBindings, ProxyConfig } from '../../../src/roles/proxy';
import { createHa, stepHa } from '../../../src/roles/ha';
import { ProxyMap } from '../../../src/tables/proxy-map';
import { AddressPool } from '../../../src/tables/address-pool';
import { BindingTable } from '../../../src/tables/binding-table';
import { SecurityAssociation } from '../../../src/auth/security-association';
import { timestampId } from '../../../src/auth/replay';
import { verify } from '../../../src/auth/authenticator';
import * as request from '../../../src/wire/registration-request';
import * as reply from '../../../src/wire/registration-reply';
import type { Extension } from '../../../src/wire/extensions';
import { encodeRequest, encodeRevocation, firstAuth, findNvse, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../../src/roles/messages';
import type { Action } from '../../../src/roles/types';
import { ip } from '../../util/hex';
import { mulberry32 } from '../../util/prng';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const OUT = ip('203.0.113.2'), IN = ip('10.1.0.2'), HA = ip('10.1.0.1'), HOME = ip('10.1.0.50');
const COA1 = ip('192.0.2.10'), COA2 = ip('198.51.100.20'), FA = ip('192.0.2.1');
const NAI = 'alice@corp.example';
const k = (b: number) => new Uint8Array(16).fill(b);
const mnHaSa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: k(1) });
const mnProxySa = new SecurityAssociation({ spi: 257, algorithm: 'hmac-md5', key: k(2) });
const proxyHaSa = new SecurityAssociation({ spi: 401, algorithm: 'hmac-md5', key: k(4) });

function proxyConfig(over: Partial<ProxyConfig> = {}): ProxyConfig {
  return {
    outside: OUT, inside: IN, mipPort: 434, maxLifetime: 600, reverseTunnel: true, udpTunnel: true, keepalive: 20, revocation: true,
    vendorId: DEFAULT_VENDOR_ID, pendingTimeoutMs: 7000, maxPending: 8,
    mobileNodes: [{ nai: NAI, sa: mnProxySa }, { nai: 'bob@corp.example', sa: mnProxySa }],
    homeAgents: [{ address: HA, port: 434, sa: proxyHaSa }], foreignAgents: [{ address: FA }],
    ...over,
  };
}

function world(poolSize = 4) {
  const proxy = createProxy(proxyConfig(), {
    proxy: new ProxyMap({ nodeCapacity: 8, coaCapacity: 16, maxPerNode: 2, tickMs: 100, now: T0 }),
    outerPool: new AddressPool({ first: ip('198.18.0.10'), count: poolSize, holdMs: 60_000 }),
  }, mulberry32(1));
  const ha = createHa({
    address: HA, homeNetwork: { network: ip('10.1.0.0'), length: 24 }, mipPort: 434, maxLifetime: 1800, reverseTunnel: true,
    udpTunnel: false, keepalive: 0, revocation: true,
    mobileNodes: [{ homeAddress: HOME, nai: NAI, sa: mnHaSa }, { homeAddress: ip('10.1.0.51'), nai: 'bob@corp.example', sa: mnHaSa }],
    peers: [{ address: IN, sa: proxyHaSa, proxy: true }],
  }, { bindings: new BindingTable({ capacity: 8, maxPerNode: 1, tickMs: 100, now: T0 }) }, mulberry32(2));
  return { proxy, ha };
}

let low = 100;
function homeRequest(t: number, home = HOME, nai = NAI): Buffer {
  const id = timestampId(t, low++);
  const exts: Extension[] = home === 0 ? [{ kind: 'nai', nai }] : [];
  return encodeRequest({ type: 1, flags: 0x02, lifetime: 1800, homeAddress: home, homeAgent: HA, careOfAddress: IN, idHigh: id.high, idLow: id.low, extensions: exts }, [{ type: 32, sa: mnHaSa }]);
}

function outerRequest(o: { t: number; coa: number; outer?: number; inner?: Buffer; flags?: number; lifetime?: number; nai?: string; udp?: boolean }): Buffer {
  const id = timestampId(o.t, low++);
  const exts: Extension[] = [{ kind: 'nai', nai: o.nai ?? NAI }];
  if (o.inner) exts.push(nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, o.inner));
  if (o.udp) exts.push({ kind: 'udp-tunnel-request', subtype: 0, flags: 0, encapsulation: 4 });
  return encodeRequest({ type: 1, flags: o.flags ?? 0x22, lifetime: o.lifetime ?? 300, homeAddress: o.outer ?? 0, homeAgent: OUT, careOfAddress: o.coa,
    idHigh: id.high, idLow: id.low, extensions: exts }, [{ type: 32, sa: mnProxySa }]);
}

const sends = (out: Action[]) => out.filter((a): a is Extract<Action, { kind: 'send-udp' }> => a.kind === 'send-udp');

/** MN → proxy → HA → proxy → MN; returns the proxy's reply to the node and all actions. */
function attach(w: ReturnType<typeof world>, data: Buffer, src: number, t: number, srcPort = 434) {
  const a1 = stepProxy(w.proxy, { kind: 'udp', src, srcPort, dst: OUT, dstPort: 434, data }, t);
  const relay = sends(a1).filter((s) => s.dst === HA);
  let a3: Action[] = [];
  if (relay.length) {
    const a2 = stepHa(w.ha, { kind: 'udp', src: IN, srcPort: 434, dst: HA, dstPort: 434, data: relay[0]!.data }, t);
    const haReply = sends(a2)[0]!;
    a3 = stepProxy(w.proxy, { kind: 'udp', src: HA, srcPort: 434, dst: IN, dstPort: 434, data: haReply.data }, t);
  }
  const all = [...a1, ...a3];
  const toMn = sends(all).filter((s) => s.dst === src);
  assert.is(toMn.length, 1, JSON.stringify(all.filter((a) => a.kind === 'log')));
  return { reply: reply.decode(toMn[0]!.data), buf: toMn[0]!.data, all, relay: relay[0] };
}

test('first attach: home registration relayed with FA-HA, outer reply carries the outer address and the HA reply', () => {
  const w = world();
  const { reply: r, buf, relay, all } = attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0);
  // What the HA saw: the node's own request, MN-HA intact, plus our FA-HA.
  const relayed = request.decode(relay!.data);
  assert.is(relayed.careOfAddress, IN);
  assert.ok(verify(mnHaSa, relay!.data, 0, firstAuth(relayed.extensions, 32)!));
  assert.ok(verify(proxyHaSa, relay!.data, 0, firstAuth(relayed.extensions, 34)!));
  assert.is(relay!.src, IN);
  // What the node gets.
  assert.is(r.code, 0);
  assert.is(r.homeAgent, OUT);
  assert.ok(r.homeAddress >= ip('198.18.0.10') && r.homeAddress < ip('198.18.0.14'), 'outer address from the pool');
  assert.ok(verify(mnProxySa, buf, 0, firstAuth(r.extensions, 32)!), 'outer reply authenticated with the MN–proxy SA');
  const inner = findNvse(r.extensions, DEFAULT_VENDOR_ID, NvseType.HOME_REPLY)!;
  const innerBuf = Buffer.from(inner.value);
  const hr = reply.decode(innerBuf);
  assert.is(hr.code, 0);
  assert.is(hr.homeAddress, HOME);
  assert.ok(verify(mnHaSa, innerBuf, 0, firstAuth(hr.extensions, 32)!), 'home reply authenticated end to end by the HA');
  assert.is(firstAuth(hr.extensions, 34), undefined, 'the proxy strips its FA-HA extension');
  const pb = all.find((a) => a.kind === 'proxy-binding') as Extract<Action, { kind: 'proxy-binding' }>;
  assert.equal({ ...pb }, { kind: 'proxy-binding', op: 'set', home: HOME, outer: r.homeAddress, careOf: COA1, tunnel: 'ipip', port: 0 });
  assert.is(w.ha.bindings.mode[w.ha.bindings.find(HOME)], 1, 'HA delivers toward the VPN gateway');
});

test('a move updates the care-of address without the home agent', () => {
  const w = world();
  const first = attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0);
  const outer = first.reply.homeAddress;
  const haRequests = w.ha.counters.rx_request;
  const mv = attach(w, outerRequest({ t: T0 + 5000, coa: COA2, outer }), COA2, T0 + 5000);
  assert.is(mv.reply.code, 0);
  assert.is(mv.reply.homeAddress, outer, 'same outer address after the move');
  assert.is(w.ha.counters.rx_request, haRequests, 'the HA was not involved');
  // The new binding first, then the one it replaces (make-before-break for the data plane).
  assert.equal(mv.all.filter((a) => a.kind === 'proxy-binding').map((a) => `${(a as { op: string }).op} ${(a as { careOf: number }).careOf === COA2 ? 'new' : (a as { careOf: number }).careOf === COA1 ? 'old' : '?'}`), ['set new', 'del old']);
  assert.equal(proxyBindings(w.proxy, T0 + 5000, String).map((b) => b.careOf), [String(COA2)]);
});

test('make-before-break: with S both care-of addresses are bound until one is dropped', () => {
  const w = world();
  const outer = attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0).reply.homeAddress;
  attach(w, outerRequest({ t: T0 + 1000, coa: COA2, outer, flags: 0xa2 }), COA2, T0 + 1000);
  assert.is(proxyBindings(w.proxy, T0 + 1000, String).length, 2);
  const dereg = attach(w, outerRequest({ t: T0 + 2000, coa: COA1, outer, lifetime: 0 }), COA2, T0 + 2000);
  assert.is(dereg.reply.code, 0);
  assert.equal(proxyBindings(w.proxy, T0 + 2000, String).map((b) => b.careOf), [String(COA2)]);
});

test('a move without a valid home binding is answered 128 "home registration required"', () => {
  const w = world();
  const r = attach(w, outerRequest({ t: T0, coa: COA1 }), COA1, T0).reply;
  assert.is(r.code, 128);
  assert.ok(r.extensions.some((e) => e.kind === 'message-string' && e.text === 'home registration required'));
  assert.is(w.proxy.pool.allocated, 0, 'no outer address allocated for a failed registration');
});

test('behind a NAT: UDP tunnel to the NAT address and port (RFC 3519)', () => {
  const w = world();
  const r = attach(w, outerRequest({ t: T0, coa: ip('192.168.1.5'), inner: homeRequest(T0), udp: true }), COA2, T0, 61000);
  assert.is(r.reply.code, 0);
  assert.ok(r.reply.extensions.some((e) => e.kind === 'udp-tunnel-reply' && e.code === 0));
  const pb = r.all.find((a) => a.kind === 'proxy-binding') as Extract<Action, { kind: 'proxy-binding' }>;
  assert.is(pb.tunnel, 'udp');
  assert.is(pb.port, 61000);
  assert.is(pb.careOf, COA2, 'the tunnel goes to the NAT address the request came from, not the private care-of address');
});

test('home agent denial is passed to the node with the HA reply inside', () => {
  const w = world();
  const bad = homeRequest(T0);
  bad[bad.length - 1] ^= 1; // the HA will answer 131
  const r = attach(w, outerRequest({ t: T0, coa: COA1, inner: bad }), COA1, T0).reply;
  assert.is(r.code, 131);
  assert.ok(findNvse(r.extensions, DEFAULT_VENDOR_ID, NvseType.HOME_REPLY));
  assert.is(w.proxy.map.nodeCount, 0);
});

test('the home agent does not answer: 88 after the pending time-out', () => {
  const w = world();
  const data = outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) });
  const a1 = stepProxy(w.proxy, { kind: 'udp', src: COA1, srcPort: 434, dst: OUT, dstPort: 434, data }, T0);
  assert.is(sends(a1).filter((s) => s.dst === HA).length, 1);
  assert.is(sends(stepProxy(w.proxy, { kind: 'tick' }, T0 + 6000)).length, 0);
  const a2 = stepProxy(w.proxy, { kind: 'tick' }, T0 + 7001);
  const r = reply.decode(sends(a2)[0]!.data);
  assert.is(r.code, 88);
  assert.is(w.proxy.pending.size, 0);
});

test('a home reply that fails FA-HA authentication is never relayed', () => {
  const w = world();
  const data = outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) });
  const a1 = stepProxy(w.proxy, { kind: 'udp', src: COA1, srcPort: 434, dst: OUT, dstPort: 434, data }, T0);
  const relay = sends(a1)[0]!;
  const a2 = stepHa(w.ha, { kind: 'udp', src: IN, srcPort: 434, dst: HA, dstPort: 434, data: relay.data }, T0);
  const forged = Buffer.from(sends(a2)[0]!.data);
  forged[forged.length - 1] ^= 1;
  const a3 = stepProxy(w.proxy, { kind: 'udp', src: HA, srcPort: 434, dst: IN, dstPort: 434, data: forged }, T0);
  assert.is(sends(a3).length, 0);
  assert.is(w.proxy.counters.drop_home_reply_auth, 1);
});

test('inconsistent home requests are refused with 134', () => {
  const w = world();
  const wrongCoa = encodeRequest({ type: 1, flags: 2, lifetime: 100, homeAddress: HOME, homeAgent: HA, careOfAddress: COA1, idHigh: 1, idLow: 1, extensions: [] }, [{ type: 32, sa: mnHaSa }]);
  assert.is(attach(w, outerRequest({ t: T0, coa: COA1, inner: wrongCoa }), COA1, T0).reply.code, 134);
  assert.is(attach(w, outerRequest({ t: T0 + 1, coa: COA1, inner: Buffer.from('0102', 'hex') }), COA1, T0 + 1).reply.code, 134);
  const otherNai = homeRequest(T0 + 2, 0, 'mallory@corp.example');
  assert.is(attach(w, outerRequest({ t: T0 + 2, coa: COA1, inner: otherNai }), COA1, T0 + 2).reply.code, 134);
});

test('outer pool exhausted → 130; deregistration returns the address, held for the same NAI', () => {
  const w = world(1);
  const alice = attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0).reply.homeAddress;
  const bob = attach(w, outerRequest({ t: T0 + 1, coa: COA2, nai: 'bob@corp.example', inner: homeRequest(T0 + 1, ip('10.1.0.51'), 'bob@corp.example') }), COA2, T0 + 1);
  assert.is(bob.reply.code, 130);
  const d = attach(w, outerRequest({ t: T0 + 2, coa: alice, outer: alice, lifetime: 0 }), COA1, T0 + 2);
  assert.is(d.reply.code, 0);
  assert.is(w.proxy.map.nodeCount, 0);
  const again = attach(w, outerRequest({ t: T0 + 3, coa: COA1, inner: homeRequest(T0 + 3) }), COA1, T0 + 3);
  assert.is(again.reply.homeAddress, alice, 'same NAI, same outer address within the hold time');
});

test('bindings expire and release the outer address', () => {
  const w = world();
  attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0);
  const out = stepProxy(w.proxy, { kind: 'tick' }, T0 + 301_000);
  assert.ok(out.some((a) => a.kind === 'proxy-binding' && a.op === 'del'));
  assert.is(w.proxy.map.nodeCount, 0);
  assert.is(w.proxy.pool.free, 3, 'the address is held for the NAI, not free for others');
});

test('revocation by the home agent removes the node and is acknowledged; a forged one is ignored', () => {
  const w = world();
  attach(w, outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) }), COA1, T0);
  const forged = encodeRevocation({ type: 7, flags: 0x8000, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: IN, revocationId: 1, extensions: [] }, [{ type: 34, sa: mnHaSa }]);
  assert.is(sends(stepProxy(w.proxy, { kind: 'udp', src: HA, srcPort: 434, dst: IN, dstPort: 434, data: forged }, T0 + 1)).length, 0);
  assert.is(w.proxy.map.nodeCount, 1);
  const out = stepHa(w.ha, { kind: 'revoke', home: HOME }, T0 + 2);
  const rev = sends(out)[0]!;
  assert.is(rev.dst, IN);
  const a = stepProxy(w.proxy, { kind: 'udp', src: HA, srcPort: 434, dst: IN, dstPort: 434, data: rev.data }, T0 + 3);
  assert.is(w.proxy.map.nodeCount, 0);
  const ack = sends(a)[0]!;
  assert.is(ack.data[0], 15);
  stepHa(w.ha, { kind: 'udp', src: IN, srcPort: 434, dst: HA, dstPort: 434, data: ack.data }, T0 + 4);
  assert.is(w.ha.counters.revocation_acked, 1);
});

test('random input never throws and never creates state', () => {
  const w = world();
  const rnd = mulberry32(9);
  const good = outerRequest({ t: T0, coa: COA1, inner: homeRequest(T0) });
  for (let i = 0; i < 3000; i++) {
    const data = Buffer.from(good);
    for (let j = 0; j < 1 + (rnd() % 3); j++) data[rnd() % data.length] = rnd() & 0xff;
    stepProxy(w.proxy, { kind: 'udp', src: rnd() >>> 0, srcPort: 434, dst: OUT, dstPort: 434, data: data.subarray(0, rnd() % (data.length + 1)) }, T0 + i);
  }
  assert.is(w.proxy.map.nodeCount, 0);
});

test.run();
