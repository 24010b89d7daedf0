/**
 * Baseline for the registration benches: a bare Node UDP request/response server (`dgram`) that
 * answers every datagram with a 20-byte reply carrying the request's Identification low half where
 * a Registration Reply has it (so the load generator matches it like a real reply). No decoding,
 * no authentication, no state: what any Node UDP service costs on this machine.
 * Usage: `node bench/echo-server.ts HOST PORT` (prints `ready` when bound).
 */
import { createSocket } from 'node:dgram';

const [host = '127.102.0.1', port = '434'] = process.argv.slice(2);
const sock = createSocket({ type: 'udp4' });
sock.on('message', (msg, rinfo) => {
  const reply = Buffer.alloc(20);
  reply[0] = 3;
  if (msg.length >= 24) msg.copy(reply, 16, 20, 24);
  sock.send(reply, rinfo.port, rinfo.address);
});
sock.bind(Number(port), host, () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
