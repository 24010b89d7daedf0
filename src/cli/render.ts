/**
 * JSON views of decoded messages for operators (`roamd decode`, logs, the control socket):
 * addresses dotted, flags by name, reply codes with their names, bytes in hex. Messages never
 * carry keys; authenticators are shown since they are on the wire anyway.
 */
import { REG_FLAG_NAMES, ADV_FLAG_NAMES, replyCodeName, extensionName } from '../wire/constants';
import type { Extension } from '../wire/extensions';
import type { AdvExtension } from '../wire/agent-advertisement';
import type { MipMessage, IcmpMessage } from '../wire/message';
import { ipToString } from '../platform/address';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function flagNames(value: number, names: readonly string[], width: number): string[] {
  const out: string[] = [];
  names.forEach((n, i) => {
    if (value & (1 << (width - 1 - i))) out.push(n);
  });
  return out;
}

function id(high: number, low: number): Record<string, string> {
  return { high: `0x${high.toString(16).padStart(8, '0')}`, low: `0x${low.toString(16).padStart(8, '0')}` };
}

export function renderExtension(e: Extension): Record<string, unknown> {
  const base = { name: e.kind === 'unknown' ? extensionName(e.type) : e.kind, offset: e.offset };
  switch (e.kind) {
    case 'pad': return { ...base, type: 0 };
    case 'auth': return { ...base, name: extensionName(e.type), type: e.type, spi: e.spi, authenticator: hex(e.authenticator) };
    case 'gen-auth': return { ...base, type: 36, subtype: e.subtype, spi: e.spi, authenticator: hex(e.authenticator) };
    case 'cvse': return { ...base, type: 38, vendorId: e.vendorId, vendorType: e.vendorType, value: hex(e.value) };
    case 'nvse': return { ...base, type: 134, vendorId: e.vendorId, vendorType: e.vendorType, value: hex(e.value) };
    case 'udp-tunnel-request': return { ...base, type: 144, subtype: e.subtype, F: !!(e.flags & 0x80), R: !!(e.flags & 0x40), encapsulation: e.encapsulation };
    case 'udp-tunnel-reply': return { ...base, type: 44, subtype: e.subtype, code: e.code, F: !!(e.flags & 0x8000), keepalive: e.keepalive };
    case 'encap-delivery': return { ...base, type: 130 };
    case 'nai': return { ...base, type: 131, nai: e.nai };
    case 'challenge': return { ...base, type: 132, challenge: hex(e.challenge) };
    case 'revocation-support': return { ...base, type: 137, I: !!(e.flags & 0x8000), timestamp: e.timestamp };
    case 'dynamic-ha': return { ...base, type: 139, subtype: e.subtype, haAddress: ipToString(e.haAddress) };
    case 'message-string': return { ...base, type: 145, subtype: e.subtype, text: e.text };
    case 'tnc': return { ...base, type: 149, subtype: e.subtype };
    case 'unknown': return { ...base, type: e.type, data: hex(e.data) };
  }
}

function renderAdvExtension(e: AdvExtension): Record<string, unknown> {
  switch (e.kind) {
    case 'mobility-agent':
      return { name: 'mobility-agent', type: 16, sequence: e.sequence, registrationLifetime: e.registrationLifetime, flags: flagNames(e.flags, ADV_FLAG_NAMES, 16), careOfAddresses: e.careOfAddresses.map(ipToString) };
    case 'prefix-lengths': return { name: 'prefix-lengths', type: 19, prefixLengths: e.prefixLengths };
    case 'challenge': return { name: 'challenge', type: 24, challenge: hex(e.challenge) };
    case 'pad': return { name: 'padding', type: 0 };
    case 'unknown': return { name: `unknown-${e.type}`, type: e.type, data: hex(e.data) };
  }
}

export function renderMip(m: MipMessage): Record<string, unknown> {
  switch (m.type) {
    case 1:
      return { message: 'registration-request', type: 1, flags: flagNames(m.flags, REG_FLAG_NAMES, 8), lifetime: m.lifetime, homeAddress: ipToString(m.homeAddress), homeAgent: ipToString(m.homeAgent), careOfAddress: ipToString(m.careOfAddress), identification: id(m.idHigh, m.idLow), extensions: m.extensions.map(renderExtension) };
    case 3:
      return { message: 'registration-reply', type: 3, code: m.code, codeName: replyCodeName(m.code), lifetime: m.lifetime, homeAddress: ipToString(m.homeAddress), homeAgent: ipToString(m.homeAgent), identification: id(m.idHigh, m.idLow), extensions: m.extensions.map(renderExtension) };
    case 4:
      return { message: 'tunnel-data', type: 4, nextHeader: m.nextHeader, payloadLength: m.end - m.payloadOffset };
    case 7:
      return { message: 'registration-revocation', type: 7, A: !!(m.flags & 0x8000), I: !!(m.flags & 0x4000), homeAddress: ipToString(m.homeAddress), homeDomainAddress: ipToString(m.homeDomainAddress), foreignDomainAddress: ipToString(m.foreignDomainAddress), revocationId: m.revocationId, extensions: m.extensions.map(renderExtension) };
    case 15:
      return { message: 'revocation-ack', type: 15, I: !!(m.flags & 0x8000), homeAddress: ipToString(m.homeAddress), revocationId: m.revocationId, extensions: m.extensions.map(renderExtension) };
  }
}

export function renderIcmp(m: IcmpMessage): Record<string, unknown> {
  if (m.type === 10) return { message: 'agent-solicitation', type: 10, code: m.code };
  return {
    message: 'agent-advertisement', type: 9, code: m.code, lifetime: m.lifetime,
    routers: m.routers.map((r) => ({ address: ipToString(r.address), preference: r.preference })),
    extensions: m.extensions.map(renderAdvExtension),
  };
}
