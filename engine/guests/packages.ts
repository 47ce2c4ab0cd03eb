// A Debian Packages index (one deb822 stanza per binary package, Debian Policy §5.3) and the
// small part of dependency resolution a guest needs: from a package to the binary packages of
// the same source build that it depends on (linux-image-riscv64 → linux-image-6.12.N-riscv64),
// versions compared as dpkg does (Debian Policy §5.6.12).
import { parseDeb822 } from './apt-sources.ts';
import { FormatError, GuestError } from './errors.ts';

export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
  /** The source package's name (Source: without its version), the package's own name if absent. */
  source: string;
  depends: Relation[][];
  /** Path relative to the mirror root (pool/...). */
  filename: string;
  size: number;
  sha256: string;
}

/** One alternative of a Depends clause: name, and an optional version constraint. */
export interface Relation {
  name: string;
  op?: '<<' | '<=' | '=' | '>=' | '>>';
  version?: string;
}

export function parseRelations(text: string): Relation[][] {
  if (!text.trim()) return [];
  return text.split(',').map((clause) => clause.split('|').map((alternative) => {
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>)?\s*$/.exec(alternative);
    if (!m) throw new FormatError(`Packages index: bad relation "${alternative.trim()}"`);
    // "<" and ">" are obsolete spellings of "<=" and ">=".
    const op = m[2] === '<' ? '<=' : m[2] === '>' ? '>=' : m[2] as Relation['op'];
    return op ? { name: m[1]!, op, version: m[3]! } : { name: m[1]! };
  }));
}

export function parsePackages(text: string): DebianPackage[] {
  return parseDeb822(text).map((fields) => {
    const get = (field: string) => {
      const value = fields.get(field);
      if (value === undefined) throw new FormatError(`Packages index: package ${fields.get('package') ?? '?'} has no ${field} field`);
      return value;
    };
    const name = get('package');
    const sha256 = get('sha256');
    const size = get('size');
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new FormatError(`Packages index: ${name}: bad SHA256 "${sha256}"`);
    if (!/^\d+$/.test(size)) throw new FormatError(`Packages index: ${name}: bad Size "${size}"`);
    const filename = get('filename');
    if (!/^pool\/[^\s]+\.deb$/.test(filename) || filename.split('/').includes('..')) {
      throw new FormatError(`Packages index: ${name}: bad Filename "${filename}"`);
    }
    return {
      name,
      version: get('version'),
      architecture: get('architecture'),
      source: (fields.get('source') ?? name).split(/\s/)[0]!,
      depends: [...parseRelations(fields.get('pre-depends') ?? ''), ...parseRelations(fields.get('depends') ?? '')],
      filename,
      size: Number(size),
      sha256,
    };
  });
}

// dpkg's ordering of version characters: '~' before everything (even the end), letters before
// non-letters.
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[0-9]/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !/[0-9]/.test(a[i]!)) || (j < b.length && !/[0-9]/.test(b[j]!))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++; j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && /[0-9]/.test(a[i]!) && j < b.length && /[0-9]/.test(b[j]!)) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++; j++;
    }
    if (i < a.length && /[0-9]/.test(a[i]!)) return 1;
    if (j < b.length && /[0-9]/.test(b[j]!)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

function splitVersion(version: string): [number, string, string] {
  const colon = version.indexOf(':');
  const epoch = colon >= 0 ? Number(version.slice(0, colon)) : 0;
  const rest = colon >= 0 ? version.slice(colon + 1) : version;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
}

/** dpkg --compare-versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const [ea, ua, ra] = splitVersion(a);
  const [eb, ub, rb] = splitVersion(b);
  if (ea !== eb) return ea - eb;
  return compareFragment(ua, ub) || compareFragment(ra, rb);
}

export function satisfies(version: string, relation: Relation): boolean {
  if (!relation.op || relation.version === undefined) return true;
  const c = compareVersions(version, relation.version);
  switch (relation.op) {
    case '<<': return c < 0;
    case '<=': return c <= 0;
    case '=': return c === 0;
    case '>=': return c >= 0;
    case '>>': return c > 0;
  }
}

/** Packages indexed by name, each name's candidates newest first. */
export class PackageIndex {
  private readonly byName = new Map<string, DebianPackage[]>();

  constructor(packages: Iterable<DebianPackage>) {
    for (const p of packages) {
      const list = this.byName.get(p.name) ?? [];
      list.push(p);
      this.byName.set(p.name, list);
    }
    for (const list of this.byName.values()) list.sort((x, y) => compareVersions(y.version, x.version));
  }

  /** The newest package satisfying the relation, or undefined. */
  find(relation: Relation): DebianPackage | undefined {
    return this.byName.get(relation.name)?.find((p) => satisfies(p.version, relation));
  }

  /**
   * The package and, recursively, every package of the same source it depends on (first
   * satisfiable alternative of each clause). Dependencies on other sources (kmod,
   * initramfs-tools, ...) are what an installed system needs, not what a guest image needs.
   */
  resolve(name: string): DebianPackage[] {
    const root = this.find({ name });
    if (!root) throw new GuestError(`package ${name} is not in the index`);
    const chosen = new Map<string, DebianPackage>([[root.name, root]]);
    const queue = [root];
    for (let p = queue.shift(); p; p = queue.shift()) {
      for (const clause of p.depends) {
        const sameSource = clause.filter((r) => this.byName.get(r.name)?.some((c) => c.source === root.source));
        if (!sameSource.length || sameSource.some((r) => chosen.has(r.name))) continue;
        const dependency = sameSource.map((r) => this.find(r)).find((c) => c?.source === root.source);
        if (!dependency) {
          const wanted = sameSource.map((r) => `${r.name}${r.op ? ` (${r.op} ${r.version})` : ''}`).join(' | ');
          throw new GuestError(`${p.name} ${p.version} depends on ${wanted}, which the index does not satisfy`);
        }
        chosen.set(dependency.name, dependency);
        queue.push(dependency);
      }
    }
    return [...chosen.values()];
  }

  /**
   * The package and everything it depends on (Pre-Depends and Depends), recursively, whatever
   * their source: what a program from it needs to run (a library package, libc). Each clause
   * takes an alternative already chosen, else the first the index satisfies; clauses it cannot
   * satisfy (virtual packages are not resolved) are returned in `missing`.
   */
  closure(name: string): { packages: DebianPackage[]; missing: string[] } {
    const root = this.find({ name });
    if (!root) throw new GuestError(`package ${name} is not in the index`);
    const chosen = new Map<string, DebianPackage>([[root.name, root]]);
    const missing: string[] = [];
    const queue = [root];
    for (let p = queue.shift(); p; p = queue.shift()) {
      for (const clause of p.depends) {
        if (clause.some((r) => chosen.has(r.name))) continue;
        const dependency = clause.map((r) => this.find(r)).find((c) => c !== undefined);
        if (!dependency) {
          missing.push(`${clause.map((r) => `${r.name}${r.op ? ` (${r.op} ${r.version})` : ''}`).join(' | ')} (needed by ${p.name})`);
          continue;
        }
        chosen.set(dependency.name, dependency);
        queue.push(dependency);
      }
    }
    return { packages: [...chosen.values()], missing };
  }
}
