/**
 * Status values the tables return instead of a slot. Tables never throw or grow when full; the role
 * layer maps these to registration reply codes (RFC 5944 §3.4):
 *   FULL        → 66 "insufficient resources" at a foreign agent, 130 at a home agent or proxy.
 *   NODE_LIMIT  → 135 "too many simultaneous mobility bindings" at a home agent or proxy (§3.8.2.3);
 *                 66 at a foreign agent (per-node pending limit, §3.7.1).
 *   CONFLICT    → 130 (an address already bound to another node; an invariant state error).
 */
export const FULL = -1;
export const NODE_LIMIT = -2;
export const CONFLICT = -3;
/** Absent: lookups return it (same value as FULL; context tells them apart). */
export const NONE = -1;
