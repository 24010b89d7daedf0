/** Home agent flows (RFC 5944 §3.8, RFC 2794, RFC 3519, RFC 3543) as scripted event sequences. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHa, stepHa, haBindings, reloadHa, HaConfig, HaState } from '../../../src/roles/ha';
import { BindingTable } from '../../../src/tables/binding-table';
import { AddressPool } from '../../../src/tables/address-pool';
import { SecurityAssociation } from '../../../src/auth/security-association';
import { timestampId } from '../../../src/auth/replay';
import { verify } from '../../../src/auth/authenticator';
import * as reply from '../../../src/wire/registration-reply';
import * as revocation from '../../../src/wire/registration-revocation';
import type { Extension } from '../../../src/wire/extensions';
import { encodeRequest, encodeRevocationAck, encodeRevocation, firstAuth, Signer } from '../../../src/roles/messages';
import type { Action } from '../../../src/roles/types';
import { ip } from '../../util/hex';
import { mulberry32 } from '../../util/prng';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const HA = ip('10.1.0.1'), HOME = ip('10.1.0.50'), COA = ip('192.0.2.10'), FA = ip('192.0.2.1'), PROXY = ip('10.1.0.2');
const key = (b: number) => new Uint8Array(16).fill(b);
const mnSa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: key(1) });
const dynSa = new SecurityAssociation({ spi: 300, algorithm: 'hmac-md5', key: key(2) });
const nonceSa = new SecurityAssociation({ spi: 301, algorithm: 'hmac-md5', key: key(6), replay: 'nonce' });
const faSa = new SecurityAssociation({ spi: 400, algorithm: 'hmac-md5', key: key(3) });
const proxySa = new SecurityAssociation({ spi: 401, algorithm: 'hmac-md5', key: key(4) });

function config(over: Partial<HaConfig> = {}): HaConfig {
  return {
    address: HA, homeNetwork: { network: ip('10.1.0.0'), length: 24 }, mipPort: 434, maxLifetime: 1800,
    reverseTunnel: true, udpTunnel: true, keepalive: 25, revocation: true,
    mobileNodes: [
      { homeAddress: HOME, nai: 'alice@corp.example', sa: mnSa },
      { homeAddress: 0, nai: 'bob@corp.example', sa: dynSa },
      { homeAddress: ip('10.1.0.60'), nai: 'carol@corp.example', sa: nonceSa },
    ],
    peers: [{ address: FA, sa: faSa, proxy: false }, { address: PROXY, sa: proxySa, proxy: true }],
    ...over,
  };
}

function ha(over: Partial<HaConfig> = {}, capacity = 64, maxPerNode = 3): HaState {
  return createHa(config(over), {
    bindings: new BindingTable({ capacity, maxPerNode, tickMs: 100, now: T0 }),
    homePool: new AddressPool({ first: ip('10.1.0.200'), count: 4, holdMs: 60_000 }),
  }, mulberry32(7));
}

interface Req { flags?: number; lifetime?: number; home?: number; coa?: number; haAddr?: number; id?: { high: number; low: number }; exts?: Extension[]; signers?: Signer[] }
let lowCounter = 1;
function req(o: Req = {}): Buffer {
  const id = o.id ?? timestampId(T0, lowCounter++);
  return encodeRequest({
    type: 1, flags: o.flags ?? 0x02, lifetime: o.lifetime ?? 600, homeAddress: o.home ?? HOME, homeAgent: o.haAddr ?? HA,
    careOfAddress: o.coa ?? COA, idHigh: id.high, idLow: id.low, extensions: o.exts ?? [],
  }, o.signers ?? [{ type: 32, sa: mnSa }]);
}

function deliver(st: HaState, data: Buffer, src = COA, now = T0, srcPort = 434): Action[] {
  return stepHa(st, { kind: 'udp', src, srcPort, dst: HA, dstPort: 434, data }, now);
}

function replies(out: Action[]): Array<{ m: reply.RegistrationReply; buf: Buffer; dst: number; dstPort: number }> {
  return out.filter((a): a is Extract<Action, { kind: 'send-udp' }> => a.kind === 'send-udp' && a.data[0] === 3)
    .map((a) => ({ m: reply.decode(a.data), buf: a.data, dst: a.dst, dstPort: a.dstPort }));
}

function onlyReply(out: Action[]) {
  const r = replies(out);
  assert.is(r.length, 1, `one reply expected, got ${r.length}: ${JSON.stringify(out.filter((a) => a.kind === 'log'))}`);
  return r[0]!;
}

function replyVerifies(r: { m: reply.RegistrationReply; buf: Buffer }, sa: SecurityAssociation, type: 32 | 34 = 32): boolean {
  const e = firstAuth(r.m.extensions, type);
  return !!e && verify(sa, r.buf, 0, e);
}

test('co-located registration is accepted, signed, and creates a tunnel binding', () => {
  const st = ha();
  const out = deliver(st, req({ flags: 0x22 }), COA, T0, 40000);
  const r = onlyReply(out);
  assert.is(r.m.code, 0);
  assert.is(r.m.lifetime, 600);
  assert.is(r.m.homeAddress, HOME);
  assert.is(r.m.homeAgent, HA);
  assert.is(r.dst, COA);
  assert.is(r.dstPort, 40000, 'reply goes to the source port (§3.8.3.1)');
  assert.ok(replyVerifies(r, mnSa));
  const b = out.find((a) => a.kind === 'ha-binding');
  assert.equal(b, { kind: 'ha-binding', op: 'set', home: HOME, careOf: COA, mode: 'tunnel', tunnel: 'ipip', port: 0, reverse: true });
  assert.is(st.bindings.size, 1);
});

test('lifetime is capped at the configured maximum (§3.8.3.2)', () => {
  const st = ha();
  assert.is(onlyReply(deliver(st, req({ lifetime: 65535 }))).m.lifetime, 1800);
});

test('a bad MN-HA authenticator gets 131 with a valid MN-HA extension and changes nothing', () => {
  const st = ha();
  const bad = req();
  bad[bad.length - 1] ^= 1;
  const r = onlyReply(deliver(st, bad));
  assert.is(r.m.code, 131);
  assert.ok(replyVerifies(r, mnSa));
  assert.is(st.bindings.size, 0);
  assert.is(st.counters.deny_131, 1);
});

test('replayed identification gets 133 with the HA time and the request low half; state unchanged', () => {
  const st = ha();
  const id = timestampId(T0, 99);
  assert.is(onlyReply(deliver(st, req({ id }))).m.code, 0);
  const r = onlyReply(deliver(st, req({ id }), COA, T0 + 1000));
  assert.is(r.m.code, 133);
  assert.is(r.m.idLow, id.low);
  assert.ok(replyVerifies(r, mnSa));
  const skew = onlyReply(deliver(st, req({ id: timestampId(T0 - 60_000, 5) }), COA, T0 + 2000));
  assert.is(skew.m.code, 133);
  assert.is(skew.m.idHigh, Math.floor((T0 + 2000) / 1000) + 2208988800);
});

test('nonce replay protection: first request resyncs, second with the nonce is accepted', () => {
  const st = ha();
  const home = ip('10.1.0.60');
  const r1 = onlyReply(deliver(st, req({ home, id: { high: 0, low: 1 }, signers: [{ type: 32, sa: nonceSa }] })));
  assert.is(r1.m.code, 133);
  const r2 = onlyReply(deliver(st, req({ home, id: { high: r1.m.idHigh, low: 2 }, signers: [{ type: 32, sa: nonceSa }] })));
  assert.is(r2.m.code, 0);
  assert.is(r2.m.idLow, 2);
  assert.ok(r2.m.idHigh !== r1.m.idHigh);
});

const DROPS: Array<[string, () => Buffer, string, number?]> = [
  ['unknown home address and no NAI', () => req({ home: ip('10.1.0.99') }), 'drop_unknown-node'],
  ['no MN-HA extension', () => req({ signers: [] }), 'drop_no-mn-ha-auth'],
  ['SPI of another SA', () => req({ signers: [{ type: 32, sa: dynSa }] }), 'drop_unknown-spi'],
  ['FA-HA from an agent without SA', () => req({ signers: [{ type: 32, sa: mnSa }, { type: 34, sa: faSa }] }), 'drop_fa-ha-without-sa', ip('192.0.2.77')],
  ['home address of another node signed with our SA', () => req({ home: ip('10.1.0.60') }), 'drop_unknown-spi'],
  ['truncated message', () => req().subarray(0, 30), 'drop_ERR_WIRE_TRUNCATED'],
  ['unknown non-skippable extension', () => req({ exts: [{ kind: 'unknown', type: 200, data: new Uint8Array(0) }] }).fill(50, 24, 25), 'drop_ERR_WIRE_UNKNOWN_EXTENSION'],
];
DROPS.forEach(([name, make, counter, src], i) => {
  test(`silent drop #${i + 1}: ${name}`, () => {
    const st = ha();
    const out = deliver(st, make(), src ?? COA);
    assert.is(replies(out).length, 0);
    assert.is(st.counters[counter], 1, JSON.stringify(st.counters));
    assert.is(st.bindings.size, 0);
  });
});

const DENIALS: Array<[string, () => Buffer, number, number?]> = [
  ['wrong home agent field', () => req({ haAddr: ip('10.1.0.9') }), 136],
  ['reserved r bit set', () => req({ flags: 0x06 }), 134],
  ['minimal encapsulation requested', () => req({ flags: 0x12 }), 139],
  ['GRE requested', () => req({ flags: 0x0a }), 139],
  ['FA-HA missing from an FA we share an SA with', () => req({ coa: FA }), 132, FA],
  ['FA-HA invalid', () => { const b = req({ signers: [{ type: 32, sa: mnSa }, { type: 34, sa: faSa }] }); b[b.length - 1] ^= 1; return b; }, 132, FA],
  ['forced UDP tunnel with unsupported encapsulation', () => req({ exts: [{ kind: 'udp-tunnel-request', subtype: 0, flags: 0x80, encapsulation: 47 }] }), 142],
];
DENIALS.forEach(([name, make, code, src], i) => {
  test(`denial #${i + 1}: ${name} → ${code}`, () => {
    const st = ha();
    const r = onlyReply(deliver(st, make(), src ?? COA));
    assert.is(r.m.code, code);
    assert.ok(replyVerifies(r, mnSa));
    assert.is(st.bindings.size, 0);
  });
});

test('co-located node relayed by an FA (care-of address not the FA\'s): no FA-HA required (§3.5.4), reply still signed FA-HA', () => {
  const st = ha();
  const r = onlyReply(deliver(st, req({ flags: 0x22 }), FA));
  assert.is(r.m.code, 0);
  assert.is(r.m.extensions.filter((e) => e.kind === 'auth' && e.type === 34).length, 1);
  assert.is(st.bindings.size, 1);
});

test('reverse tunnelling not offered → 137 (RFC 3024)', () => {
  const st = ha({ reverseTunnel: false });
  assert.is(onlyReply(deliver(st, req({ flags: 0x02 }))).m.code, 137);
});

test('relayed by a foreign agent with a valid FA-HA: accepted, reply carries FA-HA too', () => {
  const st = ha();
  const r = onlyReply(deliver(st, req({ coa: FA, signers: [{ type: 32, sa: mnSa }, { type: 34, sa: faSa }] }), FA));
  assert.is(r.m.code, 0);
  assert.ok(replyVerifies(r, mnSa));
  assert.ok(replyVerifies(r, faSa, 34));
  assert.is(r.dst, FA);
  assert.is(haBindings(st, T0, String)[0]!.via, String(FA));
});

test('registered through the proxy: delivery toward the VPN gateway', () => {
  const st = ha();
  const out = deliver(st, req({ coa: PROXY, signers: [{ type: 32, sa: mnSa }, { type: 34, sa: proxySa }] }), PROXY);
  assert.is(onlyReply(out).m.code, 0);
  const b = out.find((a) => a.kind === 'ha-binding') as Extract<Action, { kind: 'ha-binding' }>;
  assert.is(b.mode, 'vpn');
  assert.is(b.careOf, PROXY);
});

test('simultaneous bindings (S) add care-of addresses up to the per-node limit, then 135', () => {
  const st = ha({}, 64, 2);
  assert.is(onlyReply(deliver(st, req({ flags: 0x82, coa: ip('192.0.2.10') }))).m.code, 0);
  assert.is(onlyReply(deliver(st, req({ flags: 0x82, coa: ip('192.0.2.11') }), COA, T0 + 1)).m.code, 0);
  assert.is(st.bindings.count(HOME), 2);
  assert.is(onlyReply(deliver(st, req({ flags: 0x82, coa: ip('192.0.2.12') }), COA, T0 + 2)).m.code, 135);
  // Without S the new care-of address replaces all of them (§3.8.2.2), and the data plane hears of
  // each one that goes, after the new one (a data plane keyed by care-of address would otherwise keep
  // tunnelling to the old ones and accepting their traffic).
  const out = deliver(st, req({ flags: 0x02, coa: ip('192.0.2.13') }), COA, T0 + 3);
  assert.is(onlyReply(out).m.code, 0);
  assert.is(st.bindings.count(HOME), 1);
  const acts = out.filter((a): a is Extract<Action, { kind: 'ha-binding' }> => a.kind === 'ha-binding').map((a) => `${a.op} ${a.careOf === ip('192.0.2.13') ? 'new' : a.careOf === ip('192.0.2.10') ? 'old1' : a.careOf === ip('192.0.2.11') ? 'old2' : '?'}`);
  assert.equal(acts, ['set new', 'del old1', 'del old2']);
  // A renewal from the same care-of address removes nothing.
  const again = deliver(st, req({ flags: 0x02, coa: ip('192.0.2.13') }), COA, T0 + 4);
  assert.equal(again.filter((a) => a.kind === 'ha-binding').map((a) => (a as { op: string }).op), ['set']);
});

test('full binding table → 130, and the agent recovers once bindings expire', () => {
  const st = ha({}, 1);
  assert.is(onlyReply(deliver(st, req())).m.code, 0);
  const other = req({ home: 0, exts: [{ kind: 'nai', nai: 'bob@corp.example' }], signers: [{ type: 32, sa: dynSa }] });
  assert.is(onlyReply(deliver(st, other, COA, T0 + 10)).m.code, 130);
  const out = stepHa(st, { kind: 'tick' }, T0 + 601_000);
  assert.ok(out.some((a) => a.kind === 'ha-binding' && a.op === 'del'));
  assert.is(st.counters.expired, 1);
  const again = req({ home: 0, exts: [{ kind: 'nai', nai: 'bob@corp.example' }], signers: [{ type: 32, sa: dynSa }], id: timestampId(T0 + 601_000, 3) });
  assert.is(onlyReply(deliver(st, again, COA, T0 + 601_000)).m.code, 0);
});

test('dynamic home address by NAI (RFC 2794), the same one again after deregistration within the hold time', () => {
  const st = ha();
  const mk = (lifetime: number, home: number, t: number) => req({ home, lifetime, exts: [{ kind: 'nai', nai: 'bob@corp.example' }], signers: [{ type: 32, sa: dynSa }], id: timestampId(t, lowCounter++) });
  const r = onlyReply(deliver(st, mk(600, 0, T0)));
  assert.is(r.m.code, 0);
  const assigned = r.m.homeAddress;
  assert.ok(assigned >= ip('10.1.0.200') && assigned < ip('10.1.0.204'));
  const d = onlyReply(deliver(st, mk(0, assigned, T0 + 1000), COA, T0 + 1000));
  assert.is(d.m.code, 0);
  assert.is(st.bindings.size, 0);
  assert.is(onlyReply(deliver(st, mk(600, 0, T0 + 5000), COA, T0 + 5000)).m.homeAddress, assigned);
});

test('RFC 5944 §3.5.4: replies to deregistrations relayed by a foreign agent carry no FA-HA; other replies do', () => {
  const st = ha();
  const fa = [{ type: 32 as const, sa: mnSa }, { type: 34 as const, sa: faSa }];
  const reg = onlyReply(deliver(st, req({ coa: FA, signers: fa }), FA));
  assert.is(reg.m.code, 0);
  assert.is(firstAuth(reg.m.extensions, 34) !== undefined, true, 'registration reply signed FA-HA');
  for (const [lifetime, coa] of [[0, FA], [600, HOME], [0, HOME]] as const) {
    const r = onlyReply(deliver(st, req({ lifetime, coa, signers: [{ type: 32, sa: mnSa }] }), FA));
    assert.is(r.m.code, 0, `deregistration lifetime ${lifetime} care-of ${coa === HOME ? 'home' : 'FA'}`);
    assert.is(firstAuth(r.m.extensions, 34), undefined, 'no FA-HA on a deregistration reply');
    assert.ok(replyVerifies(r, mnSa));
  }
  // A denial of a deregistration is a deregistration message too.
  const bad = req({ lifetime: 0, coa: FA, signers: [{ type: 32, sa: mnSa }] });
  bad[bad.length - 1] ^= 1;
  const d = onlyReply(deliver(st, bad, FA));
  assert.is(d.m.code, 131);
  assert.is(firstAuth(d.m.extensions, 34), undefined);
});

test('deregistration: one care-of address, then all with CoA = home address (§3.8.2.2)', () => {
  const st = ha();
  deliver(st, req({ flags: 0x82, coa: ip('192.0.2.10') }));
  deliver(st, req({ flags: 0x82, coa: ip('192.0.2.11') }), COA, T0 + 1);
  const one = deliver(st, req({ lifetime: 0, coa: ip('192.0.2.10') }), COA, T0 + 2);
  assert.is(onlyReply(one).m.lifetime, 0);
  assert.is(st.bindings.count(HOME), 1);
  deliver(st, req({ lifetime: 0, coa: HOME }), HOME, T0 + 3);
  assert.is(st.bindings.size, 0);
});

test('UDP tunnel request from behind a NAT: reply extension 44 and a UDP binding with the NAT port (RFC 3519)', () => {
  const st = ha();
  const data = req({ flags: 0x22, coa: ip('192.168.1.5'), exts: [{ kind: 'udp-tunnel-request', subtype: 0, flags: 0, encapsulation: 4 }] });
  const out = deliver(st, data, ip('198.51.100.9'), T0, 61000);
  const r = onlyReply(out);
  assert.is(r.m.code, 0);
  const ext = r.m.extensions.find((e) => e.kind === 'udp-tunnel-reply');
  assert.equal(ext && { ...ext, offset: 0 }, { kind: 'udp-tunnel-reply', offset: 0, subtype: 0, code: 0, flags: 0, keepalive: 25 });
  const b = out.find((a) => a.kind === 'ha-binding') as Extract<Action, { kind: 'ha-binding' }>;
  assert.is(b.tunnel, 'udp');
  assert.is(b.port, 61000);
});

test('UDP tunnel request without a NAT in the path is declined in the reply (RFC 3519 §3.2.1)', () => {
  const st = ha();
  const data = req({ flags: 0x22, exts: [{ kind: 'udp-tunnel-request', subtype: 0, flags: 0, encapsulation: 4 }] });
  const r = onlyReply(deliver(st, data, COA));
  const ext = r.m.extensions.find((e) => e.kind === 'udp-tunnel-reply');
  assert.ok(ext && ext.kind === 'udp-tunnel-reply' && ext.code === 64);
});

test('revocation through the proxy (RFC 3543): revocation sent, binding removed, ack accepted', () => {
  const st = ha();
  const data = req({ coa: PROXY, exts: [{ kind: 'revocation-support', flags: 0x8000, timestamp: 1 }], signers: [{ type: 32, sa: mnSa }, { type: 34, sa: proxySa }] });
  const r = onlyReply(deliver(st, data, PROXY));
  assert.ok(r.m.extensions.some((e) => e.kind === 'revocation-support'));
  const out = stepHa(st, { kind: 'revoke', home: HOME }, T0 + 1000);
  assert.is(st.bindings.size, 0);
  const sent = out.find((a) => a.kind === 'send-udp') as Extract<Action, { kind: 'send-udp' }>;
  assert.is(sent.dst, PROXY);
  const rev = revocation.decode(sent.data);
  assert.is(rev.flags & 0x8000, 0x8000, 'A bit: sent by the home agent side');
  assert.ok(verify(proxySa, sent.data, 0, firstAuth(rev.extensions, 34)!));
  // Unacknowledged: retransmitted on a later tick.
  const again = stepHa(st, { kind: 'tick' }, T0 + 2100);
  assert.ok(again.some((a) => a.kind === 'send-udp'));
  const ack = encodeRevocationAck({ type: 15, flags: 0, homeAddress: HOME, revocationId: rev.revocationId, extensions: [] }, [{ type: 34, sa: proxySa }]);
  deliver(st, ack, PROXY, T0 + 2200);
  assert.is(st.revocations.size, 0);
  assert.is(st.counters.revocation_acked, 1);
});

test('a revocation from an agent is honoured when authenticated and ignored otherwise', () => {
  const st = ha();
  deliver(st, req({ coa: FA, signers: [{ type: 32, sa: mnSa }, { type: 34, sa: faSa }] }), FA);
  const forged = encodeRevocation({ type: 7, flags: 0, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: FA, revocationId: 5, extensions: [] }, [{ type: 34, sa: proxySa }]);
  assert.is(deliver(st, forged, FA).filter((a) => a.kind === 'send-udp').length, 0);
  assert.is(st.bindings.size, 1);
  // Exactly one FA-HA extension (RFC 3543, as the FA checks it): a valid one followed by a second is ignored.
  const twice = encodeRevocation({ type: 7, flags: 0, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: FA, revocationId: 5, extensions: [] }, [{ type: 34, sa: faSa }, { type: 34, sa: proxySa }]);
  assert.is(deliver(st, twice, FA).filter((a) => a.kind === 'send-udp').length, 0);
  assert.is(st.bindings.size, 1);
  const good = encodeRevocation({ type: 7, flags: 0, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: FA, revocationId: 6, extensions: [] }, [{ type: 34, sa: faSa }]);
  const out = deliver(st, good, FA);
  assert.is(st.bindings.size, 0);
  assert.ok(out.some((a) => a.kind === 'send-udp' && a.data[0] === 15));
});

test('reload keeps bindings and replay state; a removed node loses its bindings', () => {
  const st = ha();
  const id = timestampId(T0, 1234);
  deliver(st, req({ id }));
  reloadHa(st, config(), T0 + 10);
  assert.is(st.bindings.size, 1);
  assert.is(onlyReply(deliver(st, req({ id }), COA, T0 + 20)).m.code, 133, 'replay state survived the reload');
  const out = reloadHa(st, config({ mobileNodes: [] }), T0 + 30);
  assert.is(st.bindings.size, 0);
  assert.ok(out.some((a) => a.kind === 'ha-binding' && a.op === 'del'));
});

test('random and mutated input never throws and never creates state', () => {
  const st = ha();
  const rnd = mulberry32(42);
  const good = req();
  for (let i = 0; i < 3000; i++) {
    let data: Buffer;
    if (i % 2) {
      data = Buffer.from(good);
      for (let k = 0; k < 1 + (rnd() % 4); k++) data[rnd() % data.length] = rnd() & 0xff;
      data = data.subarray(0, rnd() % (data.length + 1));
    } else {
      data = Buffer.alloc(rnd() % 80);
      for (let k = 0; k < data.length; k++) data[k] = rnd() & 0xff;
      if (data.length) data[0] = [1, 3, 7, 15, 4][rnd() % 5]!;
    }
    deliver(st, data, rnd() >>> 0, T0 + i);
  }
  assert.is(st.bindings.size, 0);
});

test.run();
