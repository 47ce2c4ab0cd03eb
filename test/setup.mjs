#!/usr/bin/env node
// Installs what the tests need from Debian's packages (as root), or fails loudly with the
// command that installs them. No test skips itself because a tool is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const packages = [
  'qemu-system-misc', // qemu-system-riscv64: the peer the engine is compared with
  'qemu-utils',       // qemu-img: qcow2 interop
  'qemu-user',        // qemu-riscv64: user-mode oracle for the CPU tests
  'gcc-riscv64-linux-gnu', // guest test programs
  'device-tree-compiler',  // dtc: checks the device-tree writer
  'e2fsprogs', 'xz-utils', 'cpio',
  'runc', 'skopeo', 'umoci', 'docker-registry', 'busybox-static', // containers
  'chromium',        // the UI's end-to-end tests
];

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

ensureElectronTypes();

const missing = packages.filter((p) => !installed(p));
if (missing.length === 0) process.exit(0);
const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`test setup: missing Debian packages: ${missing.join(' ')}\nInstall them as root:\n  ${command}`);
  process.exit(1);
}
console.log(`test setup: installing ${missing.join(' ')}`);
try {
  execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`], { stdio: 'inherit' });
} catch {
  console.error(`test setup: installing packages failed; run:\n  ${command}`);
  process.exit(1);
}

/**
 * The app's typecheck needs electron's type declarations. electron is an optional dependency:
 * where its installer cannot download the Electron binary (no access to its host), npm drops
 * the package. Its declarations need no binary, so the package is then added without scripts.
 */
function ensureElectronTypes() {
  const root = new URL('..', import.meta.url);
  if (existsSync(new URL('node_modules/electron/electron.d.ts', root))) return;
  const version = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).optionalDependencies.electron;
  console.log(`test setup: electron's binary is not installed here; adding electron@${version} for its type declarations`);
  const r = spawnSync('npm', ['install', '--no-save', '--ignore-scripts', `electron@${version}`], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`test setup: installing electron's type declarations failed; run:\n  npm install --no-save --ignore-scripts electron@${version}`);
    process.exit(1);
  }
}
