/**
 * Like-for-like baseline for the proxy attach figure: a bare Node UDP relay (`dgram`) that forwards
 * each request to an upstream server (the echo baseline, bench/echo-server.ts, a second process)
 * and relays the answer back to the request's sender. Two processes and four datagrams per
 * request, as MN → proxy → HA → proxy → MN, with none of the decoding, authentication or state:
 * the relay remembers the sender by the request's Identification low half (bytes 20-23), which
 * the echo's answer carries back at bytes 16-19, in a Map (one entry per request in flight).
 * Usage: `node bench/relay-server.ts HOST PORT UPSTREAM_HOST UPSTREAM_PORT` (prints `ready` when bound).
 */
import { createSocket } from 'node:dgram';

const [host = '127.102.0.2', port = '434', upHost = '127.102.0.1', upPort = '434'] = process.argv.slice(2);
const down = createSocket({ type: 'udp4' });
const up = createSocket({ type: 'udp4' });
const senders = new Map<number, { address: string; port: number }>();

down.on('message', (msg, rinfo) => {
  if (msg.length < 24) return;
  senders.set(msg.readUInt32BE(20), { address: rinfo.address, port: rinfo.port });
  up.send(msg, Number(upPort), upHost);
});
up.on('message', (msg) => {
  if (msg.length < 20) return;
  const low = msg.readUInt32BE(16);
  const to = senders.get(low);
  if (!to) return;
  senders.delete(low);
  down.send(msg, to.port, to.address);
});
let bound = 0;
const ready = (): void => {
  if (++bound === 2) console.log('ready');
};
down.bind(Number(port), host, ready);
up.bind(0, host, ready);
process.on('SIGTERM', () => process.exit(0));
