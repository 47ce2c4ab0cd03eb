// Issue 19's bar for console input: a paste into a PAUSED VM's serial console neither blocks the
// engine that runs it nor loses a byte. The daemon (`vm start --detach`) runs a Debian guest
// whose shell reads ttyS0 raw into sha256sum; 1 MiB goes in through the API (terminals:write)
// while the VM is paused: the write waits (it resolves once the bytes are on their way to the
// guest), vms:list answers meanwhile, and after the resume the guest's digest is the host's.
// Then the CLI's console client pastes into the paused VM: it reads its stdin no faster than the
// console takes it, `hangar vm list` answers beside it, and SIGTERM ends it at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectOwner } from '../../../engine/daemon/owner.ts';
import { HANGAR } from '../../support/hangar-process.ts';
import { guest, hangar, hangarAsync, scratchHome, stateOf } from './support.ts';

const home = scratchHome('hangar-vm-console-');
const VM = 'paste';
const PASTE_BYTES = 1024 * 1024;
const PROMPT = /# (\x1b\[6n)?$/;

/** 1 MiB of printable ASCII (a JSON string carries it as is), random so that a lost or moved byte shows. */
function pasteText(): string {
  return Buffer.from(randomBytes(PASTE_BYTES).map((b) => 0x21 + (b % 94))).toString('latin1');
}

async function until(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done();) {
    assert.ok(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

test('1 MiB pasted into a paused VM\'s console: the engine answers meanwhile, and after the resume the guest reads every byte in order', { timeout: 1_800_000 }, async () => {
  await hangar('vm', 'create', VM, '--preset', 'debian', '--memory', '256M', '--disk-size', '64M');
  await hangar('vm', 'start', VM, '--detach');
  await guest(VM, 'true'); // booted: the agent answers
  const owner = await connectOwner(home);
  assert.ok(owner, 'the daemon serves the library');
  const { client } = owner;
  try {
    const opened = await client.invoke('vms:console', { vm: VM, cols: 200, rows: 50 });
    let output = '';
    client.subscribe((event) => {
      if (event.type === 'terminal:data' && event.terminal === opened.terminal) output += Buffer.from(event.data).toString('latin1');
    });
    const type = (data: string) => client.invoke('terminals:write', { terminal: opened.terminal, data });
    await type('\n');
    await until('the shell prompt', 60_000, () => PROMPT.test(output));
    // Raw and silent, so that the bytes reach head as they are; the echoed command line reads RE""ADY.
    let from = output.length;
    await type(`stty raw -echo; echo RE""ADY; head -c ${PASTE_BYTES} | sha256sum; stty sane\n`);
    await until('the guest to read raw', 60_000, () => output.includes('READY', from));
    await sleep(500); // head is reading
    await client.invoke('vms:pause', { vm: VM });

    const text = pasteText();
    const expected = createHash('sha256').update(text, 'latin1').digest('hex');
    let handedOver = false;
    const pasted = type(text).then(() => { handedOver = true; });
    await sleep(1000);
    const asked = performance.now();
    const listed = await client.invoke('vms:list', {});
    const answeredMs = performance.now() - asked;
    console.log(`console paste: vms:list answered in ${answeredMs.toFixed(0)} ms with 1 MiB waiting for a paused VM`);
    assert.equal(listed.find((v) => v.name === VM)?.state, 'paused');
    assert.ok(answeredMs < 1000, `vms:list took ${answeredMs.toFixed(0)} ms`);
    assert.equal(handedOver, false, 'the write waits while the paused guest reads nothing');

    from = output.length;
    const resumed = performance.now();
    await client.invoke('vms:resume', { vm: VM });
    await pasted;
    await until('the guest\'s digest', 600_000, () => /[0-9a-f]{64}/.test(output.slice(from)));
    const digest = /([0-9a-f]{64})/.exec(output.slice(from))![1];
    console.log(`console paste: the guest's digest ${((performance.now() - resumed) / 1000).toFixed(1)} s after the resume`);
    assert.equal(digest, expected, 'the guest read the 1 MiB as sent');
    await until('the shell prompt', 60_000, () => PROMPT.test(output));
    await client.invoke('terminals:close', { terminal: opened.terminal });
  } finally {
    owner.close();
  }
});

test('hangar vm console pasting into a paused VM: stdin is read no faster than the console takes it, vm list answers, SIGTERM ends it', { timeout: 600_000 }, async () => {
  assert.equal(await stateOf(VM), 'running', 'the VM of the test before');
  // A reader in the guest for whatever arrives after the resume.
  await guest(VM, 'true');
  const owner = await connectOwner(home);
  assert.ok(owner);
  try {
    const opened = await owner.client.invoke('vms:console', { vm: VM, cols: 200, rows: 50 });
    await owner.client.invoke('terminals:write', { terminal: opened.terminal, data: 'stty -echo; cat > /dev/null\n' });
    await sleep(1000);
    await hangar('vm', 'pause', VM);

    const cli = spawn(process.execPath, [HANGAR, 'vm', 'console', VM], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    cli.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    cli.stdin.on('error', () => {}); // the pipe breaks when it ends
    cli.stdin.write(Buffer.from(pasteText(), 'latin1'));
    await sleep(5000);
    // The console holds what the ring and its queue took; the rest stays unread in the pipe.
    assert.ok(cli.stdin.writableLength > PASTE_BYTES / 2, `the console client read ${PASTE_BYTES - cli.stdin.writableLength} bytes of the paste into a paused VM`);
    const started = performance.now();
    const list = await hangarAsync(['vm', 'list'], { timeoutMs: 20_000 });
    console.log(`console paste: hangar vm list beside the console answered in ${((performance.now() - started) / 1000).toFixed(1)} s (the process's start included)`);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${VM} +paused`, 'm'));

    const termed = performance.now();
    cli.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
    assert.equal(code, 0, `after SIGTERM: ${String(code)} ${stderr}`);
    console.log(`console paste: the console client ended ${(performance.now() - termed).toFixed(0)} ms after SIGTERM`);
    await hangar('vm', 'resume', VM);
    await owner.client.invoke('terminals:write', { terminal: opened.terminal, data: '\x03stty echo\n' });
    assert.equal((await guest(VM, 'echo alive')).trim(), 'alive');
  } finally {
    owner.close();
  }
});
