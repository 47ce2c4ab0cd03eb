// `image build` with a Containerfile of every supported instruction, built on the busybox
// image: the result runs as written, a rebuild takes every layer from the cache, a changed
// input rebuilds from that step on, and bad Containerfiles fail with file:line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerRuntime } from '../../../engine/containers/runtime.ts';
import { Builder } from '../../../engine/containers/build.ts';
import { importArchive } from '../../../engine/containers/archive.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
let runtime: ContainerRuntime;
let builder: Builder;
let context: string;

const CONTAINERFILE = `# every instruction of the subset
ARG BASE=busybox
FROM \${BASE}
ARG WHO=world
ENV APP_HOME=/app \\
    MODE=test
WORKDIR $APP_HOME
COPY hello.txt ./
COPY dir /app/dir/
ADD hello.txt /app/added.txt
RUN echo "$WHO" > who.txt && cat hello.txt >> who.txt
USER nobody
LABEL org.example.name="test image" version=1
EXPOSE 8080 53/udp
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/who.txt /app/added.txt; ls /app/dir; id -u; echo $MODE"]
`;

before(async () => {
  requireTools();
  scratch = scratchDir('build');
  runtime = new ContainerRuntime(join(scratch.dir, 'root'));
  await runtime.init();
  const archive = join(scratch.dir, 'busybox.tar');
  await writeBusyboxArchive(archive);
  await importArchive(runtime.store, archive, undefined);
  builder = new Builder(runtime);
  context = join(scratch.dir, 'context');
  mkdirSync(join(context, 'dir'), { recursive: true });
  writeFileSync(join(context, 'hello.txt'), 'hi from the context\n');
  writeFileSync(join(context, 'dir/a'), 'a');
  writeFileSync(join(context, 'dir/b'), 'b');
  writeFileSync(join(context, 'Containerfile'), CONTAINERFILE);
});
after(async () => {
  for (const c of await runtime.list()) await runtime.remove(c.id, { force: true });
  scratch.cleanup();
});

async function runImage(image: string, command?: string[]): Promise<string> {
  const c = await runtime.create(image, { command });
  let out = '';
  await runtime.start(c.id, { onOutput: (_s, chunk) => { out += chunk.toString(); } });
  const info = await runtime.wait(c.id);
  await new Promise((r) => setTimeout(r, 20));
  await runtime.remove(c.id);
  assert.equal(info.exitCode, 0, out);
  return out;
}

test('a Containerfile of every supported instruction builds an image that runs as written', async () => {
  const progress: string[] = [];
  const { image, steps } = await builder.build({ tag: 'built:1', context, buildArgs: { WHO: 'hangar' }, onProgress: (p) => progress.push(p.item ?? '') });
  assert.ok(progress.some((p) => p.startsWith('step 9/14: RUN')), progress.join('\n'));
  assert.equal(steps.filter((s) => s.cached).length, 0);
  const exec = image.config.config!;
  assert.equal(exec.User, 'nobody');
  assert.equal(exec.WorkingDir, '/app');
  assert.deepEqual(exec.Labels, { 'org.example.name': 'test image', version: '1' });
  assert.deepEqual(Object.keys(exec.ExposedPorts ?? {}).sort(), ['53/udp', '8080/tcp']);
  assert.ok(exec.Env!.includes('APP_HOME=/app') && exec.Env!.includes('MODE=test'));
  assert.equal(image.manifest.layers.length, 5, 'busybox + three copies + one run');
  assert.equal(await runImage('built:1'), 'hangar\nhi from the context\nhi from the context\na\nb\n65534\ntest\n');
});

test('a rebuild takes every layer from the cache; a changed file rebuilds from its step on', async () => {
  const first = await runtime.store.inspect('built:1');
  const again = await builder.build({ tag: 'built:2', context, buildArgs: { WHO: 'hangar' } });
  assert.deepEqual(again.image.manifest.layers, first.manifest.layers);
  assert.deepEqual(again.steps.filter((s) => /^(COPY|ADD|RUN)/.test(s.instruction)).map((s) => s.cached), [true, true, true, true]);
  writeFileSync(join(context, 'dir/b'), 'B');
  const changed = await builder.build({ tag: 'built:3', context, buildArgs: { WHO: 'hangar' } });
  assert.deepEqual(changed.steps.filter((s) => /^(COPY|ADD|RUN)/.test(s.instruction)).map((s) => s.cached), [true, false, false, false]);
  assert.equal(await runImage('built:3', ['cat /app/dir/a /app/dir/b']), 'aB');
});

test('bad builds fail with the file and line', async () => {
  const failing = join(scratch.dir, 'failing');
  mkdirSync(failing);
  writeFileSync(join(failing, 'Containerfile'), 'FROM busybox\nRUN echo partial; exit 3\n');
  await assert.rejects(builder.build({ tag: 'bad:1', context: failing }), /Containerfile:2: RUN .*exit status 3/);
  writeFileSync(join(failing, 'Containerfile'), 'FROM busybox\nCOPY ../outside /x\n');
  await assert.rejects(builder.build({ tag: 'bad:2', context: failing }), /Containerfile:2: COPY \.\.\/outside: outside the build context/);
  writeFileSync(join(failing, 'Containerfile'), 'FROM busybox\nHEALTHCHECK CMD true\n');
  await assert.rejects(builder.build({ tag: 'bad:3', context: failing }), /Containerfile:2: unknown or unsupported instruction "HEALTHCHECK"/);
  writeFileSync(join(failing, 'Containerfile'), 'FROM nothing:here\n');
  await assert.rejects(builder.build({ tag: 'bad:4', context: failing }), /FROM nothing:here: .*not in the store/);
  assert.deepEqual((await runtime.list()).length, 0, 'no build container is left behind');
});
