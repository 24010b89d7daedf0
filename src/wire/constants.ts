/**
 * Mobile IPv4 protocol numbers: message types, extension types, flags and reply codes, each with
 * the RFC section that defines it. Specification constants only; implementation limits live with
 * the code that enforces them. Groups are TypeScript enums, not `as const` objects: esbuild inlines
 * enum members across modules, so the bundle carries the numbers and none of the names (~4 KB).
 */

/** UDP port for Mobile IP registration, RFC 5944 §3.1. */
export const MIP_PORT = 434;

/** Message types sent to UDP port 434 (RFC 5944 §1.8, §6.1). */
export enum MsgType {
  REGISTRATION_REQUEST = 1, // RFC 5944 §3.3
  REGISTRATION_REPLY = 3, // RFC 5944 §3.4
  TUNNEL_DATA = 4, // RFC 3519 §3.3
  REGISTRATION_REVOCATION = 7, // RFC 3543 §3.3
  REVOCATION_ACK = 15, // RFC 3543 §3.4
}

/** ICMP types used by agent discovery (RFC 1256, RFC 5944 §2). */
export enum IcmpType {
  ROUTER_ADVERTISEMENT = 9, // RFC 1256 §3; agent advertisement, RFC 5944 §2.1
  ROUTER_SOLICITATION = 10, // RFC 1256 §3; agent solicitation, RFC 5944 §2.2
}

/** Agent advertisement code 16: "does not route common traffic", RFC 5944 §2.1. */
export const ADV_CODE_MOBILITY_ONLY = 16;

/** Registration request flags, RFC 5944 §3.3 (x: RFC 5944 §3.3, sent as zero). */
export enum RegFlag {
  S = 0x80, // simultaneous bindings
  B = 0x40, // broadcast datagrams
  D = 0x20, // decapsulation by mobile node (co-located CoA)
  M = 0x10, // minimal encapsulation
  G = 0x08, // GRE encapsulation
  r = 0x04, // reserved, sent as zero
  T = 0x02, // reverse tunnelling requested, RFC 3024 §3.1
  x = 0x01, // sent as zero, ignored on reception
}
export const REG_FLAG_NAMES = ['S', 'B', 'D', 'M', 'G', 'r', 'T', 'x'] as const;

/** Mobility agent advertisement extension flags (16 bits), RFC 5944 §2.1.1. */
export enum AdvFlag {
  R = 0x8000, // registration required
  B = 0x4000, // busy
  H = 0x2000, // home agent
  F = 0x1000, // foreign agent
  M = 0x0800, // minimal encapsulation
  G = 0x0400, // GRE
  r = 0x0200, // sent as zero
  T = 0x0100, // reverse tunnelling, RFC 3024
  U = 0x0080, // UDP tunnelling, RFC 3519 §3.4
  X = 0x0040, // registration revocation, RFC 3543 §3.1
  I = 0x0020, // regional registration, RFC 4857
}
export const ADV_FLAG_NAMES = ['R', 'B', 'H', 'F', 'M', 'G', 'r', 'T', 'U', 'X', 'I'] as const;

/** Extension types in registration messages (RFC 5944 §1.9, §6.3, and the RFCs cited). */
export enum Ext {
  PAD = 0, // one-byte padding, RFC 5944 §2.1.3, §6.3
  MN_HA_AUTH = 32, // RFC 5944 §3.5.2
  MN_FA_AUTH = 33, // RFC 5944 §3.5.3
  FA_HA_AUTH = 34, // RFC 5944 §3.5.4
  GEN_AUTH = 36, // generalized authentication, RFC 4721 §5 (was RFC 3012), long format
  CVSE = 38, // critical vendor/organization specific, RFC 3115 §3.1, long-like format
  UDP_TUNNEL_REPLY = 44, // RFC 3519 §3.2
  ENCAP_DELIVERY = 130, // encapsulating delivery style, RFC 3024 §3.3
  NAI = 131, // mobile node NAI, RFC 2794 §2
  MN_FA_CHALLENGE = 132, // RFC 4721 §4 (was RFC 3012)
  NVSE = 134, // normal vendor/organization specific, RFC 3115 §3.2
  REVOCATION_SUPPORT = 137, // RFC 3543 §3.2
  DYNAMIC_HA = 139, // RFC 4433 §3.4
  UDP_TUNNEL_REQUEST = 144, // RFC 3519 §3.1
  MESSAGE_STRING = 145, // RFC 4917 §3
  TNC = 149, // trusted networks configured, RFC 5265 §3.4
}

