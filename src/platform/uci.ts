/**
 * UCI reader: parses OpenWrt /etc/config files as libuci's file.c does when `uci_load` reads a
 * file (strict context, `package` statements validated and otherwise ignored), and writes them
 * back like `uci export`.
 *
 * The parser is a port of file.c's in-place line buffer: arguments are decoded into the buffer
 * they are read from, and the buffer only grows when a quote or a backslash continues a command
 * onto the next line. That layout is what gives libuci its quirks, kept here so roamd sees the
 * same config as `uci show`: a `;` glued to an unquoted word (`option a b; option c d`) is
 * overwritten by the word's terminator and the rest of the line is ignored; `;` after a quote or
 * a blank works as a separator. Memory: one logical line (plus the parsed package).
 */
import { readFileSync } from 'node:fs';
import { RoamdError } from '../errors';

export interface UciOption { name: string; value: string | string[]; line: number }
export interface UciSection { type: string; name: string; anonymous: boolean; line: number; options: Map<string, UciOption> }
export interface UciPackage { name?: string; sections: UciSection[] }

/** A parse or lookup error; `line` is 1-based, `column` counts from the start of that line. */
export class UciError extends RoamdError {
  readonly file: string;
  readonly line: number;
  readonly column: number;

  constructor(file: string, line: number, column: number, reason: string) {
    super('ERR_CONFIG_INVALID', `${file}:${line}: ${reason}`);
    this.name = 'UciError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** File each parsed section came from, for error messages of the lookup helpers. */
const sectionFile = new WeakMap<UciSection, string>();

const TAB = 9, LF = 10, CR = 13, SPACE = 32, DQUOTE = 34, HASH = 35, SQUOTE = 39, SEMI = 59, BACKSLASH = 92;

/** C isspace() in the "C" locale. */
const isSpace = (c: number): boolean => c === SPACE || (c >= TAB && c <= CR);

/** uci_validate_str(): names allow [A-Za-z0-9_] (package names also '-'), types any of 33..126. */
function validateStr(s: string, name: boolean, pkg: boolean): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) continue;
    if (c === 45 && pkg) continue;
    if (name || c < 33 || c > 126) return false;
  }
  return true;
}

class Parser {
  /** The line buffer as char codes; a read past the end is the C string terminator (0). */
  private buf: number[] = [];
  private filled = 0;
  private pos = 0;
  private next = 0;
  private lineNo = 0;
  private lineStart = 0;
  private section: UciSection | undefined;
  readonly pkg: UciPackage = { sections: [] };
  private readonly lines: string[];

  constructor(text: string, private readonly file: string) {
    this.lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  }

  run(): UciPackage {
    while (this.next < this.lines.length) {
      this.pos = 0;
      this.getln(0);
      if (this.ch(0) !== 0) this.parseLine();
    }
    return this.pkg;
  }

  private ch(i: number): number { return this.buf[i] ?? 0; }
  private str(i: number): string {
    let end = i;
    while (this.ch(end) !== 0) end++;
    let out = '';
    for (let k = i; k < end; k += 4096) out += String.fromCharCode(...this.buf.slice(k, Math.min(end, k + 4096)));
    return out;
  }
  private fail(reason: string): never {
    throw new UciError(this.file, this.lineNo, Math.max(1, this.pos - this.lineStart + 1), reason);
  }

  /** uci_getln(): replace the buffer from `offset` on with the next input line (EOF: nothing). */
  private getln(offset: number): void {
    this.buf.length = offset;
    if (this.next >= this.lines.length) return;
    const l = this.lines[this.next++]!;
    for (let i = 0; i < l.length; i++) this.buf.push(l.charCodeAt(i));
    this.filled = this.buf.length;
    this.lineStart = offset;
    this.lineNo++;
  }

  private skipWhitespace(): void {
    while (this.ch(this.pos) !== 0 && isSpace(this.ch(this.pos))) this.pos++;
  }

