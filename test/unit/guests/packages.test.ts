// The Packages index and the resolution a guest needs: metapackage → versioned package of the
// same source, with dpkg's version ordering deciding which candidate satisfies a constraint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, PackageIndex, parsePackages, parseRelations } from '../../../engine/guests/packages.ts';
import { FormatError, GuestError } from '../../../engine/guests/errors.ts';

const sha = (c: string) => c.repeat(64);

function stanza(fields: Record<string, string>): string {
  const all = { Architecture: 'riscv64', Filename: `pool/main/x/${fields.Package}_${fields.Version}.deb`, Size: '100', SHA256: sha('0'), ...fields };
  return Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\n');
}

const INDEX = [
  stanza({ Package: 'linux-image-riscv64', Source: 'linux', Version: '6.12.107-1', Depends: 'linux-image-6.12.107+deb13-riscv64 (= 6.12.107-1)', SHA256: sha('1') }),
  stanza({
    Package: 'linux-image-6.12.107+deb13-riscv64', Source: 'linux', Version: '6.12.107-1', SHA256: sha('2'),
    Depends: 'kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool', 'Pre-Depends': 'linux-base (>= 4.12~)',
  }),
  // An older build of the same name: the (= ...) constraint must not pick it.
  stanza({ Package: 'linux-image-6.12.107+deb13-riscv64', Source: 'linux (6.12.107-1)', Version: '6.12.107-0.1', SHA256: sha('3') }),
  stanza({ Package: 'kmod', Version: '34.2-2' }),
  stanza({ Package: 'busybox-static', Source: 'busybox (1:1.37.0-6)', Version: '1:1.37.0-6+b9', SHA256: sha('4') }),
  stanza({ Package: 'opensbi', Version: '1.6-1', Architecture: 'all', Description: 'RISC-V Open Source Supervisor Binary Interface\n long description,\n .\n more' }),
].join('\n\n') + '\n';

test('parsePackages: fields, Source without its version, Pre-Depends with Depends, continuation lines', () => {
  const packages = parsePackages(INDEX);
  assert.equal(packages.length, 6);
  const busybox = packages.find((p) => p.name === 'busybox-static')!;
  assert.deepEqual(busybox, {
    name: 'busybox-static', version: '1:1.37.0-6+b9', architecture: 'riscv64', source: 'busybox', depends: [],
    filename: 'pool/main/x/busybox-static_1:1.37.0-6+b9.deb', size: 100, sha256: sha('4'),
  });
  assert.equal(packages.find((p) => p.name === 'opensbi')!.source, 'opensbi');
  const image = packages[1]!;
  assert.deepEqual(image.depends, [
    [{ name: 'linux-base', op: '>=', version: '4.12~' }],
    [{ name: 'kmod' }],
    [{ name: 'initramfs-tools', op: '>=', version: '0.120+deb8u2' }, { name: 'linux-initramfs-tool' }],
  ]);
});

test('parsePackages refuses missing fields, bad digests and filenames outside pool/', () => {
  assert.throws(() => parsePackages('Package: a\nVersion: 1\nArchitecture: all\nSize: 1\nSHA256: ' + sha('0') + '\n'), /has no filename field/);
  assert.throws(() => parsePackages(stanza({ Package: 'a', Version: '1', SHA256: 'abc' })), /bad SHA256/);
  assert.throws(() => parsePackages(stanza({ Package: 'a', Version: '1', Filename: 'pool/../../etc/passwd.deb' })), FormatError);
  assert.throws(() => parsePackages(stanza({ Package: 'a', Version: '1', Filename: '/etc/x.deb' })), FormatError);
});

test('parseRelations: arch qualifiers, obsolete < and >, build profiles', () => {
  assert.deepEqual(parseRelations('libc6:any (>= 2.34), foo (< 2) | bar (>> 1~rc1) [riscv64] <!nocheck>'), [
    [{ name: 'libc6', op: '>=', version: '2.34' }],
    [{ name: 'foo', op: '<=', version: '2' }, { name: 'bar', op: '>>', version: '1~rc1' }],
  ]);
  assert.throws(() => parseRelations('Bad Name'), /bad relation/);
});

test('compareVersions orders as dpkg --compare-versions does', () => {
  const ascending = ['1.0~rc1', '1.0', '1.0-1', '1.0-1+b1', '1.0a', '1.0+dfsg', '1.1', '1.10', '1:0.1'];
  for (let i = 0; i + 1 < ascending.length; i++) {
    assert.ok(compareVersions(ascending[i]!, ascending[i + 1]!) < 0, `${ascending[i]} < ${ascending[i + 1]}`);
    assert.ok(compareVersions(ascending[i + 1]!, ascending[i]!) > 0, `${ascending[i + 1]} > ${ascending[i]}`);
  }
  assert.equal(compareVersions('0:1.01-1', '1.1-1'), 0);
  assert.ok(compareVersions('6.12.107-1', '6.12.99-1') > 0);
  assert.ok(compareVersions('1.0~~', '1.0~') < 0);
});

test('resolve: the metapackage brings the versioned image of its source, not kmod or initramfs-tools', () => {
  const index = new PackageIndex(parsePackages(INDEX));
  assert.deepEqual(index.resolve('linux-image-riscv64').map((p) => [p.name, p.version, p.sha256]), [
    ['linux-image-riscv64', '6.12.107-1', sha('1')],
    ['linux-image-6.12.107+deb13-riscv64', '6.12.107-1', sha('2')],
  ]);
  assert.deepEqual(index.resolve('busybox-static').map((p) => p.name), ['busybox-static']);
  assert.deepEqual(index.resolve('opensbi').map((p) => p.name), ['opensbi']);
});

test('resolve: an unknown package, or a same-source dependency no candidate satisfies, is an error', () => {
  assert.throws(() => new PackageIndex(parsePackages(INDEX)).resolve('u-boot-qemu'), (err: Error) => err instanceof GuestError && /u-boot-qemu is not in the index/.test(err.message));
  const broken = INDEX.replace('(= 6.12.107-1)', '(= 6.12.108-1)');
  assert.throws(() => new PackageIndex(parsePackages(broken)).resolve('linux-image-riscv64'), /depends on linux-image-6\.12\.107\+deb13-riscv64 \(= 6\.12\.108-1\)/);
});
