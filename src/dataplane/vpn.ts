/**
 * The node's VPN client control: strongSwan through swanctl (which speaks vici to charon).
 * The mobility layer only says "outside" (bring the tunnel up: inner = home address, outer = the
 * invariant outer address) or "home" (pass-through: terminate); it never renegotiates on a move,
 * because neither address changes.
 */
import { execFile } from 'node:child_process';

export interface VpnConfig {
  /** swanctl connection and child names (swanctl.conf). */
  connection: string;
  child: string;
  /** vici socket URI, e.g. unix:///var/run/charon.vici (swanctl's default when unset). */
  uri?: string;
  swanctl?: string;
}

export interface SaInfo { ikeId: string; ikeSpiI: string; ikeSpiR: string; state: string; children: Array<{ name: string; spiIn: string; spiOut: string; state: string }> }

export class VpnControl {
  private busy: Promise<unknown> = Promise.resolve();

  constructor(readonly cfg: VpnConfig) {}

  private run(args: string[]): Promise<string> {
    const all = this.cfg.uri ? [...args, '--uri', this.cfg.uri] : args;
    const job = this.busy.then(() => new Promise<string>((resolve, reject) => {
      execFile(this.cfg.swanctl ?? 'swanctl', all, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`swanctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
    }));
    this.busy = job.catch(() => undefined);
    return job;
  }

  /** Current IKE SA of the connection, or null. */
  async sa(): Promise<SaInfo | null> {
    const out = await this.run(['--list-sas', '--ike', this.cfg.connection, '--raw']);
    return parseListSas(out, this.cfg.connection);
  }

  /** Brings the tunnel up unless an established SA exists. Returns the SA. */
  async up(): Promise<SaInfo | null> {
    const cur = await this.sa().catch(() => null);
    if (cur && cur.state === 'ESTABLISHED' && cur.children.some((c) => c.state === 'INSTALLED')) return cur;
    await this.run(['--initiate', '--child', this.cfg.child, '--timeout', '15']);
    return this.sa();
  }

  /**
   * Tears the tunnel down at once (`--force` without `--timeout`: charon sends its DELETE and
   * destroys the SA without waiting for the peer's answer — at home the outer path is already
   * gone; with `--timeout 2` charon waited those 2 s for an answer that could not come, and the
   * node's return home with it: 400 probes lost in the demo), so the routes into the tunnel
   * disappear immediately.
   */
  async down(): Promise<void> {
    const cur = await this.sa().catch(() => null);
    if (cur) await this.run(['--terminate', '--ike', this.cfg.connection, '--force']).catch(() => undefined);
  }
}

/**
 * Parses `swanctl --list-sas --raw` output (vici message dumps, one `list-sa event {...}` per SA)
 * for the named connection: IKE SPIs and CHILD SA SPIs, which stay the same when nothing renegotiates.
 */
export function parseListSas(text: string, connection: string): SaInfo | null {
  const start = text.indexOf(`${connection} {`);
  if (start < 0) return null;
  const body = text.slice(start);
  const field = (s: string, name: string) => new RegExp(`\\b${name}=([^ }]+)`).exec(s)?.[1] ?? '';
  const childStart = body.indexOf('child-sas {');
  const ikePart = childStart >= 0 ? body.slice(0, childStart) : body;
  const children: SaInfo['children'] = [];
  if (childStart >= 0) {
    const re = /([\w.-]+-\d+) \{([^{}]*)\}/g;
    let m: RegExpExecArray | null;
    const part = body.slice(childStart + 'child-sas {'.length);
    while ((m = re.exec(part))) children.push({ name: field(m[2]!, 'name'), spiIn: field(m[2]!, 'spi-in'), spiOut: field(m[2]!, 'spi-out'), state: field(m[2]!, 'state') });
  }
  return { ikeId: field(ikePart, 'uniqueid'), ikeSpiI: field(ikePart, 'initiator-spi'), ikeSpiR: field(ikePart, 'responder-spi'), state: field(ikePart, 'state'), children };
}
