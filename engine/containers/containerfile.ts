// The Containerfile (Dockerfile) subset Hangar builds: FROM, RUN, COPY, ADD (local files), ENV,
// WORKDIR, USER, ENTRYPOINT, CMD, LABEL, EXPOSE, ARG. Parsing yields one instruction per logical
// line (backslash continuations joined, comments dropped); substitution of $VAR and ${VAR}
// (with :- and :+ forms) happens at build time, when the values are known.
import { ContainerError } from './errors.ts';

export class ContainerfileError extends ContainerError {
  override name = 'ContainerfileError';
  constructor(message: string) {
    super(message, 'invalid-argument');
  }
}

export const KEYWORDS = ['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'WORKDIR', 'USER', 'ENTRYPOINT', 'CMD', 'LABEL', 'EXPOSE', 'ARG'] as const;
export type Keyword = (typeof KEYWORDS)[number];

export interface Instruction {
  keyword: Keyword;
  /** The text after the keyword, continuations joined. */
  args: string;
  /** 1-based line where the instruction starts, for error messages. */
  line: number;
}

export function parseContainerfile(text: string, file = 'Containerfile'): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!;
    if (/^\s*(#|$)/.test(logical)) continue;
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, '');
      let next = lines[++i]!;
      while (/^\s*#/.test(next) && i + 1 < lines.length) next = lines[++i]!; // comments inside a continuation are dropped
      logical += next;
    }
    const match = /^\s*(\S+)\s*(.*)$/.exec(logical)!;
    const keyword = match[1]!.toUpperCase();
    if (!(KEYWORDS as readonly string[]).includes(keyword)) {
      throw new ContainerfileError(`${file}:${start + 1}: unknown or unsupported instruction "${match[1]}" (supported: ${KEYWORDS.join(' ')})`);
    }
    out.push({ keyword: keyword as Keyword, args: match[2]!.trim(), line: start + 1 });
  }
  if (!out.some((i) => i.keyword === 'FROM')) throw new ContainerfileError(`${file}: no FROM instruction`);
  const firstOther = out.findIndex((i) => i.keyword !== 'ARG');
  if (out[firstOther]?.keyword !== 'FROM') throw new ContainerfileError(`${file}:${out[firstOther]!.line}: the first instruction (after ARGs) must be FROM`);
  return out;
}

/** Expands $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alternative}; \$ stays a literal $. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\\\$|\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)/g, (whole, braced, op, word, bare) => {
    if (whole === '\\$') return '$';
    const value = vars[braced ?? bare];
    if (op === '-') return value ? value : word;
    if (op === '+') return value ? word : '';
    return value ?? '';
  });
}

/** Splits words the way the shell would for simple quoting ("..." and '...', backslash escapes). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw new ContainerfileError(`unterminated ${quote} quote in: ${text}`);
  if (inWord) words.push(current);
  return words;
}

/** RUN, CMD and ENTRYPOINT: the JSON (exec) form, or the shell form run by /bin/sh -c. */
export function commandForm(args: string): string[] {
  if (args.startsWith('[')) {
    let parsed: unknown;
    try { parsed = JSON.parse(args); } catch { parsed = undefined; }
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) return parsed;
  }
  if (!args) throw new ContainerfileError('missing command');
  return ['/bin/sh', '-c', args];
}

/** KEY=VALUE pairs (ENV, LABEL, ARG), or ENV's legacy "KEY VALUE" form. */
export function keyValues(args: string, legacy: boolean): [string, string][] {
  const words = splitWords(args);
  if (legacy && words.length > 0 && !words[0]!.includes('=')) {
    const space = args.search(/\s/);
    if (space < 0) throw new ContainerfileError(`"${args}": expected KEY=VALUE`);
    return [[args.slice(0, space), args.slice(space).trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new ContainerfileError(`"${w}": expected KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}
