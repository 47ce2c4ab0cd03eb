// Containers run by real runc as root, from the busybox image the tests build: exit statuses,
// cgroup limits (an OOM kill is reported), the freezer, exec, terminals that follow a resize,
// logs, stats, and state that survives an engine restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerRuntime, type Terminal } from '../../../engine/containers/runtime.ts';
import { importArchive } from '../../../engine/containers/archive.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
let runtime: ContainerRuntime;

before(async () => {
  requireTools();
  scratch = scratchDir('runtime');
  runtime = new ContainerRuntime(join(scratch.dir, 'root'), { logLimit: 4096 });
  await runtime.init();
  const archive = join(scratch.dir, 'busybox.tar');
  await writeBusyboxArchive(archive);
  await importArchive(runtime.store, archive, undefined);
});
after(async () => {
  for (const c of await runtime.list()) await runtime.remove(c.id, { force: true });
  scratch.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a container to its end and returns its final state and output. */
async function runToEnd(options: Parameters<ContainerRuntime['create']>[1]) {
  const created = await runtime.create('busybox', options);
  let output = '';
  await runtime.start(created.id, { onOutput: (_stream, chunk) => { output += chunk.toString(); } });
  const info = await runtime.wait(created.id);
  await sleep(20); // the last pipe chunk may trail the monitor's exit
  return { info, output };
}

/** Collects a terminal's output and waits for a pattern in what arrives after `from`. */
function screen(terminal: Terminal) {
  let text = '';
  terminal.onData((d) => { text += d.toString(); });
  return {
    get text() { return text; },
    async waitFor(pattern: RegExp, from = 0, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text.slice(from))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen: ${JSON.stringify(text.slice(-300))}`);
        await sleep(20);
      }
    },
  };
}

test('echo runs, and the exit status is the command\'s', async () => {
  const { info, output } = await runToEnd({ command: ['sh', '-c', 'echo hello from busybox; exit 7'] });
  assert.equal(output, 'hello from busybox\n');
  assert.equal(info.status, 'exited');
  assert.equal(info.exitCode, 7);
  assert.equal(info.oomKilled, false);
});

test('env, working directory, user, hostname, read-only root and bind mounts apply', async () => {
  const shared = join(scratch.dir, 'shared');
  mkdirSync(shared, { mode: 0o755 });
  writeFileSync(join(shared, 'shared.txt'), 'from the host');
  const { info, output } = await runToEnd({
    command: ['sh', '-c', 'echo $GREETING; pwd; id -u; hostname; cat /mnt/shared.txt; echo; touch /x 2>/dev/null || echo read-only'],
    env: ['GREETING=hi'], workdir: '/tmp', user: 'nobody', hostname: 'boxy', readOnly: true,
    mounts: [{ source: shared, destination: '/mnt', readOnly: true }],
  });
  assert.equal(info.exitCode, 0);
  assert.equal(output, 'hi\n/tmp\n65534\nboxy\nfrom the host\nread-only\n');
});

test('network none has only loopback; network host sees the host\'s interfaces and name resolution', async () => {
  const none = await runToEnd({ command: ['ls', '/sys/class/net'] });
  assert.equal(none.output, 'lo\n');
  const host = await runToEnd({ command: ['sh', '-c', 'ls /sys/class/net; test -e /etc/resolv.conf && echo resolv.conf'], network: 'host' });
  assert.equal(host.output, `${readdirSync('/sys/class/net').sort().join('\n')}\n${existsSync('/etc/resolv.conf') ? 'resolv.conf\n' : ''}`);
});

test('a process allocating past a 32 MiB memory limit is OOM-killed and the container reports it', async () => {
  const { info } = await runToEnd({
    command: ['sh', '-c', 'x=0123456789abcdef; while true; do x=$x$x; done'],
    memory: 32 << 20,
  });
  assert.equal(info.oomKilled, true);
  assert.equal(info.exitCode, 137);
});

test('the pids limit caps the number of processes', async () => {
  const { output } = await runToEnd({ command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; wait'], pids: 4 });
  assert.match(output, /can't fork|Resource temporarily unavailable/);
});

test('pause stops a clock-driven counter and resume continues it', async () => {
  const created = await runtime.create('busybox', { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done'] });
  await runtime.start(created.id);
  const rootfs = await runtime.mountRootfs(created.id);
  const count = () => Number(readFileSync(join(rootfs, 'count'), 'utf8'));
  await sleep(300);
  await runtime.pause(created.id);
  assert.equal((await runtime.inspect(created.id)).status, 'paused');
  const frozen = count();
  await sleep(400);
  assert.equal(count(), frozen, 'the counter does not move while paused');
  await runtime.resume(created.id);
  await sleep(400);
  assert.ok(count() > frozen + 2, 'the counter continues after resume');
  const stopped = await runtime.stop(created.id, 2000);
  assert.equal(stopped.status, 'exited');
});

test('exec, logs (bounded) and stats of a running container; stop escalates to SIGKILL', async () => {
  const created = await runtime.create('busybox', {
    command: ['sh', '-c', 'trap "" TERM; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; while true; do sleep 1; done'],
    memory: 64 << 20, pids: 50, cpus: 1,
  });
  await runtime.start(created.id);
  let out = '';
  const status = await runtime.exec(created.id, ['sh', '-c', 'echo in the container; exit 4'], { onOutput: (_s, c) => { out += c.toString(); } });
  assert.equal(status, 4);
  assert.equal(out, 'in the container\n');
  await sleep(300);
  const stats = await runtime.stats(created.id);
  assert.ok(stats.memoryBytes > 0 && stats.pids >= 2, JSON.stringify(stats));
  assert.equal(stats.memoryLimitBytes, 64 << 20);
  const logs = (await runtime.logs(created.id)).toString();
  assert.ok(logs.length <= 2 * 4096, `the log is bounded (${logs.length} bytes)`);
  assert.match(logs, /line 1999\n$/);
  const start = Date.now();
  const info = await runtime.stop(created.id, 500);
  assert.equal(info.exitCode, 137, 'SIGTERM is trapped, so SIGKILL ends it');
  assert.ok(Date.now() - start >= 500);
});

test('exec -it gives a shell in a pty whose size follows a resize', async () => {
  const created = await runtime.create('busybox', { command: ['sleep', '60'] });
  await runtime.start(created.id);
  const terminal = await runtime.execTerminal(created.id, ['sh'], { cols: 80, rows: 24 });
  const view = screen(terminal);
  terminal.write('tty; stty size\r');
  await view.waitFor(/\/dev\/pts\/\d+\s+24 80/);
  const mark = view.text.length;
  terminal.resize(120, 40);
  terminal.write('stty size\r');
  await view.waitFor(/40 120/, mark);
  terminal.write('exit 5\r');
  assert.equal(await terminal.exited, 5);
  await runtime.remove(created.id, { force: true });
});

test('a container created with -it runs in a terminal that follows a resize', async () => {
  const created = await runtime.create('busybox', { command: ['sh'], tty: true });
  const terminal = await runtime.startTerminal(created.id, { cols: 100, rows: 30 });
  const view = screen(terminal);
  terminal.write('stty size\r');
  await view.waitFor(/30 100/);
  const mark = view.text.length;
  terminal.resize(90, 20);
  terminal.write('stty size; exit 3\r');
  await view.waitFor(/20 90/, mark);
  assert.equal(await terminal.exited, 3);
  assert.equal((await runtime.inspect(created.id)).exitCode, 3);
});

test('state survives an engine restart: running containers are found again, vanished ones marked exited', async () => {
  const created = await runtime.create('busybox', { name: 'survivor', command: ['sleep', '60'] });
  await runtime.start(created.id);
  const restarted = new ContainerRuntime(runtime.root);
  assert.equal((await restarted.inspect('survivor')).status, 'running');
  // The monitor dies (as in a crash): runc still knows the container, so it is still running.
  const { monitorPid } = JSON.parse(readFileSync(join(runtime.root, 'containers', created.id, 'run.json'), 'utf8'));
  process.kill(monitorPid, 'SIGKILL');
  await sleep(100);
  assert.equal((await restarted.inspect('survivor')).status, 'running');
  const info = await restarted.stop('survivor', 1000);
  assert.equal(info.status, 'exited');
  assert.equal(info.lost, true, 'nobody saw the exit status');
  await restarted.remove('survivor');
  await assert.rejects(restarted.inspect('survivor'), /no container named "survivor"/);
});

test('bad requests are refused with clear errors', async () => {
  await assert.rejects(runtime.create('busybox', { memory: 1024 }), /at least 6 MiB/);
  await assert.rejects(runtime.create('nonexistent:1'), /not in the store/);
  await assert.rejects(runtime.create('busybox', { mounts: [{ source: '/does/not/exist', destination: '/x' }] }), /does not exist/);
  await assert.rejects(runtime.create('busybox', { user: 'nosuchuser' }), /not in the image's \/etc\/passwd/);
  const created = await runtime.create('busybox', { name: 'idle', command: ['true'] });
  await assert.rejects(runtime.create('busybox', { name: 'idle' }), /already exists/);
  await assert.rejects(runtime.exec(created.id, ['true']), /it is created/);
  await runtime.remove('idle');
});
