// The packaged app's Electron fuses (electron-builder.yml): every key is one electron-builder
// knows (its own schema), the hardening ones are set, and the two that must follow the layout
// of the package do: no asar, so neither loading only from it nor validating it; the container
// monitor runs as this binary with ELECTRON_RUN_AS_NODE, so runAsNode stays on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The YAML reader electron-builder itself uses (a dependency of it, without types of its own).
const yaml = require('js-yaml') as { load(text: string): unknown };
const root = new URL('../../../', import.meta.url);
const config = yaml.load(readFileSync(new URL('electron-builder.yml', root), 'utf8')) as { asar?: boolean; electronFuses?: Record<string, unknown> };
const scheme = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8')) as {
  definitions: { FuseOptionsV1: { properties: Record<string, unknown> } };
};

test('every fuse named is one electron-builder knows', () => {
  const known = Object.keys(scheme.definitions.FuseOptionsV1.properties);
  const fuses = Object.keys(config.electronFuses ?? {});
  assert.ok(fuses.length >= 7, 'electronFuses is set');
  for (const fuse of fuses) assert.ok(known.includes(fuse), `${fuse} is not one of ${known.join(', ')}`);
});

test('the hardening fuses are set', () => {
  assert.deepEqual(
    { ...config.electronFuses, runAsNode: undefined, onlyLoadAppFromAsar: undefined, enableEmbeddedAsarIntegrityValidation: undefined },
    { runAsNode: undefined, onlyLoadAppFromAsar: undefined, enableEmbeddedAsarIntegrityValidation: undefined, enableCookieEncryption: true, enableNodeOptionsEnvironmentVariable: false, enableNodeCliInspectArguments: false, grantFileProtocolExtraPrivileges: false },
  );
});

test('the fuses that depend on the package follow it', () => {
  const fuses = config.electronFuses!;
  // Loading only from app.asar, or validating it, needs an app.asar.
  assert.equal(fuses.onlyLoadAppFromAsar, config.asar !== false);
  assert.equal(fuses.enableEmbeddedAsarIntegrityValidation, config.asar !== false);
  // The container monitor is started as this binary in Node mode while it is.
  const runtime = readFileSync(new URL('engine/containers/runtime.ts', root), 'utf8');
  assert.equal(fuses.runAsNode, runtime.includes("ELECTRON_RUN_AS_NODE: '1'"));
});
