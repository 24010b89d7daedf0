/**
 * The 5 ms UDP probe cn → node home address that the e2e lane, the demo and the handoff bench use
 * to measure a move: the receiver on the node reports arrivals, `gap()` turns them into the
 * interruption and the datagrams lost.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { World, ADDR, waitFor } from './world';

export const PROBE = join(__dirname, 'probe.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * node's arguments for test/e2e/probe.ts with `args`: through tsx, or ROAMD_PROBE_JS (the probe
 * bundled by esbuild: the VM lane, where loading tsx costs seconds per process).
 */
export function probeArgv(...args: string[]): string[] {
  const js = process.env.ROAMD_PROBE_JS;
  return js ? [js, ...args] : ['--import', 'tsx', PROBE, ...args];
}

/** Runs the probe with `args` in namespace `ns` of the World. */
export function probe(w: World, ns: string, ...args: string[]): ChildProcess {
  return w.lab.spawn(ns, process.execPath, probeArgv(...args));
}

/**
 * Runs the probe once in namespace `ns` (`tcp-connect`, `bulk-send`) and returns its JSON result
 * line; `{ event: 'error', error }` when it fails without one.
 */
export function probeOnce(ns: string, ...args: string[]): Record<string, unknown> & { event: string } {
  let out: string;
  try {
    out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, ...probeArgv(...args)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    out = err.stdout || JSON.stringify({ event: 'error', error: (err.stderr || err.message).slice(0, 500) });
  }
  try {
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch {
    return { event: 'error', error: `not JSON: ${out.slice(0, 200)}` };
  }
}

/** The UDP probe cn → node home address every 5 ms, and the receiver's arrival log on the node. */
export class UdpProbe {
  readonly arrivals: Array<[number, number]> = [];

  static async start(w: World): Promise<UdpProbe> {
    const p = new UdpProbe();
    const recv = probe(w, w.ns.mn!, 'udp-recv', '5003');
    let pending = '';
    recv.stdout!.on('data', (b: Buffer) => {
      pending += b.toString();
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (line.includes('"udp"')) p.arrivals.push(...(JSON.parse(line).pkts as Array<[number, number]>));
      }
    });
    await sleep(500);
    probe(w, w.ns.cn!, 'udp-send', ADDR.home, '5003');
    await waitFor('UDP probe flowing to the node', async () => p.arrivals.length > 20, 30_000);
    return p;
  }

  /** Last arrival time (receiver clock = ours: same machine). */
  last(): number {
    return this.arrivals.length ? this.arrivals[this.arrivals.length - 1]![1] : 0;
  }

  /** Waits until datagrams arrive again after `t` (the move's last step) and `settleMs` more. */
  async resumed(t: number, timeoutMs: number, settleMs = 300): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    // The receiver reports in 200 ms batches: arrivals after t show up within ~200 ms of arriving.
    while (Date.now() < end) {
      if (this.arrivals.some(([, at]) => at > t + 20)) {
        await sleep(settleMs + 250);
        return true;
      }
      await sleep(50);
    }
    return false;
  }

  /**
   * The path's own jitter before `t0`: the largest gap between arrivals in [t0 - 1000, t0 - 50] ms,
   * when nothing moves (the baseline a move's largest gap is compared with).
   */
  steadyGap(t0: number): number {
    const win = this.arrivals.filter(([, t]) => t >= t0 - 1000 && t <= t0 - 50).map(([, t]) => t).sort((a, b) => a - b);
    let max = 0;
    for (let i = 1; i < win.length; i++) max = Math.max(max, win[i]! - win[i - 1]!);
    return max;
  }

  /**
   * Largest gap between arrivals in [t0 - 100 ms, t1], and datagrams lost: sequence numbers after
   * the last one received before t0, up to the highest received by t1, that never arrived (late
   * or duplicated datagrams from before the move do not count).
   */
  gap(t0: number, t1: number): { interruptionMs: number; lost: number } {
    const win = this.arrivals.filter(([, t]) => t >= t0 - 100 && t <= t1).sort((a, b) => a[1] - b[1]);
    let maxGap = 0, gapAt = 0;
    for (let i = 1; i < win.length; i++) {
      const g = win[i]![1] - win[i - 1]![1];
      if (g > maxGap) [maxGap, gapAt] = [g, win[i - 1]![1]];
    }
    let lo = -1, hi = -1;
    for (const [s, t] of this.arrivals) {
      if (t < t0) lo = Math.max(lo, s);
      if (t <= t1) hi = Math.max(hi, s);
    }
    if (lo < 0 || hi < lo) return { interruptionMs: maxGap, lost: -1 };
    const got = new Set(this.arrivals.filter(([s, t]) => s > lo && s <= hi && t <= t1).map(([s]) => s));
    if (process.env.ROAMD_BENCH_DUMP) {
      const missing: number[] = [];
      for (let s = lo + 1; s <= hi; s++) if (!got.has(s)) missing.push(s);
      process.stderr.write(`  window lo=${lo} hi=${hi} got=${got.size} largest gap ${maxGap} ms at ${new Date(gapAt).toISOString()} missing=${missing.length > 40 ? `${missing.slice(0, 20).join(',')}…${missing.slice(-20).join(',')}` : missing.join(',')}\n`);
    }
    return { interruptionMs: maxGap, lost: hi - lo - got.size };
  }
}
