// The `hangar image` and `hangar ct` commands as scripts use them: exact forms, exit statuses
// that are the container's, --json listings, and -it attaching a real terminal (node-pty) that
// follows a resize.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { HANGAR } from '../../support/hangar-process.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';
import { startFront, startRegistry } from './registry-server.ts';

let scratch: ReturnType<typeof scratchDir>;
let env: NodeJS.ProcessEnv;

before(async () => {
  requireTools();
  scratch = scratchDir('cli');
  env = { ...process.env, HANGAR_HOME: join(scratch.dir, 'home') };
  await writeBusyboxArchive(join(scratch.dir, 'busybox.tar'));
});
after(() => {
  const left = JSON.parse(hangar('ct', 'ls', '--json').stdout) as { name: string }[];
  for (const c of left) hangar('ct', 'rm', '--force', c.name);
  scratch.cleanup();
});

function hangar(...args: string[]) {
  const r = spawnSync(process.execPath, [HANGAR, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): string {
  const r = hangar(...args);
  assert.equal(r.status, 0, `hangar ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Runs hangar in a pseudo-terminal, as a person at a terminal would. */
function interactive(args: string[]) {
  const term = pty.spawn(process.execPath, [HANGAR, ...args], { cols: 80, rows: 24, env: env as Record<string, string> });
  let screen = '';
  term.onData((d) => { screen += d; });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  return {
    term, exited,
    get screen() { return screen; },
    async waitFor(pattern: RegExp, from = 0) {
      for (const deadline = Date.now() + 15_000; !pattern.test(screen.slice(from));) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${JSON.stringify(screen.slice(-300))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

test('image import, ls --json, tag, inspect, export, rm', () => {
  assert.match(ok('image', 'import', join(scratch.dir, 'busybox.tar')), /^busybox:latest sha256:[0-9a-f]{64}\n$/);
  ok('image', 'tag', 'busybox:latest', 'tools/box:1');
  const images = JSON.parse(ok('image', 'ls', '--json')) as { name: string; digest: string }[];
  assert.deepEqual(images.map((i) => i.name), ['busybox:latest', 'tools/box:1']);
  assert.equal(images[0]!.digest, images[1]!.digest);
  assert.equal(JSON.parse(ok('image', 'inspect', 'tools/box:1')).config.os, 'linux');
  const exported = join(scratch.dir, 'docker.tar');
  ok('image', 'export', 'tools/box:1', exported, '--format', 'docker');
  assert.match(ok('image', 'import', exported, '--tag', 'again:2'), /^again:2 /);
  ok('image', 'rm', 'again:2');
  ok('image', 'rm', 'tools/box:1');
  const missing = hangar('image', 'inspect', 'tools/box:1');
  assert.equal(missing.status, 2); // not-found is bad input, as for VMs (README: exit statuses)
  assert.match(missing.stderr, /image tools\/box:1 is not in the store/);
  assert.equal(hangar('image', 'export', 'busybox', exported, '--format', 'zip').status, 2);
});

test('ct run: output, exit status, --rm, OOM report, usage errors', () => {
  const run = hangar('ct', 'run', '--rm', '-e', 'WHO=script', 'busybox', 'sh', '-c', 'echo hi $WHO; echo oops >&2; exit 3');
  assert.equal(run.status, 3);
  assert.equal(run.stdout, 'hi script\n');
  assert.match(run.stderr, /oops/);
  const oom = hangar('ct', 'run', '--rm', '--memory', '32M', 'busybox', 'sh', '-c', 'x=0123456789; while true; do x=$x$x; done');
  assert.equal(oom.status, 137);
  assert.match(oom.stderr, /was killed: out of memory \(limit 32\.0MiB\)/);
  assert.equal(hangar('ct', 'run', '--memory', 'lots', 'busybox').status, 2);
  assert.equal(hangar('ct', 'run').status, 2);
  assert.deepEqual(JSON.parse(ok('ct', 'ls', '--json')), [], '--rm removed them');
});

test('ct run -d, exec, pause/resume, stats, logs, snapshot, stop, rm', () => {
  assert.equal(ok('ct', 'run', '-d', '--name', 'bg', '--pids', '20', 'busybox', 'sh', '-c', 'echo started; exec sleep 60'), 'bg\n');
  assert.equal(hangar('ct', 'exec', 'bg', 'sh', '-c', 'echo data > /file; exit 5').status, 5);
  ok('ct', 'pause', 'bg');
  assert.equal(JSON.parse(ok('ct', 'ls', '--json'))[0].status, 'paused');
  ok('ct', 'resume', 'bg');
  const stats = JSON.parse(ok('ct', 'stats', 'bg', '--json'));
  assert.equal(stats.pidsLimit, 20);
  assert.equal(ok('ct', 'logs', 'bg'), 'started\n');
  assert.match(ok('ct', 'snapshot', 'bg', 'take', 'with-data'), /^took snapshot "with-data" \([0-9a-f]{12}\) of bg\n$/);
  assert.equal(hangar('ct', 'snapshot', 'bg', 'take').status, 2, 'take needs a name, as vm snapshot take does');
  assert.match(hangar('ct', 'snapshot', 'bg', 'take', 'with-data').stderr, /already has a snapshot named "with-data"/);
  assert.equal(JSON.parse(ok('ct', 'snapshot', 'bg', 'list', '--json'))[0].name, 'with-data');
  ok('ct', 'stop', '--time', '1', 'bg');
  assert.match(ok('ct', 'snapshot', 'bg', 'commit', 'with-data', 'bg:snap'), /^bg:snap sha256:/);
  assert.equal(ok('ct', 'run', '--rm', 'bg:snap', 'cat', '/file'), 'data\n');
  assert.equal(ok('ct', 'snapshot', 'bg', 'rm', 'with-data'), 'deleted snapshot "with-data"\n');
  assert.deepEqual(JSON.parse(ok('ct', 'snapshot', 'bg', 'list', '--json')), []);
  assert.match(hangar('ct', 'snapshot', 'bg', 'rm', 'with-data').stderr, /has no snapshot "with-data"/);
  ok('ct', 'rm', 'bg');
  assert.match(hangar('ct', 'rm', 'bg').stderr, /no container named "bg"/);
});

test('ct run -it and ct exec -it attach this terminal, resizes included', async () => {
  const shell = interactive(['ct', 'run', '-it', '--rm', 'busybox', 'sh']);
  shell.term.write('stty size\r');
  await shell.waitFor(/24 80/);
  const mark = shell.screen.length;
  shell.term.resize(132, 43);
  await new Promise((r) => setTimeout(r, 200));
  shell.term.write('stty size; exit 6\r');
  await shell.waitFor(/43 132/, mark);
  assert.equal(await shell.exited, 6);

  // Detached with a terminal: the command returns at once, the shell waits in its pty.
  assert.equal(ok('ct', 'run', '-d', '-it', '--name', 'target', 'busybox', 'sh'), 'target\n');
  assert.equal(JSON.parse(ok('ct', 'ls', '--json'))[0].status, 'running');
  const exec = interactive(['ct', 'exec', '-it', 'target', 'sh']);
  exec.term.write('tty; exit 2\r');
  await exec.waitFor(/\/dev\/pts\/\d+/);
  assert.equal(await exec.exited, 2);
  ok('ct', 'rm', '--force', 'target');
});

test('image push and pull through a loopback registry: --insecure, or the registries.json list', async () => {
  const registry = await startRegistry(scratch.dir);
  try {
    const ref = `${registry.host}/cli/busybox:1`;
    const pushed = ok('image', 'push', 'busybox:latest', ref, '--insecure').trim().split(' ')[1];
    const refused = hangar('image', 'pull', ref);
    assert.equal(refused.status, 1, 'without --insecure or the list, the client speaks HTTPS only');
    writeFileSync(join(env.HANGAR_HOME!, 'containers', 'registries.json'), JSON.stringify({ insecure: [registry.host] }));
    assert.equal(ok('image', 'pull', ref), `${ref} ${pushed}\n`);
    assert.equal(hangar('image', 'pull', 'registry.example.org/x:1', '--insecure').status, 1);

    // Ctrl-C during a stalled layer download cancels the pull: status 130, nothing named.
    const front = await startFront(registry.host, { stallBlobsLargerThan: 100_000 });
    try {
      const fresh = { ...env, HANGAR_HOME: join(scratch.dir, 'fresh-home') };
      const pull = spawn(process.execPath, [HANGAR, 'image', 'pull', '--insecure', `${front.host}/cli/busybox:1`], { env: fresh });
      let stderr = '';
      pull.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (/pull/.test(stderr) && !pull.killed) pull.kill('SIGINT');
      });
      const status = await new Promise<number | null>((resolve) => pull.on('exit', resolve));
      assert.equal(status, 130, stderr);
      assert.match(stderr, /hangar image: cancelled/);
      const listed = spawnSync(process.execPath, [HANGAR, 'image', 'ls', '--json'], { env: fresh, encoding: 'utf8' });
      assert.deepEqual(JSON.parse(listed.stdout), []);
    } finally {
      await front.stop();
    }
  } finally {
    await registry.stop();
  }
});
