/**
 * Traffic for the e2e lane, run inside a namespace (`ip netns exec NS node --import tsx probe.ts MODE ...`),
 * reporting JSON lines on stdout:
 *  - `tcp-server PORT`: echoes every connection; prints {"event":"accept"} per connection.
 *  - `tcp-stream HOST PORT LOCAL`: one long TCP connection from LOCAL, a line every 20 ms, checks
 *    the echo; prints {"event":"progress","sent","echoed"} every second and {"event":"error"|"close"}.
 *  - `tcp-connect HOST PORT`: one new connection, one round trip; prints {"event":"ok","ms"} or error.
 *  - `udp-send HOST PORT`: a datagram with a sequence number every 5 ms until killed.
 *  - `udp-recv PORT`: prints {"event":"udp","seq","t"} batches: arrival times for gap measurement.
 */
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

const [mode, a1, a2, a3] = process.argv.slice(2);
const out = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

switch (mode) {
  case 'tcp-server':
    createServer((s) => {
      out({ event: 'accept', from: s.remoteAddress });
      s.on('error', () => undefined);
      s.pipe(s);
    }).listen(Number(a1), '0.0.0.0', () => out({ event: 'listening' }));
    break;
  case 'tcp-stream': {
    const s = connect({ host: a1!, port: Number(a2), localAddress: a3 });
    let sent = 0, echoed = 0, buf = '';
    s.setNoDelay(true);
    s.on('connect', () => {
      out({ event: 'connected' });
      setInterval(() => s.write(`${++sent}\n`), 20);
      setInterval(() => out({ event: 'progress', sent, echoed }), 1000);
    });
    s.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const n = Number(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (n !== echoed + 1) out({ event: 'error', error: `echo ${n} after ${echoed}` });
        echoed = n;
      }
    });
    s.on('error', (e) => out({ event: 'error', error: e.message }));
    s.on('close', () => {
      out({ event: 'close' });
      process.exit(1);
    });
    break;
  }
  case 'tcp-connect': {
    const t0 = Date.now();
    const s = connect({ host: a1!, port: Number(a2) });
    const timer = setTimeout(() => {
      out({ event: 'error', error: 'timeout' });
      process.exit(1);
    }, 8000);
    s.on('connect', () => s.write('ping\n'));
    s.on('data', () => {
      clearTimeout(timer);
      out({ event: 'ok', ms: Date.now() - t0 });
      s.destroy();
      process.exit(0);
    });
    s.on('error', (e) => {
      out({ event: 'error', error: e.message });
      process.exit(1);
    });
    break;
  }
  case 'udp-send': {
    const s = createSocket('udp4');
    let seq = 0;
    setInterval(() => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(++seq, 0);
      s.send(b, Number(a2), a1!);
    }, 5);
    break;
  }
  case 'udp-recv': {
    const s = createSocket('udp4');
    let batch: Array<[number, number]> = [];
    s.on('message', (m) => batch.push([m.readUInt32BE(0), Date.now()]));
    s.bind(Number(a1), '0.0.0.0', () => out({ event: 'listening' }));
    setInterval(() => {
      if (batch.length) out({ event: 'udp', pkts: batch });
      batch = [];
    }, 200);
    break;
  }
  case 'bulk-server':
    // Counts the bytes of each connection and answers the total when the sender half-closes.
    createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (d) => (n += d.length));
      s.on('end', () => s.end(`${n}\n`));
      s.on('error', () => undefined);
    }).listen(Number(a1), '0.0.0.0', () => out({ event: 'listening' }));
    break;
  case 'bulk-send': {
    // Sends BYTES of full-size segments and waits for the receiver's count: MTU trouble stalls here.
    const total = Number(a3);
    const t0 = Date.now();
    const s = connect({ host: a1!, port: Number(a2), allowHalfOpen: true });
    const timer = setTimeout(() => {
      out({ event: 'error', error: 'timeout' });
      process.exit(1);
    }, 30_000);
    s.on('connect', () => {
      const chunk = Buffer.alloc(65536, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const n = Math.min(chunk.length, total - sent);
          sent += n;
          if (!s.write(chunk.subarray(0, n))) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    let reply = '';
    s.on('data', (d) => (reply += d));
    s.on('end', () => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      out({ event: Number(reply) === total ? 'ok' : 'error', bytes: Number(reply), ms, mbps: +((total * 8) / 1000 / ms).toFixed(1) });
      process.exit(0);
    });
    s.on('error', (e) => {
      out({ event: 'error', error: e.message });
      process.exit(1);
    });
    break;
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exit(2);
}
void a3;
