import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { mulberry32 } from '../../util/prng';
import {
  UciError, exportUci, getList, getString, parseUci, readUciFile, sectionsOfType,
  type UciPackage, type UciSection,
} from '../../../src/platform/uci';

/** `uci show`-like dump: `sec=type`, `sec.opt="v"`, `sec.opt=["a","b"]` (JSON strings). */
function dump(p: UciPackage): string[] {
  const out: string[] = p.name === undefined ? [] : [`package=${p.name}`];
  for (const s of p.sections) {
    out.push(`${s.name}=${s.type}`);
    for (const o of s.options.values()) out.push(`${s.name}.${o.name}=${JSON.stringify(o.value)}`);
  }
  return out;
}

// 1. Syntax accepted: [name, text, expected dump]
const SYNTAX: Array<[string, string, string[]]> = [
  ['empty input', '', []],
  ['blank and comment lines only', '\n  \n# c\n\t# c\n', []],
  ['short commands p c o l', "p pk\nc t 'n'\no a 1\nl b 2\n", ['package=pk', 'n=t', 'n.a="1"', 'n.b=["2"]']],
  ['leading whitespace', "   config t n\n\t\t option a b\n", ['n=t', 'n.a="b"']],
  ['unquoted, single, double', 'config t n\noption a x\noption b \'y z\'\noption c "w v"\n', ['n=t', 'n.a="x"', 'n.b="y z"', 'n.c="w v"']],
  ['comment after command', "config t n # c\noption a 'b' # c 'x\noption c d#e\n", ['n=t', 'n.a="b"', 'n.c="d"']],
  ['hash inside quotes is literal', 'config t n\noption a \'x#y\'\noption b "#"\n', ['n=t', 'n.a="x#y"', 'n.b="#"']],
  ['semicolon after quote separates', "config t 'n'; option a 'b'; list c 'd' ;option e 'f'\n", ['n=t', 'n.a="b"', 'n.c=["d"]', 'n.e="f"']],
  ['semicolon after blank separates', 'config t n ;option a b ; option c d\n', ['n=t', 'n.a="b"', 'n.c="d"']],
  // libuci quirk: the word's terminator overwrites a glued ';', so the line ends there
  ['semicolon glued to unquoted word ends the line', 'config t n\noption a b; option c d\n', ['n=t', 'n.a="b"']],
  ['semicolon inside quotes is literal', "config t n\noption a 'x;y'\n", ['n=t', 'n.a="x;y"']],
  ['multi-line single quoted value', "config t n\noption a 'l1\nl2\n'\noption b c\n", ['n=t', 'n.a="l1\\nl2\\n"', 'n.b="c"']],
  ['multi-line double quoted value', 'config t n\noption a "l1\n\tl2"\n', ['n=t', 'n.a="l1\\n\\tl2"']],
  ['continuation in unquoted word', 'config t n\noption a foo\\\nbar\n', ['n=t', 'n.a="foobar"']],
  ['continuation in double quotes', 'config t n\noption a "foo\\\nbar"\n', ['n=t', 'n.a="foobar"']],
  ['continuation before next argument', 'config t n\noption a\\\n b\n', ['n=t', 'n.a="b"']],
  ['backslash literal in single quotes', "config t n\noption a 'x\\y\\'\n", ['n=t', 'n.a="x\\\\y\\\\"']],
  ['escapes unquoted and double quoted', 'config t n\noption a x\\ y\\"\\n\noption b "q\\"\\\\\\\'"\n', ['n=t', 'n.a="x y\\"n"', 'n.b="q\\"\\\\\'"']],
  ['concatenation', 'config t n\noption a \'a\'"b"c\\ d\'\'\n', ['n=t', 'n.a="abc d"']],
  ['escaped single quote as uci export writes it', "config t n\noption a 'it'\\''s'\n", ['n=t', 'n.a="it\'s"']],
  ['anonymous sections named by type index', 'config a\nconfig b\nconfig a\noption x 1\nconfig a \'\'\n', ['@a[0]=a', '@b[0]=b', '@a[1]=a', '@a[1].x="1"', '@a[2]=a']],
  ['named section reopened and merged', 'config t n\noption a 1\nconfig u m\nconfig t n\noption b 2\n', ['n=t', 'n.a="1"', 'n.b="2"', 'm=u']],
  ['repeated option replaces and moves last', 'config t n\noption a 1\noption b 2\noption a 3\n', ['n=t', 'n.b="2"', 'n.a="3"']],
  ['repeated identical option keeps its place', 'config t n\noption a 1\noption b 2\noption a 1\n', ['n=t', 'n.a="1"', 'n.b="2"']],
  ['list appends', 'config t n\nlist a 1\nlist a 2\nlist a 1\n', ['n=t', 'n.a=["1","2","1"]']],
  ['list after option converts', 'config t n\noption a 1\noption b 2\nlist a 3\n', ['n=t', 'n.b="2"', 'n.a=["1","3"]']],
  ['option after list replaces', 'config t n\nlist a 1\nlist a 2\noption a 3\n', ['n=t', 'n.a="3"']],
  ['empty option value creates nothing', "config t n\noption a\noption b ''\n", ['n=t']],
  // libuci parses with an incomplete lookup, so uci_set("") returns before uci_delete
  ['empty option value keeps an existing value', "config t n\noption a 1\noption a ''\n", ['n=t', 'n.a="1"']],
  ['empty list item is kept', "config t n\nlist a ''\nlist a\n", ['n=t', 'n.a=["",""]']],
  ['CRLF line endings', "config t 'n'\r\n\toption a 'b'\r\n\toption c d\r\n\r\n# x\r\nconfig u\r\n", ['n=t', 'n.a="b"', 'n.c="d"', '@u[0]=u']],
  ['CRLF continuation', 'config t n\r\noption a foo\\\r\nbar\r\n', ['n=t', 'n.a="foobar"']],
  ['no newline at end', "config t n\noption a 'b'", ['n=t', 'n.a="b"']],
  ['type allows printable punctuation', "config a-b.c/d:e n\nconfig 'x#\\'\\''y' m\n", ['n=a-b.c/d:e', "m=x#\\'y"]],
  ['package name allows dash, first one kept', 'package my-pkg\npackage other\nconfig t n\n', ['package=my-pkg', 'n=t']],
];
SYNTAX.forEach(([name, text, want], i) => {
  test(`syntax #${i + 1}: ${name}`, () => {
    assert.equal(dump(parseUci(text)), want);
  });
});