  private addc(target: number): number {
    this.buf[target] = this.ch(this.pos);
    this.pos++;
    return target + 1;
  }

  /** parse_backslash(): false when the backslash continued the line (nothing to copy). */
  private backslash(): boolean {
    this.pos++;
    const c = this.ch(this.pos);
    if (c === 0 || c === LF || (c === CR && this.ch(this.pos + 1) === LF && this.ch(this.pos + 2) === 0)) {
      this.getln(this.pos);
      return false;
    }
    return true;
  }

  private quoted(target: number, quote: number): number {
    this.pos++;
    for (;;) {
      const c = this.ch(this.pos);
      if (c === quote) {
        this.pos++;
        return target;
      } else if (c === 0) {
        this.getln(this.pos); // multi-line value: the newline was copied already
        if (this.ch(this.pos) === 0) this.fail(`EOF with unterminated ${String.fromCharCode(quote)}`);
      } else if (c === BACKSLASH && quote === DQUOTE) {
        if (this.backslash()) target = this.addc(target);
      } else {
        target = this.addc(target);
      }
    }
  }

  /** parse_str(): one argument, pieces in any quoting style concatenated, decoded in place. */
  private parseStr(target: number): void {
    let next = true;
    do {
      const c = this.ch(this.pos);
      if (c === SQUOTE || c === DQUOTE) target = this.quoted(target, c);
      else if (c === HASH) { this.buf[this.pos] = 0; break; }
      else if (c === 0) break;
      else if (c === SEMI) { next = false; break; }
      else if (c === BACKSLASH) { if (this.backslash()) target = this.addc(target); }
      else target = this.addc(target);
    } while (this.ch(this.pos) !== 0 && !isSpace(this.ch(this.pos)));
    if (this.ch(this.pos) !== 0 && next) this.pos++;
    this.buf[target] = 0;
  }

  /** next_arg(): '' when the command has no more arguments. */
  private nextArg(required: boolean, name: boolean, pkg: boolean): string {
    this.skipWhitespace();
    const val = this.pos;
    if (this.ch(this.pos) === SEMI) {
      this.buf[this.pos] = 0;
      this.pos++;
    } else {
      this.parseStr(val);
    }
    const s = this.str(val);
    if (s === '') {
      if (required) this.fail('insufficient arguments');
      return s;
    }
    if (name && !validateStr(s, name, pkg)) this.fail('invalid character in name field');
    return s;
  }

  private assertEol(): void {
    this.skipWhitespace();
    if (this.nextArg(false, false, false) !== '') this.fail('too many arguments');
  }

  /** strtok(cur, " \t") as uci_parse_line uses it: the command word, NUL-terminated in place. */
  private strtok(): string | undefined {
    let i = this.pos;
    while (this.ch(i) === SPACE || this.ch(i) === TAB) i++;
    if (this.ch(i) === 0) return undefined;
    let j = i;
    while (this.ch(j) !== 0 && this.ch(j) !== SPACE && this.ch(j) !== TAB) j++;
    if (this.ch(j) !== 0) this.buf[j] = 0;
    return this.str(i);
  }

  /** uci_increase_pos() past the command word; fails at the end of the input. */
  private skipCommand(what: string): void {
    const len = this.str(this.pos).length + 1;
    if (this.pos + len > this.filled) this.fail(`${what} without name`);
    this.pos += len;
  }

  private parseLine(): void {
    this.skipWhitespace();
    for (;;) {
      const word = this.strtok();
      if (word === undefined || word[0] === '#') return;
      const line = this.lineNo;
      if (word === 'p' || word === 'package') this.parsePackage();
      else if (word === 'c' || word === 'config') this.parseConfig(line);
      else if (word === 'o' || word === 'option') this.parseOption(false, line);
      else if (word === 'l' || word === 'list') this.parseOption(true, line);
      else this.fail('invalid command');
    }
  }

