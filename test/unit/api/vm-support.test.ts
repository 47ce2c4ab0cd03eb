// app:info's VM feature is probed, not assumed: the CPU core must compile and the machine's
// shared memory and worker threads must work. Pointed at a missing or damaged core, the probe
// answers unavailable and says why.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASM_PATH } from '../../../engine/cpu/cpu.ts';
import { probeVmSupport } from '../../../engine/api/domains/app.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-vm-support-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the built core, shared memory and a worker thread: VMs are available', async () => {
  assert.deepEqual(await probeVmSupport(WASM_PATH), { available: true });
});

test('a missing core: unavailable, naming the file and the fix', async () => {
  const missing = join(dir, 'nowhere.wasm');
  const feature = await probeVmSupport(missing);
  assert.equal(feature.available, false);
  assert.match(feature.reason!, /^VMs cannot run here: the CPU core .*nowhere\.wasm cannot be read \(ENOENT\): run `npm run build`$/);
});

test('a damaged core (garbage, or a truncated module): unavailable, saying it is not valid WebAssembly', async () => {
  const garbage = join(dir, 'garbage.wasm');
  writeFileSync(garbage, 'this is not a wasm module');
  const truncated = join(dir, 'truncated.wasm');
  writeFileSync(truncated, Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x7f));
  for (const file of [garbage, truncated]) {
    const feature = await probeVmSupport(file);
    assert.equal(feature.available, false, file);
    assert.match(feature.reason!, /^VMs cannot run here: the CPU core .* is not valid WebAssembly \(.+\): run `npm run build`$/, file);
  }
});