// 2. Errors: [name, text, line, reason]
const ERRORS: Array<[string, string, number, string]> = [
  ['unknown command', 'config t n\nsection x\n', 2, 'invalid command'],
  ['command word glued to newline', 'config t n\noption\n', 2, 'invalid command'],
  ['command word glued to hash', 'config#x\n', 1, 'invalid command'],
  ['option before first section', '# c\noption a b\n', 2, 'option/list command found before the first section'],
  ['list before first section', 'list a b\n', 1, 'option/list command found before the first section'],
  ['option word at EOF', 'config t n\noption', 2, 'option without name'],
  ['config word at EOF', 'config', 1, 'config without name'],
  ['package word at EOF', 'package', 1, 'package without name'],
  ['config without type', "config ''\n", 1, 'insufficient arguments'],
  ['option without name', 'config t n\noption ;\n', 2, 'insufficient arguments'],
  ['package without name', 'package #x\n', 1, 'insufficient arguments'],
  ['bad section name', 'config t my-name\n', 1, 'invalid character in name field'],
  ['bad option name', 'config t n\noption a.b c\n', 2, 'invalid character in name field'],
  ['bad package name', 'package a.b\n', 1, 'invalid character in name field'],
  ['bad type (non-ASCII)', 'config tëst\n', 1, 'invalid character in type field'],
  ['too many arguments to option', 'config t n\n\noption a b c\n', 3, 'too many arguments'],
  ['too many arguments to config', 'config t n x\n', 1, 'too many arguments'],
  ['too many arguments to package', 'package p q\n', 1, 'too many arguments'],
  ['too many after continuation', 'config t n\noption a foo\\\n bar\n', 3, 'too many arguments'],
  ['type with a blank', "config 'x y' n\n", 1, 'invalid character in type field'],
  // the (absent) name argument takes the ';', so the next command is a third argument
  ['semicolon after anonymous config', 'config t ;option a b\n', 1, 'too many arguments'],
  ['type redefinition', 'config t n\nconfig u x\nconfig u n\n', 3, 'section of different type overwrites prior section with same name'],
  ['EOF in single quote', "config t n\noption a 'x\ny\n", 3, "EOF with unterminated '"],
  ['EOF in double quote', 'config t n\noption a "x\n', 2, 'EOF with unterminated "'],
  ['EOF after backslash in double quote', 'config t n\noption a "x\\\n', 2, 'EOF with unterminated "'],
];
ERRORS.forEach(([name, text, line, reason], i) => {
  test(`error #${i + 1}: ${name}`, () => {
    try {
      parseUci(text, 'f.uci');
    } catch (e) {
      assert.instance(e, UciError);
      const u = e as UciError;
      assert.is(u.code, 'ERR_CONFIG_INVALID');
      assert.is(u.message, `f.uci:${line}: ${reason}`);
      assert.is(u.line, line);
      assert.is(u.file, 'f.uci');
      assert.ok(u.column >= 1);
      return;
    }
    assert.unreachable('no error');
  });
});

