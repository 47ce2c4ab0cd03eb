// A small argument parser shared by every subcommand: long and short options, repeated
// options, and an optional stop at the first positional (for `ct run IMAGE CMD...`).
import { EXIT, UsageError } from './errors.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after `--`, or after the first positional when stopAtFirstPositional is set. */
  rest: string[];
}

export function parseArgs(
  argv: string[],
  spec: Record<string, OptionSpec>,
  { stopAtFirstPositional = false }: { stopAtFirstPositional?: boolean } = {},
): ParsedArgs {
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([n, s]) => [s.short!, n]));
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { rest = argv.slice(i + 1); break; }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
      if (stopAtFirstPositional) { rest = argv.slice(i + 1); break; }
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    let value: string | boolean;
    if (s.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      value = true;
    } else {
      value = inline ?? argv[++i] ?? '';
      if (inline === undefined && i >= argv.length) throw new UsageError(`--${name} needs a value`);
    }
    if (s.multiple) ((options[name] ??= []) as string[]).push(String(value));
    else options[name] = value;
  }
  return { options, positionals, rest };
}

/** Parses sizes such as 512M, 1G, 4096 (bytes), 64K. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: "${text}" is not a size (examples: 512M, 1G)`);
  const unit = (m[2] ?? 'B').toUpperCase()[0]!;
  const scale = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit as 'B'];
  return Math.round(Number(m[1]) * scale);
}

/**
 * The verb of `hangar NOUN VERB ...`. With no verb, or --help/-h, prints the usage and returns
 * the exit status instead: 0 when help was asked for, 2 when the verb is missing.
 */
export function takeVerb(argv: string[], usage: string): { verb: string; rest: string[] } | number {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h') {
    console.log(usage);
    return verb ? EXIT.ok : EXIT.usage;
  }
  return { verb, rest };
}
