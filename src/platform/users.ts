/**
 * `option user` / `option group` of `config roamd`: the account the daemon switches to after setup
 * (src/platform/privileges.ts). Names or numbers, resolved against /etc/passwd and /etc/group,
 * which on OpenWrt (no NSS) are the whole user database; Debian's local accounts live there too.
 */

export interface RunAs {
  /** As configured (for logs). */
  user: string;
  uid: number;
  gid: number;
}

/** `name:x:uid:gid:...` lines → the first line whose name (or, for a number, id) matches. */
function lookup(text: string, key: string): { name: string; id: number; gid: number } | undefined {
  const numeric = /^\d+$/.test(key);
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const id = Number(f[2]);
    if (!/^\d+$/.test(f[2]!)) continue;
    if (numeric ? id === Number(key) : f[0] === key) return { name: f[0]!, id, gid: /^\d+$/.test(f[3] ?? '') ? Number(f[3]) : -1 };
  }
  return undefined;
}

const ID_MAX = 0xfffffffe; // (uid_t)-1 means "unchanged" to setresuid(2)

/**
 * Resolves `user` (name or number) and `group` (name or number; default the user's primary group).
 * A number not in the files is accepted as is (no account needed for a uid); a name must exist.
 * Returns the ids, or an error message naming the option.
 */
export function resolveRunAs(user: string, group: string | undefined, passwd: string, groups: string): RunAs | { error: string; option: 'user' | 'group' } {
  const u = lookup(passwd, user);
  let uid: number, gid: number;
  if (u) {
    uid = u.id;
    gid = u.gid;
  } else if (/^\d+$/.test(user) && Number(user) <= ID_MAX) {
    uid = Number(user);
    gid = -1;
  } else {
    return { option: 'user', error: `'${user}' is not allowed: no such user in /etc/passwd (a name or a number)` };
  }
  if (group !== undefined) {
    const g = lookup(groups, group);
    if (g) gid = g.id;
    else if (/^\d+$/.test(group) && Number(group) <= ID_MAX) gid = Number(group);
    else return { option: 'group', error: `'${group}' is not allowed: no such group in /etc/group (a name or a number)` };
  }
  if (gid < 0 || gid > ID_MAX) return { option: 'group', error: `is required: user '${user}' has no primary group in /etc/passwd` };
  if (uid > ID_MAX) return { option: 'user', error: `'${user}' is not allowed: a uid up to ${ID_MAX}` };
  return { user, uid, gid };
}