/** Extension types in agent advertisements (RFC 5944 §6.2). */
export enum AdvExt {
  PAD = 0, // RFC 5944 §2.1.3
  MOBILITY_AGENT = 16, // RFC 5944 §2.1.1
  PREFIX_LENGTHS = 19, // RFC 5944 §2.1.2
  CHALLENGE = 24, // agent advertisement challenge, RFC 4721 §2
}

/** Types 0-127 cannot be skipped; 128-255 can (RFC 5944 §1.9). */
export const FIRST_SKIPPABLE_EXT = 128;

/** Generalized authentication subtypes, RFC 4721 §5 / IANA. */
export enum GenAuthSubtype { MN_AAA = 1, FA_FA = 2, MN_GFA = 3 }

/** Dynamic HA extension subtypes, RFC 4433 §3.4. */
export enum DynHaSubtype { REQUESTED = 1, REDIRECTED = 2 }

/** Message string extension subtypes, RFC 4917 §3. */
export enum MsgStringSubtype { HA = 1, FA = 2 }

/** UDP tunnel request flags, RFC 3519 §3.1. */
export enum UdpTunnelReqFlag { F = 0x80, R = 0x40 }
/** UDP tunnel reply flags (16-bit field), RFC 3519 §3.2. */
export enum UdpTunnelRepFlag { F = 0x8000 }
/** UDP tunnel reply codes, RFC 3519 §3.2.1. */
export enum UdpTunnelCode { WILL_TUNNEL = 0, DECLINED = 64 }

/** Revocation support extension I bit (16-bit field), RFC 3543 §3.2. */
export const REVOCATION_SUPPORT_I = 0x8000;
/** Registration revocation flags (16-bit field), RFC 3543 §3.3. */
export enum RevocationFlag { A = 0x8000, I = 0x4000 }
/** Revocation acknowledgement I bit, RFC 3543 §3.4. */
export const REVOCATION_ACK_I = 0x8000;

/** IP protocol numbers used for tunnelling (RFC 2003, RFC 3519 §3.1.4). */
export enum IpProto { ICMP = 1, IPIP = 4, UDP = 17, GRE = 47, MINENC = 55 }

/**
 * Registration reply codes with their names: RFC 5944 §3.4, RFC 3024 §3.4 (reverse tunnelling),
 * RFC 2794 §5 (NAI), RFC 4721 §7 (challenges), RFC 3115 §5 (vendor extensions), RFC 3519 §3.5,
 * RFC 4433 §7 (dynamic HA). RFC 3543 adds no codes (§5).
 */
export enum ReplyCode {
  ACCEPTED = 0,
  ACCEPTED_NO_SIMULTANEOUS = 1,
  // Denied by the foreign agent (64-127).
  FA_UNSPECIFIED = 64,
  FA_PROHIBITED = 65,
  FA_INSUFFICIENT_RESOURCES = 66,
  FA_MN_AUTH_FAILED = 67,
  FA_HA_AUTH_FAILED = 68,
  FA_LIFETIME_TOO_LONG = 69,
  FA_POORLY_FORMED_REQUEST = 70,
  FA_POORLY_FORMED_REPLY = 71,
  FA_ENCAP_UNAVAILABLE = 72,
  FA_RESERVED_UNAVAILABLE = 73,
  FA_REVERSE_TUNNEL_UNAVAILABLE = 74,
  FA_REVERSE_TUNNEL_MANDATORY = 75,
  FA_MN_TOO_DISTANT = 76,
  FA_INVALID_COA = 77,
  FA_REGISTRATION_TIMEOUT = 78,
  FA_DELIVERY_STYLE_UNSUPPORTED = 79,
  FA_HOME_NETWORK_UNREACHABLE = 80,
  FA_HA_HOST_UNREACHABLE = 81,
  FA_HA_PORT_UNREACHABLE = 82,
  FA_HA_UNREACHABLE = 88,
  FA_VENDOR_SPECIFIC = 89,
  FA_NONZERO_HOMEADDR_REQD = 96,
  FA_MISSING_NAI = 97,
  FA_MISSING_HOME_AGENT = 98,
  FA_MISSING_HOMEADDR = 99,
  FA_CVSE_FROM_MN = 100,
  FA_CVSE_FROM_HA = 101,
  FA_UNKNOWN_CHALLENGE = 104,
  FA_MISSING_CHALLENGE = 105,
  FA_STALE_CHALLENGE = 106,
  FA_INVALID_HA_ADDRESS = 194, // RFC 5944 §3.7.2 (allocated from the GFA range)
  // Denied by the home agent (128-192).
  HA_UNSPECIFIED = 128,
  HA_PROHIBITED = 129,
  HA_INSUFFICIENT_RESOURCES = 130,
  HA_MN_AUTH_FAILED = 131,
  HA_FA_AUTH_FAILED = 132,
  HA_ID_MISMATCH = 133,
  HA_POORLY_FORMED_REQUEST = 134,
  HA_TOO_MANY_BINDINGS = 135,
  HA_UNKNOWN_HA = 136,
  HA_REVERSE_TUNNEL_UNAVAILABLE = 137,
  HA_REVERSE_TUNNEL_MANDATORY = 138,
  HA_ENCAP_UNAVAILABLE = 139,
  HA_CVSE_FROM_MN = 140,
  HA_CVSE_FROM_FA = 141,
  HA_UDP_ENCAP_UNAVAILABLE = 142,
  HA_REDIRECT = 143,
}

