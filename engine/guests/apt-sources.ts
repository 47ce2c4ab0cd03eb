// Which Debian mirror to use: the one the host's apt already uses. apt reads
// /etc/apt/sources.list and then /etc/apt/sources.list.d/ in name order, one-line entries in
// *.list files and deb822 stanzas in *.sources files (sources.list(5)). We take the first
// entry whose suite is a Debian release (not -security: the security archive is a different
// tree that holds no kernel or busybox) with an http(s) URI. The mirror's host name is never
// written down anywhere: it always comes from here, --mirror or HANGAR_DEBIAN_MIRROR.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestError } from './errors.ts';

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** Parses the one-line format: `deb [opt=val ...] URI SUITE [COMPONENT...]`. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    // Words, where a [...] group counts as part of its word even with spaces inside (options,
    // and cdrom:[Label with spaces]/ URIs).
    const words = line.match(/(?:\[[^\]]*\]|\S)+/g) ?? [];
    if (words[1]?.startsWith('[')) words.splice(1, 1);
    const [type, uri, suite, ...components] = words;
    if (!type || !uri || !suite) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components, enabled: true });
  }
  return sources;
}

/** Parses the deb822 format: stanzas separated by blank lines, `Field: value` with continuation lines. */
export function parseDeb822Sources(text: string): AptSource[] {
  return parseDeb822(text).map((fields) => {
    const list = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    return {
      types: list('types'),
      uris: list('uris'),
      suites: list('suites'),
      components: list('components'),
      enabled: !/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes'),
    };
  }).filter((s) => s.types.length && s.uris.length);
}

/**
 * deb822 stanzas (Debian control-file syntax) as maps with lower-cased field names. Comment
 * lines are dropped; a continuation line (leading space or tab) is joined with a newline.
 */
export function parseDeb822(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  let lastField = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.trim() === '') { current = null; continue; }
    if (/^[ \t]/.test(line)) {
      if (current && lastField) current.set(lastField, `${current.get(lastField)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) stanzas.push((current = new Map()));
    lastField = line.slice(0, colon).trim().toLowerCase();
    current.set(lastField, line.slice(colon + 1).trim());
  }
  return stanzas;
}

const DEBIAN_SUITE = new RegExp(
  '^(stable|testing|unstable|sid|experimental|oldstable|oldoldstable|' +
  'buzz|rex|bo|hamm|slink|potato|woody|sarge|etch|lenny|squeeze|wheezy|jessie|stretch|buster|bullseye|bookworm|trixie|forky|duke)' +
  '(-updates|-backports|-backports-sloppy|-proposed-updates)?$',
);

/** The first source that is a Debian archive mirror over http(s), or undefined. */
export function pickDebianMirror(sources: AptSource[]): string | undefined {
  for (const source of sources) {
    if (!source.enabled || !source.types.includes('deb')) continue;
    if (!source.suites.some((suite) => DEBIAN_SUITE.test(suite))) continue;
    const uri = source.uris.find((u) => /^https?:\/\//.test(u) && !/debian-security/.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

/** Reads the host's apt sources in apt's own order. */
export function readAptSources(aptDir = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const read = (path: string) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
  sources.push(...parseOneLineSources(read(join(aptDir, 'sources.list'))));
  let names: string[] = [];
  try { names = readdirSync(join(aptDir, 'sources.list.d')).sort(); } catch { /* no such folder */ }
  for (const name of names) {
    const path = join(aptDir, 'sources.list.d', name);
    if (name.endsWith('.list')) sources.push(...parseOneLineSources(read(path)));
    else if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(read(path)));
  }
  return sources;
}

/** A mirror URL as given by the user, without its trailing slashes. */
export function checkMirrorUrl(url: string): string {
  if (!/^https?:\/\/[^/]/.test(url)) throw new GuestError(`Debian mirror "${url}" is not an http:// or https:// URL`);
  return url.replace(/\/+$/, '');
}

/** The mirror to use: an explicit one, then HANGAR_DEBIAN_MIRROR, then the host's apt sources. */
export function findDebianMirror(explicit?: string, env: NodeJS.ProcessEnv = process.env, aptDir = '/etc/apt'): string {
  const given = explicit ?? env.HANGAR_DEBIAN_MIRROR;
  if (given) return checkMirrorUrl(given);
  const found = pickDebianMirror(readAptSources(aptDir));
  if (!found) {
    throw new GuestError(
      `no Debian mirror found in ${aptDir}/sources.list or ${aptDir}/sources.list.d/; ` +
      'pass one with --mirror URL or the HANGAR_DEBIAN_MIRROR environment variable ' +
      '(the URL of a Debian archive, the folder that holds dists/ and pool/)',
    );
  }
  return found;
}
