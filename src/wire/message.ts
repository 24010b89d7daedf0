/**
 * Dispatch on the first byte: Mobile IP messages on UDP port 434 (RFC 5944 §1.8, RFC 3519 §3.3,
 * RFC 3543 §7.1) and ICMP agent discovery messages (RFC 5944 §2).
 */
import { MsgType, IcmpType } from './constants';
import { need, malformed, window } from './bounds';
import * as request from './registration-request';
import * as reply from './registration-reply';
import * as revocation from './registration-revocation';
import * as revocationAck from './revocation-ack';
import * as tunnelData from './tunnel-data';
import * as advertisement from './agent-advertisement';
import * as solicitation from './agent-solicitation';

export type MipMessage =
  | request.RegistrationRequest
  | reply.RegistrationReply
  | revocation.RegistrationRevocation
  | revocationAck.RevocationAck
  | tunnelData.TunnelDataDecoded;

export type IcmpMessage = advertisement.AgentAdvertisement | solicitation.AgentSolicitation;

/** Decodes the UDP payload of a datagram to or from port 434. */
export function decodeMip(buf: Buffer, off = 0, end = buf.length): MipMessage {
  window(buf, off, end);
  need(off, 1, end, 'Mobile IP message type');
  switch (buf[off]) {
    case MsgType.REGISTRATION_REQUEST: return request.decode(buf, off, end);
    case MsgType.REGISTRATION_REPLY: return reply.decode(buf, off, end);
    case MsgType.TUNNEL_DATA: return tunnelData.decode(buf, off, end);
    case MsgType.REGISTRATION_REVOCATION: return revocation.decode(buf, off, end);
    case MsgType.REVOCATION_ACK: return revocationAck.decode(buf, off, end);
    default: throw malformed(`unknown Mobile IP message type ${buf[off]}`, off);
  }
}

/** Decodes an ICMP agent advertisement or solicitation. */
export function decodeIcmp(buf: Buffer, off = 0, end = buf.length, opts: { verifyChecksum?: boolean } = {}): IcmpMessage {
  window(buf, off, end);
  need(off, 1, end, 'ICMP type');
  switch (buf[off]) {
    case IcmpType.ROUTER_ADVERTISEMENT: return advertisement.decode(buf, off, end, opts);
    case IcmpType.ROUTER_SOLICITATION: return solicitation.decode(buf, off, end, opts);
    default: throw malformed(`ICMP type ${buf[off]} is neither an agent advertisement (9) nor a solicitation (10)`, off);
  }
}
