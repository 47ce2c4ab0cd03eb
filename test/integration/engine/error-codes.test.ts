// A guest-side error keeps its code from the thread that raised it to the CLI's exit status and
// the UI's message: a VM whose saved state is a truncated file. The device thread refuses the file
// (StateFileError, corrupt) before any hart runs; MachineHost rejects with a HangarError that is
// still `corrupt`; the API answers `corrupt`; `hangar vm start` exits with the status the CLI
// gives corrupt and prints the file's message; the UI leads the message with "Damaged file".
// Nothing boots: the machine is small and the boot files are stand-ins, so this takes seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, ApiRequestError, inProcessTransport } from '../../../engine/api/client.ts';
import { STATUS_OF } from '../../../engine/cli/errors.ts';
import { HangarError } from '../../../engine/common/errors.ts';
import { createEngine } from '../../../engine/daemon/daemon.ts';
import { writeStateFile } from '../../../engine/machine/state-file.ts';
import { MachineHost } from '../../../engine/vcpu/machine-host.ts';
import { errorText } from '../../../renderer/src/app/errors.ts';
import { hangarSync } from '../../support/hangar-process.ts';
import { bootFiles } from '../../unit/vm/support.ts';

const home = mkdtempSync(join(tmpdir(), 'hangar-error-codes-'));
process.on('exit', () => rmSync(home, { recursive: true, force: true }));
process.env.HANGAR_HOME = home; // the library of every hangar this test starts
process.env.XDG_CONFIG_HOME = join(home, 'config'); // and no one's preferences
const boot = bootFiles(home);
const RAM_BYTES = 16 * 1024 * 1024;

/** A state file of RAM_BYTES cut short: its header promises more than the file holds. */
async function truncatedStateFile(path: string, vm: string | null): Promise<void> {
  const ram = new Uint8Array(RAM_BYTES);
  ram.fill(0x5a, 0, 64 * 1024);
  await writeStateFile(path, { vm, cpu: {}, devices: {}, clock: {}, ram });
  truncateSync(path, Math.floor(readFileSync(path).length / 2));
}

test('the device thread\'s StateFileError reaches the machine\'s owner as corrupt', { timeout: 120_000 }, async () => {
  const path = join(home, 'cut.hst');
  await truncatedStateFile(path, null);
  const machine = new MachineHost({
    harts: 1, ramBytes: RAM_BYTES, firmwarePath: boot.firmware, kernelPath: boot.kernel, initrdPath: boot.initrd,
    bootargs: 'console=ttyS0', restoreFrom: { path, vm: null },
  });
  await assert.rejects(machine.started, (err: unknown) => {
    assert.ok(err instanceof HangarError, String(err));
    assert.deepEqual([err.code, err.name], ['corrupt', 'StateFileError']);
    assert.match(err.message, /cut\.hst: is truncated \(\d+ of \d+ bytes\)/);
    return true;
  });
  const exit = await machine.exited;
  assert.equal(exit.reason, 'error');
  assert.equal(exit.error?.code, 'corrupt');
});

test('a VM saved to a truncated file: the API answers corrupt, hangar exits with corrupt\'s status, the UI says "Damaged file"', { timeout: 300_000 }, () => {
  const created = hangarSync(['vm', 'create', 'damaged', '--kernel', boot.kernel, '--initrd', boot.initrd, '--firmware', boot.firmware, '--memory', '16M', '--disk-size', '16M', '--json']);
  assert.equal(created.status, 0, created.stderr);
  const { folder, id } = JSON.parse(created.stdout) as { folder: string; id: string };
  return (async () => {
    await truncatedStateFile(join(folder, 'state', 'cut.hst'), id);
    const configPath = join(folder, 'vm.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), savedState: 'state/cut.hst' }, null, 2));
    const config = readFileSync(configPath, 'utf8');

    // The CLI, as a script runs it: that process becomes the library's owner for the start.
    const started = hangarSync(['vm', 'start', 'damaged'], { timeoutMs: 120_000 });
    assert.equal(started.status, STATUS_OF.corrupt, started.stderr);
    assert.equal(STATUS_OF.corrupt, 1, 'README.md: a damaged state file is exit status 1');
    assert.match(started.stderr, /(^|\n)hangar vm: \S*state\/cut\.hst: is truncated \(\d+ of \d+ bytes\)\n$/);
    const info = hangarSync(['vm', 'info', 'damaged', '--json']);
    assert.equal((JSON.parse(info.stdout) as { state: string }).state, 'saved');

    // The API, in this process.
    const service = createEngine(home);
    try {
      const client = new ApiClient(inProcessTransport((listener) => service.connect(listener)));
      const result = await client.call('vms:start', { vm: 'damaged' });
      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.equal(result.error.code, 'corrupt');
      assert.match(result.error.message, /state\/cut\.hst: is truncated/);
      // What client.invoke throws with that answer, and what the UI shows of it.
      const refused = new ApiRequestError('vms:start', result.error);
      assert.equal(refused.code, 'corrupt');
      assert.equal(errorText(refused, 'Start'), `Damaged file: ${result.error.message}`);
    } finally {
      service.close();
    }

    // A failed restore touches nothing: the VM is still saved, on the same file.
    assert.equal(readFileSync(configPath, 'utf8'), config);
  })();
});