const REPLY_CODE_NAMES: Record<number, string> = {
  0: 'registration accepted',
  1: 'registration accepted, but simultaneous mobility bindings unsupported',
  64: 'reason unspecified',
  65: 'administratively prohibited',
  66: 'insufficient resources',
  67: 'mobile node failed authentication',
  68: 'home agent failed authentication',
  69: 'requested Lifetime too long',
  70: 'poorly formed Request',
  71: 'poorly formed Reply',
  72: 'requested encapsulation unavailable',
  73: 'reserved and unavailable',
  74: 'requested reverse tunnel unavailable',
  75: "reverse tunnel is mandatory and 'T' bit not set",
  76: 'mobile node too distant',
  77: 'invalid care-of address',
  78: 'registration timeout',
  79: 'delivery style not supported',
  80: 'home network unreachable (ICMP error received)',
  81: 'home agent host unreachable (ICMP error received)',
  82: 'home agent port unreachable (ICMP error received)',
  88: 'home agent unreachable (other ICMP error received)',
  89: 'vendor specific reason',
  96: 'NONZERO_HOMEADDR_REQD',
  97: 'MISSING_NAI',
  98: 'MISSING_HOME_AGENT',
  99: 'MISSING_HOMEADDR',
  100: 'unable to interpret CVSE sent by mobile node',
  101: 'unable to interpret CVSE sent by home agent',
  104: 'unknown challenge',
  105: 'missing challenge',
  106: 'stale challenge',
  128: 'reason unspecified',
  129: 'administratively prohibited',
  130: 'insufficient resources',
  131: 'mobile node failed authentication',
  132: 'foreign agent failed authentication',
  133: 'registration Identification mismatch',
  134: 'poorly formed Request',
  135: 'too many simultaneous mobility bindings',
  136: 'unknown home agent address',
  137: 'requested reverse tunnel unavailable',
  138: "reverse tunnel is mandatory and 'T' bit not set",
  139: 'requested encapsulation unavailable',
  140: 'unable to interpret CVSE sent by mobile node',
  141: 'unable to interpret CVSE sent by foreign agent',
  142: 'requested UDP tunnel encapsulation unavailable (ERROR_HA_UDP_ENCAP_UNAVAIL)',
  143: 'register with redirected home agent',
  194: 'invalid home agent address',
};

/** Name of a reply code, with who denied it; unknown codes get their range's description. */
export function replyCodeName(code: number): string {
  const name = REPLY_CODE_NAMES[code];
  if (code <= 8) return name ?? 'accepted (unassigned success code)';
  const who = code >= 64 && code <= 127 ? 'denied by FA' : code >= 128 && code <= 192 ? 'denied by HA' : code >= 193 && code <= 200 ? 'denied by GFA' : 'unassigned';
  return `${who}: ${name ?? 'unknown code'}`;
}

export function isAccepted(code: number): boolean {
  return code <= 8; // RFC 5944 §6.4, success codes 0-8
}

const EXT_NAMES: Record<number, string> = {
  0: 'padding', 32: 'mn-ha-auth', 33: 'mn-fa-auth', 34: 'fa-ha-auth', 36: 'generalized-auth',
  38: 'cvse', 44: 'udp-tunnel-reply', 130: 'encapsulating-delivery-style', 131: 'nai',
  132: 'mn-fa-challenge', 134: 'nvse', 137: 'revocation-support', 139: 'dynamic-ha',
  144: 'udp-tunnel-request', 145: 'message-string', 149: 'tnc',
};
export function extensionName(type: number): string {
  return EXT_NAMES[type] ?? `unknown-${type}`;
}