  private parsePackage(): void {
    this.skipCommand('package');
    const name = this.nextArg(true, true, true);
    this.assertEol();
    this.pkg.name ??= name;
  }

  private parseConfig(line: number): void {
    this.skipCommand('config');
    const type = this.nextArg(true, false, false);
    if (!validateStr(type, false, false)) this.fail('invalid character in type field');
    const name = this.nextArg(false, true, false);
    this.assertEol();
    const sections = this.pkg.sections;
    let s = name === '' ? undefined : sections.find((x) => !x.anonymous && x.name === name);
    if (s) {
      if (s.type !== type) this.fail('section of different type overwrites prior section with same name');
    } else {
      // `uci show` names an anonymous section by its index among the sections of its type;
      // strict mode never changes a section's type, so the index given here stays right.
      const anonymous = name === '';
      const shown = anonymous ? `@${type}[${sections.filter((x) => x.type === type).length}]` : name;
      s = { type, name: shown, anonymous, line, options: new Map() };
      sectionFile.set(s, this.file);
      sections.push(s);
    }
    this.section = s;
  }

  private parseOption(list: boolean, line: number): void {
    const s = this.section;
    if (!s) this.fail('option/list command found before the first section');
    this.skipCommand('option');
    const name = this.nextArg(true, true, false);
    const value = this.nextArg(false, false, false);
    this.assertEol();
    const prev = s.options.get(name);
    if (list) {
      // uci_add_list: append; a single value becomes the first item of a new list
      if (prev && Array.isArray(prev.value)) { prev.value.push(value); return; }
      s.options.delete(name);
      s.options.set(name, { name, value: prev ? [prev.value as string, value] : [value], line: prev?.line ?? line });
      return;
    }
    // uci_set during parsing: an empty value neither creates nor deletes (the parser's pointer
    // is not a complete lookup); an unchanged single value stays in place; anything else is
    // freed and re-added, which moves the option to the end of the section.
    if (value === '' || (prev && prev.value === value)) return;
    s.options.delete(name);
    s.options.set(name, { name, value, line });
  }
}

export function parseUci(text: string, file = '<config>'): UciPackage {
  return new Parser(text, file).run();
}

export function readUciFile(path: string): UciPackage {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RoamdError('ERR_CONFIG_INVALID', `${path}: ${(e as Error).message}`);
  }
  return parseUci(text, path);
}

export function sectionsOfType(p: UciPackage, type: string): UciSection[] {
  return p.sections.filter((s) => s.type === type);
}

/** A single-valued option; a list is an error at the list's line. */
export function getString(s: UciSection, name: string): UciOption | undefined {
  const o = s.options.get(name);
  if (o && Array.isArray(o.value)) {
    throw new UciError(sectionFile.get(s) ?? '<config>', o.line, 1, `option ${name} is a list, expected a single value`);
  }
  return o;
}

export function getList(s: UciSection, name: string): string[] {
  const o = s.options.get(name);
  if (!o) return [];
  return Array.isArray(o.value) ? [...o.value] : [o.value];
}

/** uci_escape() plus quotes: ' becomes '\'' (close, escaped quote, reopen). */
const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
/** libuci prints package and type unquoted; quote only what would not read back. */
const word = (s: string): string => (/^[A-Za-z0-9_-]+$/.test(s) ? s : quote(s));

/** The text `uci export` writes; parseUci(exportUci(p)) gives p back (lines aside). */
export function exportUci(p: UciPackage): string {
  let out = p.name === undefined ? '' : `package ${word(p.name)}\n`;
  for (const s of p.sections) {
    out += `\nconfig ${word(s.type)}${s.anonymous ? '' : ` ${quote(s.name)}`}\n`;
    for (const o of s.options.values()) {
      if (Array.isArray(o.value)) for (const v of o.value) out += `\tlist ${o.name} ${quote(v)}\n`;
      else out += `\toption ${o.name} ${quote(o.value)}\n`;
    }
  }
  return `${out}\n`;
}
