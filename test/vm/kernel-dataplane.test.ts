/**
 * VM lane: roamd's kernel data plane (src/dataplane/kernel.ts) in Debian's kernel (test/vm/guest.ts).
 * Two namespaces joined by a veth: `p` runs the plane as a proxy (its own netlink messages: the
 * collect-metadata ipip device, the encap route to the care-of address, clsact + flower filters),
 * `n` plays the node by hand (`ip link add t type ipip external` and an encap route back). Checks:
 * the node's outer address pings a correspondent behind the proxy through the tunnels; a spoofed
 * inner source and an unregistered care-of address are dropped by the filters (tc counters); a
 * move to a new care-of address replaces the route in place; with two bindings held (S) each
 * packet reaches both care-of addresses (the egress copy filter); stop() removes the device and routes.
 * Without qemu or the Debian kernel the lane says so (test/vm/vm.test.ts prints why).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { runInGuest, vmAvailable, GuestResult } from './guest';

const ROOT = join(__dirname, '..', '..');
const av = vmAvailable();

/** The proxy side, run with `node --import tsx` inside namespace p: `start` | `move` | `stop`. */
const FIXTURE = `
const { KernelDataPlane } = require(${JSON.stringify(join(ROOT, 'src/dataplane/kernel.ts'))});
const ip = (x) => x.split('.').reduce((a, y) => a * 256 + Number(y), 0) >>> 0;
const host = { sendUdp() {}, log: (l, e, f) => console.log(JSON.stringify({ l, e, ...f })), count() {}, dispatch() {} };
const steps = process.argv.slice(1);
(async () => {
  const dp = new KernelDataPlane(host, { role: 'proxy', tunName: 'roamd0', mipPort: 434, outside: ip('192.0.2.1'), outerPool: { first: ip('100.64.0.0'), count: 256 } }, { delegate: null });
  await dp.start();
  const b = (op, careOf) => ({ kind: 'proxy-binding', op, home: ip('10.1.0.5'), outer: ip('100.64.0.7'), careOf: ip(careOf), tunnel: 'ipip', port: 0 });
  for (const s of steps) {
    if (s === 'bind') await dp.apply(b('set', '192.0.2.50'));
    if (s === 'move') { await dp.apply(b('set', '192.0.2.60')); await dp.apply(b('del', '192.0.2.50')); }
    if (s === 'both') { await dp.apply(b('set', '192.0.2.50')); await dp.apply(b('set', '192.0.2.60')); }
    if (s === 'stop') await dp.stop();
  }
  console.log('STATUS ' + JSON.stringify(dp.status()));
})().catch((e) => { console.error('FIXTURE-ERROR', e.stack || e); process.exit(1); });
`;

const SCRIPT = `
cd ${ROOT}
out="$VM_SHARE/checks.txt"; : > "$out"
say() { echo "$*"; echo "$*" >> "$out"; }
modprobe ipip; modprobe sch_ingress; modprobe cls_flower; modprobe act_gact; modprobe act_tunnel_key; modprobe act_mirred
P="ip netns exec p"; N="ip netns exec n"
ip netns add p; ip netns add n
ip link add v0 netns p type veth peer name v0 netns n
$P ip link set lo up; $N ip link set lo up
$P ip addr add 192.0.2.1/24 dev v0; $N ip addr add 192.0.2.50/24 dev v0; $N ip addr add 192.0.2.60/24 dev v0; $N ip addr add 192.0.2.70/24 dev v0
$P ip link set v0 up; $N ip link set v0 up
$P ip addr add 10.99.0.1/32 dev lo
$N ip addr add 100.64.0.7/32 dev lo; $N ip addr add 100.64.0.8/32 dev lo
$N ip link add nipip type ipip external; $N ip link set nipip up
$N sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.nipip.rp_filter=0
cat > /tmp/fx.js <<'EOF'
${FIXTURE}
EOF
$P node --import tsx /tmp/fx.js bind > /tmp/p1.txt 2>&1; say "START rc=$? $(tr '\\n' ' ' < /tmp/p1.txt | cut -c1-600)"
say "ROUTES $($P ip -d route show proto 213 | tr '\\n' ';')"
say "LINK $($P ip -d link show roamd-ipip | tr '\\n' ' ')"
$N ip route add 10.99.0.1/32 encap ip dst 192.0.2.1 src 192.0.2.50 ttl 64 dev nipip
$N ping -c 3 -W 2 -I 100.64.0.7 10.99.0.1 > /tmp/ping1.txt 2>&1; say "PING_OK rc=$? $(grep -o '[0-9]* received' /tmp/ping1.txt)"
$N ping -c 3 -W 1 -I 100.64.0.8 10.99.0.1 > /tmp/ping2.txt 2>&1; say "PING_SPOOF_SRC rc=$? $(grep -o '[0-9]* received' /tmp/ping2.txt)"
$N ip route replace 10.99.0.1/32 encap ip dst 192.0.2.1 src 192.0.2.70 ttl 64 dev nipip
$N ping -c 3 -W 1 -I 100.64.0.7 10.99.0.1 > /tmp/ping3.txt 2>&1; say "PING_SPOOF_COA rc=$? $(grep -o '[0-9]* received' /tmp/ping3.txt)"
say "DIAG n.t=[$($N ip -s link show nipip | tr '\\n' ' ')] p.ipip=[$($P ip -s link show roamd-ipip | tr '\\n' ' ')] p.v0=[$($P ip -s link show v0 | tr '\\n' ' ' | cut -c1-300)] tc=[$($P tc -s filter show dev roamd-ipip ingress | tr '\\n' ' ')] nroute=[$($N ip route get 10.99.0.1 from 100.64.0.7 2>&1| tr '\\n' ' ')]"
say "DROPS $($P tc -s filter show dev roamd-ipip ingress | tr '\\n' ' ' | grep -o 'pref 65000.*' | grep -o 'Sent [0-9]* bytes [0-9]* pkt' | tr '\\n' ' ')"
$P node --import tsx /tmp/fx.js move > /tmp/p2.txt 2>&1; say "MOVE rc=$?"
say "ROUTES2 $($P ip route show proto 213 | tr '\\n' ';')"
$N ip route replace 10.99.0.1/32 encap ip dst 192.0.2.1 src 192.0.2.60 ttl 64 dev nipip
$N ping -c 3 -W 2 -I 100.64.0.7 10.99.0.1 > /tmp/ping4.txt 2>&1; say "PING_MOVED rc=$? $(grep -o '[0-9]* received' /tmp/ping4.txt)"
$P node --import tsx /tmp/fx.js both > /tmp/p4.txt 2>&1; say "BOTH rc=$? $(grep -o 'copy_filter[a-z_]*\":[0-9]*' /tmp/p4.txt | tr '\n' ' ')"
say "COPYFILTER $($P tc filter show dev roamd-ipip egress | tr '\n' ' ' | cut -c1-400)"
RX0=$($N cat /sys/class/net/nipip/statistics/rx_packets)
$P ping -c 3 -W 2 -I 10.99.0.1 100.64.0.7 > /tmp/ping5.txt 2>&1; RX1=$($N cat /sys/class/net/nipip/statistics/rx_packets)
say "PING_BOTH rc=$? $(grep -o '[0-9]* received.*duplicates' /tmp/ping5.txt) nodeRx=$((RX1 - RX0))"
$P node --import tsx /tmp/fx.js stop > /tmp/p3.txt 2>&1; say "STOP rc=$?"
say "AFTER_STOP routes=[$($P ip route show proto 213 | tr '\\n' ';')] link=[$($P ip link show roamd-ipip 2>&1 | head -1)]"
`;

