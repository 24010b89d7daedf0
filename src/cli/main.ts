/**
 * roamd command line: `roamd COMMAND [options]`. The bundle's entry point.
 */
import { readFileSync } from 'node:fs';
import { decodeBytes, parseHex, describeError, DecodeMode } from './decode';
import { Daemon } from './daemon';
import { callControl } from '../platform/control';
import { loadConfig } from '../platform/config';
import { RoamdError } from '../errors';

const USAGE = `usage: roamd COMMAND [options]

commands:
  run --config FILE [--profile NAME]  run the daemon in the role FILE names (UCI format)
  status [--json]                     the daemon's state
  bindings [--json]                   bindings (ha, proxy), visitors (fa), registration (mn)
  visitors [--json]                   the foreign agent's visitor list
  stats                               counters, including every drop
  revoke HOME_ADDRESS                 revoke a node's bindings (RFC 3543)
  reload                              re-read the configuration (as SIGHUP)
  decode [--udp|--icmp|--ip] HEX|-    decode a Mobile IP UDP payload, an ICMP agent discovery
                                      message or a whole IPv4 packet; '-' reads hex from stdin
  help                                this text

control commands take --socket PATH, or --config FILE to use its control_socket
(default /var/run/roamd.sock).
`;

interface Opts { flags: Set<string>; values: Map<string, string>; args: string[] }

function parseArgs(argv: string[], withValue: string[]): Opts {
  const o: Opts = { flags: new Set(), values: new Map(), args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new RoamdError('ERR_USAGE', `${a} needs a value`);
      o.values.set(a, v);
    } else if (a.startsWith('--')) o.flags.add(a);
    else o.args.push(a);
  }
  return o;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'decode':
        return cmdDecode(rest);
      case 'run':
        return await cmdRun(rest);
      case 'status':
      case 'bindings':
      case 'visitors':
      case 'stats':
      case 'revoke':
      case 'reload':
        return await cmdControl(cmd, rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`roamd: unknown command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`roamd ${cmd}: ${e instanceof RoamdError ? e.message : (e as Error).stack ?? String(e)}\n`);
    return e instanceof RoamdError && e.code === 'ERR_USAGE' ? 2 : 1;
  }
}

async function cmdRun(args: string[]): Promise<number> {
  const o = parseArgs(args, ['--config', '--profile']);
  const configFile = o.values.get('--config');
  if (!configFile || o.args.length || o.flags.size) throw new RoamdError('ERR_USAGE', 'usage: roamd run --config FILE [--profile NAME]');
  const d = new Daemon({ configFile, profile: o.values.get('--profile') });
  try {
    await d.start();
  } catch (e) {
    // Sockets, timers or the control socket may already be open: a half-started daemon must exit,
    // not linger looking alive to procd (e.g. a failed switch to `option user`).
    process.stderr.write(`roamd run: ${e instanceof RoamdError ? e.message : (e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  }
  return -1; // keep running
}

async function cmdControl(cmd: string, args: string[]): Promise<number> {
  const o = parseArgs(args, ['--socket', '--config']);
  let socket = o.values.get('--socket');
  if (!socket) socket = o.values.has('--config') ? loadConfig(o.values.get('--config')!).main.controlSocket : '/var/run/roamd.sock';
  const req: Record<string, unknown> = { cmd };
  if (cmd === 'revoke') {
    if (o.args.length !== 1) throw new RoamdError('ERR_USAGE', 'usage: roamd revoke HOME_ADDRESS');
    req.home = o.args[0];
  } else if (o.args.length) throw new RoamdError('ERR_USAGE', `'${cmd}' takes no arguments`);
  const r = await callControl(socket, req);
  if (!r.ok) {
    process.stderr.write(`roamd ${cmd}: ${r.error}\n`);
    return 1;
  }
  if (o.flags.has('--json') || cmd === 'stats' || typeof r.result !== 'object') process.stdout.write(JSON.stringify(r.result, null, 2) + '\n');
  else process.stdout.write(human(r.result) + '\n');
  return 0;
}

/** A readable rendering: key: value lines for objects, one line per row for lists. */
function human(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return `${indent}(none)`;
    return v.map((row) => indent + (typeof row === 'object' && row ? Object.entries(row).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : String(x)}`).join(' ') : String(row))).join('\n');
  }
  if (v && typeof v === 'object') {
    return Object.entries(v).map(([k, x]) => (x && typeof x === 'object' && !Array.isArray(x) ? `${indent}${k}:\n${human(x, indent + '  ')}` : `${indent}${k}: ${Array.isArray(x) ? JSON.stringify(x) : String(x)}`)).join('\n');
  }
  return `${indent}${String(v)}`;
}

function cmdDecode(args: string[]): number {
  let mode: DecodeMode = 'auto';
  const inputs: string[] = [];
  for (const a of args) {
    if (a === '--udp' || a === '--icmp' || a === '--ip') mode = a.slice(2) as DecodeMode;
    else if (a.startsWith('--')) {
      process.stderr.write(`roamd decode: unknown option '${a}'\n`);
      return 2;
    } else inputs.push(a);
  }
  if (inputs.length !== 1) {
    process.stderr.write('roamd decode: give one hex string, or - to read it from stdin\n');
    return 2;
  }
  const text = inputs[0] === '-' ? readFileSync(0, 'utf8') : inputs[0]!;
  try {
    const out = decodeBytes(parseHex(text), mode);
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`roamd decode: ${describeError(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