test('example config (fixture) and helpers', () => {
  const p = readUciFile(join(__dirname, 'fixtures', 'roamd-ha.uci'));
  assert.is(p.name, undefined);
  assert.equal(p.sections.map((s) => [s.name, s.type, s.anonymous, s.line]), [
    ['main', 'roamd', false, 1], ['@home_agent[0]', 'home_agent', true, 8], ['@mobile_node[0]', 'mobile_node', true, 12],
  ]);
  const [main] = sectionsOfType(p, 'roamd') as [UciSection];
  assert.equal(getString(main, 'port'), { name: 'port', value: '4434', line: 4 });
  assert.is(getString(main, 'control_socket')?.value, '/tmp/roamd-ha.sock');
  assert.is(getString(main, 'missing'), undefined);
  const mn = sectionsOfType(p, 'mobile_node')[0]!;
  assert.equal([...mn.options.keys()], ['home_address', 'nai', 'spi', 'algorithm', 'key', 'replay']);
  assert.is(getString(mn, 'key')?.value, '00112233445566778899aabbccddeeff');
  assert.equal(getList(mn, 'nai'), ['alice@corp.example']);
  assert.equal(getList(mn, 'missing'), []);
  assert.equal(dump(parseUci(exportUci(p))), dump(p));
});

test('getString on a list names file and line', () => {
  const s = parseUci("config t n\n\nlist dns '1'\nlist dns '2'\n", '/etc/config/roamd').sections[0]!;
  assert.equal(getList(s, 'dns'), ['1', '2']);
  try {
    getString(s, 'dns');
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, UciError);
    assert.is((e as UciError).message, '/etc/config/roamd:3: option dns is a list, expected a single value');
    assert.is((e as UciError).line, 3);
  }
});

test('readUciFile: missing file is ERR_CONFIG_INVALID', () => {
  assert.throws(() => readUciFile('/nonexistent/roamd'), (e: UciError) => e.code === 'ERR_CONFIG_INVALID');
});

test('exportUci writes the uci export format', () => {
  const p = parseUci("package roamd\nconfig t 'n'\noption a \"it's\"\nlist b x\nlist b ''\nconfig u\n");
  assert.is(exportUci(p), "package roamd\n\nconfig t 'n'\n\toption a 'it'\\''s'\n\tlist b 'x'\n\tlist b ''\n\nconfig u\n\n");
});

/** A seeded PRNG in [0, 1), so a failing case can be replayed. */
function prng(seed: number): () => number {
  const r = mulberry32(seed);
  return () => r() / 4294967296;
}

test('export round trip: 500 seeded random packages', () => {
  const rnd = prng(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const VALUE_CHARS = ['a', 'Z', '0', ' ', '\t', '\n', '\r\n', "'", '"', '\\', '#', ';', "'\\''", 'é', '$'];
  const TYPES = ['iface', 'rule', 'a-b', "o'q", 'x#y', 't;u', 'q"r', 'b\\s', 'p.q/r'];
  const str = (min: number): string => {
    let s = '';
    const n = min + Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) s += pick(VALUE_CHARS);
    return s;
  };
  for (let iter = 0; iter < 500; iter++) {
    const p: UciPackage = { sections: [] };
    if (rnd() < 0.3) p.name = `pkg-${iter}`;
    const perType = new Map<string, number>();
    for (let si = Math.floor(rnd() * 6); si > 0; si--) {
      const type = pick(TYPES);
      const anonymous = rnd() < 0.5;
      const idx = perType.get(type) ?? 0;
      perType.set(type, idx + 1);
      const s: UciSection = { type, name: anonymous ? `@${type}[${idx}]` : `s${si}_${iter}`, anonymous, line: 0, options: new Map() };
      for (let oi = Math.floor(rnd() * 5); oi > 0; oi--) {
        const name = `o${oi}`;
        // an empty single value is not representable: parsing `option a ''` creates nothing
        const value = rnd() < 0.6 ? str(1) : Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => str(0));
        s.options.set(name, { name, value, line: 0 });
      }
      p.sections.push(s);
    }
    const text = exportUci(p);
    let back: UciPackage;
    try {
      back = parseUci(text);
    } catch (e) {
      throw new Error(`iteration ${iter}: ${(e as Error).message}\n${text}`);
    }
    assert.equal(dump(back), dump(p), `iteration ${iter}`);
    assert.equal(back.sections.map((s) => s.anonymous), p.sections.map((s) => s.anonymous), `iteration ${iter}`);
  }
});

test.run();