if (!av.ok) {
  test('kernel data plane in the VM: skipped (no qemu or Debian kernel)', () => {
    console.log(`\n*** kernel data plane VM test SKIPPED: ${av.why}\n`);
  });
} else {
  let r: GuestResult | undefined;
  const line = (k: string): string => (r?.files['checks.txt'] ?? '').split('\n').find((l) => l.startsWith(`${k} `)) ?? '';

  test.before(async () => {
    r = await runInGuest({ script: SCRIPT, timeoutMs: 240_000 });
    console.log(`\nvm kernel-dataplane: ${av.version} under ${r.accel}, total ${(r.totalMs / 1000).toFixed(1)} s, exit ${r.exitCode}`);
    for (const l of (r.files['checks.txt'] ?? '').split('\n').filter(Boolean)) console.log(`vm:   ${l.slice(0, 300)}`);
  });

  test('the plane starts in the guest: ipip external device, encap route to the care-of address', () => {
    assert.match(line('START'), /^START rc=0/, r?.output.slice(-3000));
    assert.match(line('LINK'), /ipip external/);
    assert.match(line('ROUTES'), /100\.64\.0\.7 +encap ip id 0 src 192\.0\.2\.1 dst 192\.0\.2\.50 ttl 64/);
  });

  test('the outer address reaches a correspondent through the tunnels', () => {
    assert.match(line('PING_OK'), /rc=0 3 received/);
  });

  test('anti-spoofing: a wrong inner source and an unregistered care-of address are dropped', () => {
    assert.match(line('PING_SPOOF_SRC'), /rc=1 0 received/);
    assert.match(line('PING_SPOOF_COA'), /rc=1 0 received/);
    // The catch-all is two filters (both halves of the outer address space): their drops together.
    const dropped = [...line('DROPS').matchAll(/Sent \d+ bytes (\d+) pkt/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(dropped >= 6, line('DROPS'));
  });

  test('a move replaces the route in place and traffic follows', () => {
    assert.match(line('MOVE'), /rc=0/);
    assert.match(line('ROUTES2'), /dst 192\.0\.2\.60 ttl 64/);
    assert.not.match(line('ROUTES2'), /192\.0\.2\.50/);
    assert.match(line('PING_MOVED'), /rc=0 3 received/);
  });

  test('simultaneous bindings: the route leads to the newest, an egress filter sends a copy of each packet to the other (RFC 5944 §3.6.1.2)', () => {
    assert.match(line('BOTH'), /rc=0 copy_filter_set":1/, line('BOTH'));
    assert.match(line('COPYFILTER'), /tunnel_key/);
    // 3 echo requests, each to both care-of addresses: 6 arrive at the node, which answers each
    // (ping may exit before the last duplicate answer comes back).
    assert.match(line('PING_BOTH'), /3 received, \+[1-3] duplicates nodeRx=6/, line('PING_BOTH'));
  });

  test('stop removes the device and every tagged route', () => {
    assert.match(line('STOP'), /rc=0/);
    assert.match(line('AFTER_STOP'), /routes=\[\] link=\[.*(does not exist|Cannot find)/);
  });
}

test.run();
