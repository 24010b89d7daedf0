/**
 * roamd command line: `roamd COMMAND [options]`. The bundle's entry point.
 */
import { readFileSync } from 'node:fs';
import { decodeBytes, parseHex, describeError, DecodeMode } from './decode';

const USAGE = `usage: roamd COMMAND [options]

commands:
  decode [--udp|--icmp|--ip] HEX|-   decode a Mobile IP UDP payload, an ICMP agent discovery
                                     message or a whole IPv4 packet; '-' reads hex from stdin
  help                               this text
`;

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'decode':
      return cmdDecode(rest);
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
}

function cmdDecode(args: string[]): number {
  let mode: DecodeMode = 'auto';
  const inputs: string[] = [];
  for (const a of args) {
    if (a === '--udp' || a === '--icmp' || a === '--ip') mode = a.slice(2) as DecodeMode;
    else if (a.startsWith('--') ) {
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
  process.exitCode = main(process.argv.slice(2));
}
