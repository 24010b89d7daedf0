/**
 * The native addon (native/, src/dataplane/native.ts) against the real kernel: TUN devices and raw
 * ICMP / IP-in-IP sockets in private network namespaces (root), batched reads, fd accounting and
 * errno errors. Everything touching interfaces runs as fixtures inside namespaces (fixtures/),
 * which are deleted even when a test fails.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RawSocket, Tun, ifIndex, ifName, loadNative, addonCandidates, NativeError, Packet } from '../../../src/dataplane/native';
import { internetChecksum } from '../../../src/wire/checksum';
import { withNetns, vethPair, netnsAvailable } from '../../util/netns';
import * as solicitation from '../../../src/wire/agent-solicitation';
import * as advertisement from '../../../src/wire/agent-advertisement';

const FIX = join(__dirname, 'fixtures');
const fx = (name: string) => join(FIX, name);
const root = netnsAvailable();

function throwsCode(fn: () => unknown, code: string, syscall?: string): void {
  try {
    fn();
  } catch (e) {
    const err = e as NativeError;
    assert.is(err.code, code, err.message);
    if (syscall) assert.ok(err.syscall.startsWith(syscall), `syscall ${err.syscall}`);
    assert.type(err.errno, 'number');
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('1. the addon loads from native/build/Release and exports the API', () => {
  assert.ok(addonCandidates().some((p) => existsSync(p)), `addon built? tried ${addonCandidates().join(', ')}`);
  const b = loadNative();
  for (const f of ['tunOpen', 'tunWrite', 'tunWriteBatch', 'rawOpen', 'rawSend', 'rawSendBatch', 'start', 'stop', 'close', 'stats']) {
    assert.type((b as unknown as Record<string, unknown>)[f], 'function', f);
  }
  assert.is(ifIndex('lo'), 1);
  assert.is(ifName(1), 'lo');
});

test('2. errors carry errno codes: bad protocol EINVAL, unknown interface ENODEV (no privileges needed)', () => {
  throwsCode(() => RawSocket.open(300), 'EINVAL', 'socket');
  throwsCode(() => RawSocket.open(-1), 'EINVAL', 'socket');
  throwsCode(() => ifIndex('roamd-nope0'), 'ENODEV');
  throwsCode(() => ifName(0x7ffffff0), 'ENODEV');
});

const canRaw = process.getuid?.() === 0;
if (canRaw) test('2b. errors carry errno codes: device ENODEV, not a group EINVAL, closed handle EBADF (root)', () => {
  throwsCode(() => RawSocket.open(1, { device: 'roamd-nope0' }), 'ENODEV', 'setsockopt');
  throwsCode(() => RawSocket.open(1, { multicastIf: 'roamd-nope0' }), 'ENODEV', 'if_nametoindex');
  const s = RawSocket.open(1);
  throwsCode(() => s.bindDevice('roamd-nope0'), 'ENODEV', 'setsockopt');
  throwsCode(() => s.joinMulticast(0xe000000b, 'roamd-nope0'), 'ENODEV');
  throwsCode(() => s.joinMulticast(0x0a000001, 'lo'), 'EINVAL'); // not a multicast group
  s.close();
  s.close(); // idempotent
  throwsCode(() => s.send(Buffer.alloc(8), 0x7f000001), 'EBADF');
  throwsCode(() => s.onPackets(() => undefined), 'EBADF');
});

if (canRaw) test('3. argument checks throw before any system call', () => {
  const s = RawSocket.open(1);
  try {
    assert.throws(() => s.send(Buffer.alloc(8), 0x7f000001, 4, 8), /within the buffer/);
    assert.throws(() => s.send('nope' as unknown as Buffer, 0x7f000001), /Buffer or Uint8Array/);
    assert.throws(() => s.onPackets(() => undefined, 0), /batch/);
    assert.throws(() => s.onPackets(() => undefined, 5000), /batch/);
    assert.throws(() => RawSocket.open(1, { icmpTypes: [40] }), /0\.\.31/);
    assert.throws(() => RawSocket.open(1, { maxPacket: 70000 }), /maxPacket/);
    assert.throws(() => Tun.open('x'.repeat(16)), /at most 15 bytes/);
  } finally {
    s.close();
  }
});

if (canRaw) test('4. raw ICMP on loopback: send to 127.0.0.1, receive the echo with its IPv4 header, source and ifindex', async () => {
  const s = RawSocket.open(1, { icmpTypes: [8] });
  try {
    // Other processes may ping 127.0.0.1 at the same time: match our identifier and sequence.
    const echo = Buffer.alloc(8);
    echo[0] = 8;
    echo.writeUInt16BE(process.pid & 0xffff, 4);
    echo.writeUInt16BE(Math.floor(Math.random() * 0x10000), 6);
    echo.writeUInt16BE(internetChecksum(echo, 0, 8), 2);
    const got = new Promise<Packet>((res) => s.onPackets((ps) => {
      const mine = ps.find((q) => q.data.length === 28 && q.data.subarray(20).equals(echo));
      if (mine) res(mine);
    }));
    assert.is(s.send(echo, 0x7f000001), 8);
    const p = await Promise.race([got, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no echo within 3 s')), 3000).unref())]);
    assert.is(p!.data.length, 28);
    assert.is(p!.data[9], 1);
    assert.is(p!.data.subarray(20).toString('hex'), echo.toString('hex'));
    assert.is(p!.src, 0x7f000001);
    assert.is(p!.ifindex, 1);
    assert.is(p!.ttl, 64);
    const st = s.stats();
    assert.is(st.txPackets, 1);
    assert.ok(st.rxPackets >= 1);
  } finally {
    s.close();
  }
});

if (root) {
  test('5. TUN in a netns: ping routed into it is read with onPackets, our echo reply makes ping succeed', async () => {
    const r = await withNetns(1, (ns) => ns.run(fx('tun-ping.ts')));
    assert.is(r.name, 'rtun0');
    assert.is(r.mtu, 1400);
    assert.ok(r.request, 'echo request read from the TUN');
    assert.equal(
      { v: r.request.version, proto: r.request.protocol, src: r.request.src, dst: r.request.dst, type: r.request.icmpType, code: r.request.icmpCode, len: r.request.length, tl: r.request.totalLength },
      { v: 4, proto: 1, src: '10.9.0.1', dst: '10.9.0.2', type: 8, code: 0, len: 84, tl: 84 },
    );
    assert.ok(r.request.headerChecksumOk && r.request.icmpChecksumOk);
    assert.is(r.request.ifindex, r.ifindex);
    assert.is(r.request.src32, r.request.expectSrc32);
    assert.is(r.wrote, 84);
    assert.is(r.pingStatus, 0, 'ping got our reply');
  });

  for (const batch of [1, 64, 256]) {
    test(`6.${batch} batched reads (batch ${batch}): 1000 packets raw→TUN and TUN→raw arrive complete, in order, in ceil(1000/${batch}) callbacks`, async () => {
      const r = await withNetns(1, (ns) => ns.run(fx('batch.ts'), [batch]));
      for (const dir of ['toTun', 'fromTun'] as const) {
        const d = r[dir];
        assert.ok(d.complete, `${dir}: ${d.received}/1000`);
        assert.ok(d.inOrder, `${dir} in order`);
        assert.ok(d.bytesOk, `${dir} bytes`);
        assert.ok(d.maxBatch <= batch, `${dir} max batch ${d.maxBatch}`);
        if (batch > 1) assert.ok(d.callbacks < 1000, `${dir}: ${d.callbacks} callbacks`);
        assert.ok(d.callbacks >= Math.ceil(1000 / batch), `${dir}: ${d.callbacks} callbacks`);
        console.log(`    batch ${batch} ${dir}: 1000 packets in ${d.callbacks} callbacks (largest ${d.maxBatch})`);
      }
      assert.is(r.fromTun.written, 1000);
      assert.ok(r.fromTun.srcOk && r.fromTun.ifindexOk, 'raw socket: source and arrival interface');
      assert.is(r.toTun.sendDrops, 0);
    });
  }

  test('7. raw ICMP over veth: agent solicitation (TTL 1, 224.0.0.11) and advertisement (224.0.0.1) with pktinfo ifindex and source', async () => {
    const r = await withNetns(2, async (a, b) => {
      vethPair(a, 'va', '10.8.0.1/24', b, 'vb', '10.8.0.2/24');
      const rx = b.script(fx('raw-recv.ts'), ['icmp', 'vb', 2]);
      await rx.ready();
      const tx = await a.run(fx('raw-send.ts'), ['icmp', 'va']);
      return { tx, rx: await rx.result() };
    });
    assert.equal(r.tx.sent, [8, r.tx.advertisementHex.length / 2]);
    const [sol, adv] = r.rx.packets;
    assert.ok(sol && adv, `received ${r.rx.packets.length} packets`);
    assert.equal({ src: sol.src, dst: sol.dst, ttl: sol.ttl, type: sol.icmpType, ifindex: sol.ifindex, ifname: sol.ifname },
      { src: '10.8.0.1', dst: '224.0.0.11', ttl: 1, type: 10, ifindex: r.rx.expectIfindex, ifname: 'vb' });
    assert.is(sol.icmpHex, r.tx.solicitationHex);
    assert.not.throws(() => solicitation.decode(Buffer.from(sol.icmpHex, 'hex')));
    assert.equal({ src: adv.src, dst: adv.dst, ttl: adv.ttl, type: adv.icmpType, ifindex: adv.ifindex },
      { src: '10.8.0.1', dst: '224.0.0.1', ttl: 1, type: 9, ifindex: r.rx.expectIfindex });
    assert.is(adv.icmpHex, r.tx.advertisementHex);
    assert.is(advertisement.decode(Buffer.from(adv.icmpHex, 'hex')).routers[0]!.address, 0x0a080001);
    assert.is(r.rx.onLo, 0, 'a socket bound to lo saw nothing');
  });

  test('8. raw protocol-4 socket over veth: IP-in-IP built with src/wire (IP_HDRINCL) arrives whole, no ipip module', async () => {
    const r = await withNetns(2, async (a, b) => {
      vethPair(a, 'va', '10.8.0.1/24', b, 'vb', '10.8.0.2/24');
      const rx = b.script(fx('raw-recv.ts'), ['ipip', 'vb', 1]);
      await rx.ready();
      const tx = await a.run(fx('raw-send.ts'), ['ipip', 'va', '10.8.0.2']);
      return { tx, rx: await rx.result() };
    });
    const [p] = r.rx.packets;
    assert.ok(p, 'IP-in-IP packet received');
    assert.is(r.tx.sent, 20 + r.tx.innerHex.length / 2);
    assert.equal({ src: p.src, dst: p.dst, protocol: p.protocol, ifindex: p.ifindex, ttl: p.ttl }, { src: '10.8.0.1', dst: '10.8.0.2', protocol: 4, ifindex: r.rx.expectIfindex, ttl: 64 });
    assert.is(p.innerHex, r.tx.innerHex);
    if (existsSync('/sys/module/ipip')) console.log('    note: the ipip module is loaded on this kernel');
  });

  test('9. close() gives back every fd: 10000 cycles of 2 raw sockets (one polling), 250 polling TUNs; finalizers close forgotten handles', async () => {
    const r = await withNetns(1, (ns) => ns.run(fx('fd-leak.ts'), [10_000, 250], 60_000));
    console.log(`    fds before ${r.before}, after ${2 * r.cycles} raw + ${r.tunCycles} TUN open/close ${r.afterCycles}; 200 forgotten ${r.whileForgotten} → after gc ${r.afterGc}; rss ${r.rssGrowthKiB} KiB`);
    // By identity, not by number: the runtime may close an fd of its own meanwhile (seen once in CI: 32 after, 33 before).
    assert.equal(r.leakedCycles, [], 'no fd opened by the cycles is still open');
    assert.ok(r.afterCycles <= r.before);
    assert.ok(r.tunGone, 'the TUN device is gone after close');
    assert.ok(r.whileForgotten > r.afterCycles, 'forgotten handles were open'); // a GC may already have closed some
    assert.ok(r.gcAvailable);
    assert.equal(r.leakedGc, [], 'finalizers closed forgotten handles');
    assert.ok(r.pollingKept, 'a polling handle is not collected');
  });

  test('10. worker threads end with handles open, polling, closing and forgotten: no crash, no fd left', async () => {
    const r = await withNetns(1, (ns) => ns.run(fx('workers.ts'), [50], 60_000));
    // Node's own worker bookkeeping may close an fd of its own meanwhile: the check is "none left".
    assert.ok(r.after <= r.before, `fds before ${r.before}, after ${r.after}`);
  });
} else {
  test('5-10. netns tests need root and iproute2: not run here', () => undefined);
}

test.run();
