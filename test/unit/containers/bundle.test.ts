// The runtime bundle: the process a container runs (image defaults overridden as Docker does),
// users resolved in the image's own passwd and group files, and limits in config.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeEnv, planProcess, resolveUser, runtimeConfig } from '../../../engine/containers/bundle.ts';
import { InvalidImageError, UnsafeLayerError } from '../../../engine/containers/errors.ts';
import { scratchDir } from '../../integration/containers/fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
before(() => {
  scratch = scratchDir('bundle');
  mkdirSync(join(scratch.dir, 'etc'));
  writeFileSync(join(scratch.dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(scratch.dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n');
});
after(() => scratch.cleanup());

test('users: names, numbers, user:group, supplementary groups; unknown names refused', async () => {
  assert.deepEqual(await resolveUser(scratch.dir, undefined), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveUser(scratch.dir, 'app'), { uid: 1000, gid: 1000, additionalGids: [50] });
  assert.deepEqual(await resolveUser(scratch.dir, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [50] });
  assert.deepEqual(await resolveUser(scratch.dir, '4242:7'), { uid: 4242, gid: 7, additionalGids: [] });
  await assert.rejects(resolveUser(scratch.dir, 'ghost'), /user "ghost" is not in the image's \/etc\/passwd/);
  await assert.rejects(resolveUser(scratch.dir, 'app:ghosts'), /group "ghosts" is not in the image's \/etc\/group/);
});

test('the command: entrypoint + cmd, a given command replaces cmd, a given entrypoint drops cmd', async () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'], Env: ['A=1', 'PATH=/bin'], WorkingDir: '/work' };
  assert.deepEqual((await planProcess(scratch.dir, image, {})).args, ['/entry', 'default']);
  assert.deepEqual((await planProcess(scratch.dir, image, { command: ['mine'] })).args, ['/entry', 'mine']);
  assert.deepEqual((await planProcess(scratch.dir, image, { entrypoint: ['/other'] })).args, ['/other']);
  const plan = await planProcess(scratch.dir, image, { env: ['A=2', 'B=3'], tty: true, user: 'app' });
  assert.deepEqual(plan.env, ['A=2', 'PATH=/bin', 'TERM=xterm', 'B=3']);
  assert.equal(plan.cwd, '/work');
  assert.equal(plan.uid, 1000);
  await assert.rejects(planProcess(scratch.dir, {}, {}), /no command/);
  await assert.rejects(planProcess(scratch.dir, image, { workdir: 'relative' }), /must be absolute/);
  assert.ok(mergeEnv([]).some((e) => e.startsWith('PATH=')), 'a PATH is always there');
});

test('config.json carries limits, namespaces, read-only root and mounts', async () => {
  const plan = await planProcess(scratch.dir, { Cmd: ['sh'] }, {});
  const config = runtimeConfig('abc', plan, {
    memory: 32 << 20, cpus: 1.5, pids: 64, readOnly: true, network: 'host',
    mounts: [{ source: '/srv', destination: '/data', readOnly: true }],
  }, 'box') as {
    hostname: string; root: { readonly: boolean }; mounts: { destination: string; options?: string[] }[];
    linux: { cgroupsPath: string; resources: Record<string, unknown>; namespaces: { type: string }[] };
  };
  assert.equal(config.hostname, 'box');
  assert.equal(config.root.readonly, true);
  assert.equal(config.linux.cgroupsPath, '/hangar/abc');
  assert.deepEqual(config.linux.resources.memory, { limit: 32 << 20, swap: 32 << 20 });
  assert.deepEqual(config.linux.resources.cpu, { quota: 150_000, period: 100_000 });
  assert.deepEqual(config.linux.resources.pids, { limit: 64 });
  assert.ok(!config.linux.namespaces.some((n) => n.type === 'network'), 'host network: no network namespace');
  assert.deepEqual(config.mounts.find((m) => m.destination === '/data')?.options, ['rbind', 'ro']);
});

test('the image\'s passwd is read inside its root: a symlink to a FIFO, out of the root or to the host\'s shadow is refused', async () => {
  const image = (label: string, make: (etc: string) => void) => {
    const root = join(scratch.dir, label);
    mkdirSync(join(root, 'etc'), { recursive: true });
    make(join(root, 'etc'));
    return root;
  };
  const fifo = image('fifo', (etc) => { execFileSync('mkfifo', [join(etc, 'pipe')]); symlinkSync('pipe', join(etc, 'passwd')); });
  const started = Date.now();
  await assert.rejects(resolveUser(fifo, 'app'), (err: Error) => err instanceof InvalidImageError && /\/etc\/passwd is not a regular file/.test(err.message));
  assert.ok(Date.now() - started < 2000, 'refused at once, not blocked on the FIFO');
  // Absolute targets are the container's own: /etc/shadow of the image, which it does not have.
  const absolute = image('absolute', (etc) => symlinkSync('/etc/shadow', join(etc, 'passwd')));
  await assert.rejects(resolveUser(absolute, 'root'), /user "root" is not in the image's \/etc\/passwd/);
  const climbing = image('climbing', (etc) => symlinkSync('../../../../../../../../etc/passwd', join(etc, 'passwd')));
  await assert.rejects(resolveUser(climbing, 'root'), (err: Error) => err instanceof UnsafeLayerError && /leads outside the root/.test(err.message));
  const huge = image('huge', (etc) => writeFileSync(join(etc, 'passwd'), Buffer.alloc((4 << 20) + 1, 0x41)));
  await assert.rejects(resolveUser(huge, 'root'), /\/etc\/passwd is larger than/);
  const inside = image('inside', (etc) => { writeFileSync(join(etc, 'passwd.real'), 'app:x:7:8::/:/bin/sh\n'); symlinkSync('/etc/passwd.real', join(etc, 'passwd')); });
  assert.deepEqual(await resolveUser(inside, 'app'), { uid: 7, gid: 8, additionalGids: [] }, 'a symlink inside the image is followed there');
});
