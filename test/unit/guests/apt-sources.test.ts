// The host's apt sources decide which Debian mirror the guest comes from: both file formats,
// apt's reading order, and what is not a Debian archive mirror (security, other vendors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findDebianMirror, parseDeb822Sources, parseOneLineSources, pickDebianMirror, readAptSources,
} from '../../../engine/guests/apt-sources.ts';
import { GuestError } from '../../../engine/guests/errors.ts';

// Example hosts use the reserved .example domain (RFC 2606): no real mirror is named.
test('one-line sources: options, comments and components', () => {
  const sources = parseOneLineSources([
    '# a comment',
    'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian trixie main contrib # trailing',
    'deb-src http://mirror.example/debian trixie main',
    '',
    'deb cdrom:[Debian 13]/ trixie main',
  ].join('\n'));
  assert.deepEqual(sources, [
    { types: ['deb'], uris: ['http://mirror.example/debian'], suites: ['trixie'], components: ['main', 'contrib'], enabled: true },
    { types: ['deb-src'], uris: ['http://mirror.example/debian'], suites: ['trixie'], components: ['main'], enabled: true },
    { types: ['deb'], uris: ['cdrom:[Debian 13]/'], suites: ['trixie'], components: ['main'], enabled: true },
  ]);
});

test('deb822 sources: several values per field, comments, Enabled: no', () => {
  const sources = parseDeb822Sources([
    'Types: deb deb-src',
    '# URIs: http://commented.example/debian',
    'URIs: http://one.example/debian http://two.example/debian',
    'Suites: trixie trixie-updates',
    'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    '',
    'Types: deb',
    'URIs: http://off.example/debian',
    'Suites: trixie',
    'Components: main',
    'Enabled: no',
  ].join('\n'));
  assert.deepEqual(sources, [
    { types: ['deb', 'deb-src'], uris: ['http://one.example/debian', 'http://two.example/debian'], suites: ['trixie', 'trixie-updates'], components: ['main'], enabled: true },
    { types: ['deb'], uris: ['http://off.example/debian'], suites: ['trixie'], components: ['main'], enabled: false },
  ]);
});

test('the mirror is the first Debian archive over http(s): not security, not another vendor, not disabled', () => {
  const base = { types: ['deb'], components: ['main'], enabled: true };
  assert.equal(pickDebianMirror([
    { ...base, uris: ['http://vendor.example/apt'], suites: ['cloud-sdk-bookworm'] },
    { ...base, uris: ['https://nodejs.example/node_20.x'], suites: ['nodistro'] },
    { ...base, uris: ['http://security.example/debian-security'], suites: ['bookworm-security'] },
    { ...base, uris: ['http://off.example/debian'], suites: ['bookworm'], enabled: false },
    { ...base, types: ['deb-src'], uris: ['http://src.example/debian'], suites: ['bookworm'] },
    { ...base, uris: ['file:/srv/debian', 'https://mirror.example/debian/'], suites: ['bookworm', 'bookworm-updates'] },
  ]), 'https://mirror.example/debian');
  assert.equal(pickDebianMirror([{ ...base, uris: ['http://ports.example/ubuntu'], suites: ['noble'] }]), undefined);
});

function aptDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('apt order: sources.list first, then sources.list.d in name order, each file in its own format', () => {
  const dir = aptDir({
    'sources.list.d/b.sources': 'Types: deb\nURIs: http://b.example/debian\nSuites: trixie\nComponents: main\n',
    'sources.list.d/a.list': 'deb http://a.example/debian trixie main\n',
    'sources.list.d/c.list.disabled': 'deb http://c.example/debian trixie main\n',
  });
  assert.deepEqual(readAptSources(dir).map((s) => s.uris[0]), ['http://a.example/debian', 'http://b.example/debian']);
  assert.equal(findDebianMirror(undefined, {}, dir), 'http://a.example/debian');
  writeFileSync(join(dir, 'sources.list'), 'deb http://first.example/debian bookworm main\n');
  assert.equal(findDebianMirror(undefined, {}, dir), 'http://first.example/debian');
});

test('--mirror beats HANGAR_DEBIAN_MIRROR, which beats the apt sources', () => {
  const dir = aptDir({ 'sources.list': 'deb http://apt.example/debian trixie main\n' });
  const env = { HANGAR_DEBIAN_MIRROR: 'http://env.example/debian/' };
  assert.equal(findDebianMirror('http://flag.example/debian', env, dir), 'http://flag.example/debian');
  assert.equal(findDebianMirror(undefined, env, dir), 'http://env.example/debian');
  assert.throws(() => findDebianMirror('ftp://old.example/debian', {}, dir), /not an http:\/\/ or https:\/\/ URL/);
});

test('no Debian mirror anywhere: the error says how to pass one', () => {
  const dir = aptDir({ 'sources.list.d/vendor.list': 'deb http://vendor.example/apt stable-vendor main\n' });
  assert.throws(() => findDebianMirror(undefined, {}, dir), (err: Error) =>
    err instanceof GuestError && /--mirror URL/.test(err.message) && /HANGAR_DEBIAN_MIRROR/.test(err.message));
});
