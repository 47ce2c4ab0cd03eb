// A foreground `hangar vm start NAME` with no engine running: that process owns the library while
// the VM runs (other hangar processes are its clients), the serial console is on its standard
// output and input, Ctrl-] saves the VM and ends it; `vm start --detach` then resumes it in a
// daemon, and `daemon stop` saves it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { HANGAR } from '../../support/hangar-process.ts';
import { GuestConsole, SHELL_PROMPT } from '../../support/guest-console.ts';
import { daemonPid, guest, hangar, hangarAsync, scratchHome, stateOf } from './support.ts';

const home = scratchHome('hangar-vm-fg-');

test('foreground start owns the library while the VM runs; Ctrl-] saves it; --detach resumes it in the daemon; daemon stop saves it', { timeout: 1_200_000 }, async () => {
  await hangar('vm', 'create', 'fg', '--preset', 'debian', '--memory', '256M', '--disk-size', '16M');
  const child = spawn(process.execPath, [HANGAR, 'vm', 'start', 'fg'], { stdio: 'pipe' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const console = new GuestConsole({ onData: (l) => child.stdout.on('data', l), write: (t) => child.stdin.write(t) });
  await console.waitFor(SHELL_PROMPT, 600_000);
  assert.equal(daemonPid(home), child.pid, 'the foreground hangar owns the library');
  assert.equal(await stateOf('fg'), 'running');
  assert.equal(await guest('fg', 'echo made-here > /root/mark && echo ok'), 'ok\n');
  assert.equal((await console.run('cat /root/mark')).output, 'made-here');

  child.stdin.write('\x1d'); // Ctrl-]
  assert.equal(await exited, 0);
  assert.equal(daemonPid(home), null, 'it let go of the library');
  assert.equal(await stateOf('fg'), 'saved');

  await hangar('vm', 'start', 'fg', '--detach');
  const daemon = daemonPid(home);
  assert.ok(daemon !== null && daemon !== child.pid);
  assert.equal(await guest('fg', 'cat /root/mark'), 'made-here\n', 'resumed, RAM and all');
  const stop = await hangarAsync(['daemon', 'stop']);
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(daemonPid(home), null);
  assert.equal(await stateOf('fg'), 'saved');
  const refused = await hangarAsync(['vm', 'exec', 'fg', '--', 'true']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /VM "fg" is not running \(it is saved: start resumes it\)/);
});
