/**
 * A lossy UDP relay for the loss test (loopback only): listens on `listen` (address, port) and
 * forwards every datagram to `target`, dropping a fraction `loss` of them in each direction with a
 * seeded PRNG (mulberry32), so a run replays exactly from its seed (up to timing).
 *
 * Each client (source address:port) gets its own upstream socket bound to the client's address with
 * an ephemeral port, so the target sees the client's own address as the source (no NAT is
 * introduced) and answers to that socket, which hands the answer back to the client.
 *
 * Usable in-process (`new LossyRelay(...)`) or as a script:
 *   node --import tsx test/reliability/lossy-relay.ts LISTEN_ADDR:PORT TARGET_ADDR:PORT [loss] [seed]
 */
import { createSocket, Socket } from 'node:dgram';
import { mulberry32 } from '../util/prng';

export interface RelayStats { up: number; upDropped: number; down: number; downDropped: number }

export class LossyRelay {
  readonly stats: RelayStats = { up: 0, upDropped: 0, down: 0, downDropped: 0 };
  private readonly rand: () => number;
  private readonly front: Socket;
  private readonly clients = new Map<string, Socket>();

  constructor(
    readonly listen: { address: string; port: number },
    readonly target: { address: string; port: number },
    readonly loss = 0.3,
    seed = 1,
  ) {
    this.rand = mulberry32(seed);
    this.front = createSocket('udp4');
    this.front.on('message', (m, r) => this.fromClient(m, r.address, r.port));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.front.once('error', reject);
      this.front.bind(this.listen.port, this.listen.address, () => resolve());
    });
  }

  private drop(): boolean {
    return this.rand() / 4294967296 < this.loss;
  }

  private fromClient(m: Buffer, address: string, port: number): void {
    const key = `${address}:${port}`;
    let up = this.clients.get(key);
    if (!up) {
      if (this.clients.size >= 256) return; // bounded: the test uses a handful of care-of addresses
      const s = createSocket('udp4');
      up = s;
      this.clients.set(key, s);
      s.on('message', (reply) => {
        this.stats.down++;
        if (this.drop()) this.stats.downDropped++;
        else this.front.send(reply, port, address);
      });
      s.on('error', () => undefined);
      s.bind(0, address, () => this.forward(s, m));
      return;
    }
    this.forward(up, m);
  }

  private forward(s: Socket, m: Buffer): void {
    this.stats.up++;
    if (this.drop()) this.stats.upDropped++;
    else s.send(m, this.target.port, this.target.address);
  }

  close(): void {
    this.front.close();
    for (const s of this.clients.values()) s.close();
    this.clients.clear();
  }
}

if (require.main === module) {
  const [l, t, loss, seed] = process.argv.slice(2);
  const split = (s: string | undefined) => {
    const m = /^([\d.]+):(\d+)$/.exec(s ?? '');
    if (!m) throw new Error('usage: lossy-relay LISTEN_ADDR:PORT TARGET_ADDR:PORT [loss] [seed]');
    return { address: m[1]!, port: Number(m[2]) };
  };
  const r = new LossyRelay(split(l), split(t), loss ? Number(loss) : 0.3, seed ? Number(seed) : 1);
  void r.start().then(() => console.log(`relay ${l} -> ${t}, loss ${r.loss}`));
  process.on('SIGINT', () => {
    console.log(JSON.stringify(r.stats));
    r.close();
  });
}
