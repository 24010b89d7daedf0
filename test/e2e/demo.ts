/**
 * `npm run demo`: the whole deployment in network namespaces on this machine (see world.ts), a
 * node roaming under a live strongSwan VPN: home → hotspot (foreign agent) → wired → behind a NAT
 * → hotspot → home, with a TCP stream and a 5 ms UDP probe from the correspondent node running
 * throughout. Prints a live timeline (moves, registrations, care-of changes, SA ids, interruption
 * per move) and a summary table; tears everything down at the end or on Ctrl-C.
 */
import { join } from 'node:path';
import { execFileSync, ChildProcess } from 'node:child_process';
import { World, Place, ADDR, ROOT, waitFor } from './world';
import { probe, probeOnce, UdpProbe } from './udp-probe';

const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(2).padStart(7)}s`;
const say = (what: string, detail = '') => process.stdout.write(`${stamp()}  ${what.padEnd(22)} ${detail}\n`);

if (process.getuid?.() !== 0) {
  process.stderr.write('npm run demo needs root: it creates network namespaces, TUN devices and runs strongSwan (try: sudo npm run demo)\n');
  process.exit(1);
}

const w = new World();
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  say('teardown', 'removing namespaces and processes');
  w.teardown();
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('SIGTERM', () => {
  cleanup();
  process.exit(143);
});

let udp: UdpProbe;
let streamLog = '';
const spawnProbe = (ns: string, ...args: string[]): ChildProcess => probe(w, ns, ...args);

/** Follows the node's log and prints the protocol events as they happen. */
function followNodeLog(): void {
  const mn = w.daemon('mn');
  let seen = 0;
  const ip = (n: string) => {
    const v = Number(n);
    return Number.isFinite(v) && v > 255 ? `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}` : n;
  };
  setInterval(() => {
    const lines = mn.log.split('\n');
    for (; seen < lines.length - 1; seen++) {
      const l = lines[seen]!;
      const f = Object.fromEntries([...l.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]!.replace(/"/g, '')]));
      if (l.includes(' mn-register ')) say('registration sent', `via ${f.ifname} care-of ${ip(f.careOf!)}${f.agent !== '0' ? ` (foreign agent ${ip(f.agent!)})` : ''}${f.home === 'true' ? ' + home registration' : ''}`);
      else if (l.includes(' mn-registered ')) say('registration accepted', `care-of ${ip(f.careOf!)} outer ${ip(f.outer!)} home ${ip(f.home!)} tunnel ${f.tunnel}`);
      else if (l.includes(' vpn-up ')) say('VPN up', `IKE ${f.ike} CHILD ${f.child} (${f.ms} ms)`);
      else if (l.includes(' vpn-pass-through ')) say('VPN pass-through', 'at home: no IPsec, home address kept');
      else if (l.includes(' mn-deregistered ')) say('deregistered', f.binding!);
    }
  }, 100).unref();
}

const rows: Array<Record<string, string | number>> = [];

async function move(to: Place, label: string): Promise<void> {
  const before = w.place === 'home' ? null : w.sa('mn');
  const ike0 = w.ikeMessages('mn');
  const start = Date.now();
  say(`move → ${to}`, label);
  w.move(to);
  const foreign = to !== 'home';
  await waitFor(`the node at ${to}`, async () => {
    const st = (await w.call('mn', { cmd: 'status' })).dataplaneState;
    return !!st && (foreign ? st.location === 'foreign' && st.vpn === 'up' && st.tunnel !== 'none' && (to === 'hotspot') === (st.agent !== 0) : st.location === 'home');
  }, 30_000);
  if (foreign) await waitFor('the VPN', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 30_000);
  w.finishMove();
  const echoed = () => Number([...streamLog.matchAll(/"echoed":(\d+)/g)].pop()?.[1] ?? 0);
  const e0 = echoed();
  await waitFor('the TCP stream', async () => echoed() > e0 + 20, 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  const g = udp.gap(start, Date.now());
  const sa = w.sa('mn');
  const conn = probeOnce(w.ns.cn!, 'tcp-connect', ADDR.home, '5002').event;
  const sameSa = foreign && before && sa ? before.ikeSpiI === sa.ikeSpiI && before.children[0]?.spiIn === sa.children[0]?.spiIn : null;
  say('stage done', `interruption ${g.interruptionMs} ms, ${g.lost} probes lost, IKE messages ${w.ikeMessages('mn') - ike0}, ${sa && foreign ? `IKE SA ${sa.ikeSpiI.slice(0, 8)}… CHILD ${sa.children[0]?.spiIn}` : 'no SA'}${sameSa === null ? '' : sameSa ? ' (same SAs)' : ' (NEW SAs)'}`);
  rows.push({ move: `→ ${to}`, 'care-of': (await w.call('mn', { cmd: 'status' })).dataplaneState?.careOf ? label : 'home link', 'interruption ms': g.interruptionMs, lost: g.lost, 'IKE msgs': w.ikeMessages('mn') - ike0, 'same SAs': sameSa === null ? '-' : sameSa ? 'yes' : 'NO', 'new conn': conn, stream: /"event":"(error|close)"/.test(streamLog) ? 'RESET' : 'alive' });
}

(async () => {
  say('build', 'namespaces: cn ha gw (intranet), px (DMZ), inet, hs (hotspot FA), wd (wired), nat, mn');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'pipe' });
  w.build();
  say('strongSwan', 'charon on gw (responder) and mn (initiator), kernel-libipsec, PSK');
  w.startStrongswan();
  await w.loadStrongswan();
  say('roamd', 'ha 10.1.0.1, proxy 203.0.113.2/10.1.0.2, fa 192.0.2.1, mn alice@corp.example (home 10.1.0.50)');
  w.startRoamd();
  await w.ready();
  followNodeLog();
  spawnProbe(w.ns.cn!, 'tcp-server', '5001');
  spawnProbe(w.ns.mn!, 'tcp-server', '5002');
  udp = await UdpProbe.start(w);
  const stream = spawnProbe(w.ns.mn!, 'tcp-stream', ADDR.cn, '5001', ADDR.home);
  stream.stdout!.on('data', (b: Buffer) => (streamLog += b.toString()));
  await waitFor('the TCP stream', async () => streamLog.includes('connected'));
  say('traffic', 'TCP stream mn 10.1.0.50 ⇄ cn 10.1.0.9, UDP probe cn → mn every 5 ms');
  await move('hotspot', 'FA 192.0.2.1');
  await move('wired', '198.51.100.10');
  await move('nat', '192.168.1.10 behind NAT');
  await move('hotspot', 'FA 192.0.2.1');
  await move('home', 'home link');
  process.stdout.write('\nsummary\n');
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  process.stdout.write(cols.map((c, i) => c.padEnd(width[i]!)).join('  ') + '\n');
  for (const r of rows) process.stdout.write(cols.map((c, i) => String(r[c]).padEnd(width[i]!)).join('  ') + '\n');
  cleanup();
  process.exit(rows.every((r) => r.stream === 'alive' && r['new conn'] === 'ok' && r['same SAs'] !== 'NO') ? 0 : 1);
})().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  cleanup();
  process.exit(1);
});
