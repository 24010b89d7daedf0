/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self and total time per function, top N,
 * as shares of the busy (non-idle) time from the first datagram on: start-up (tsx compiling the
 * sources, config parsing) and the idle time while the bench measures the baseline would
 * otherwise dilute the hot path's shares.
 * Usage: `npx tsx bench/profile-top.ts FILE.cpuprofile [N] [--all]` (`--all`: every sample).
 */
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

export function summarise(file: string, top = 30, all_ = false): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const under = (id: number, fn: string): boolean => {
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) if (byId.get(c)!.callFrame.functionName === fn) return true;
    return false;
  };
  const selfUs = new Map<number, number>();
  let traffic = all_;
  p.samples.forEach((id, i) => {
    traffic ||= under(id, 'onMessage');
    if (!traffic || (!all_ && byId.get(id)!.callFrame.functionName === '(idle)')) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const name = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>(), total = new Map<string, number>();
  let all = 0;
  for (const [id, us] of selfUs) {
    all += us;
    const n = byId.get(id)!;
    self.set(name(n), (self.get(name(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) {
      const k = name(byId.get(c)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / all).toFixed(1).padStart(5)}%`;
  const lines = [`${all_ ? 'total' : 'busy from the first datagram'} ${(all / 1000).toFixed(0)} ms`, '-- self'];
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(v)}  ${k}`);
  lines.push('-- total (inclusive)');
  for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(v)}  ${k}`);
  return lines;
}

if (require.main === module) {
  const args = process.argv.slice(2).filter((a) => a !== '--all');
  console.log(summarise(args[0]!, Number(args[1] ?? 30), process.argv.includes('--all')).join('\n'));
}
