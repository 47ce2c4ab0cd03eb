// `npm run bench`, containers section: create + start + exit of a trivial container through
// Hangar (bundle, overlay mount, monitor, runc) against `runc run` of the same bundle directly.
// The image is built by Hangar itself from the host's busybox-static.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainersService } from '../../engine/containers/index.ts';
import { unmount } from '../../engine/containers/host.ts';

const BUSYBOX = '/bin/busybox';
const COMMAND = ['/bin/busybox', 'true'];

export interface ContainerStartupBench { hangarMedianMs: number; runcMedianMs: number; ratio: number }

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function runcRun(stateRoot: string, bundle: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('runc', ['--root', stateRoot, 'run', '--bundle', bundle, id], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited with ${code}`))));
  });
}

export async function benchContainerStartup({ runs }: { runs: number }): Promise<ContainerStartupBench> {
  const scratch = await mkdtemp(join(tmpdir(), 'hangar-bench-'));
  const service = await new ContainersService(join(scratch, 'root')).init();
  const runtime = service.runtime;
  try {
    const context = join(scratch, 'context');
    await mkdir(context);
    await copyFile(BUSYBOX, join(context, 'busybox')).catch(() => {
      throw new Error(`the container benchmark needs ${BUSYBOX}: apt-get install busybox-static`);
    });
    await writeFile(join(context, 'Containerfile'), `FROM scratch\nCOPY busybox /bin/busybox\nCMD ${JSON.stringify(COMMAND)}\n`);
    await service.builder.build({ tag: 'bench/busybox:1', context });

    const throughHangar = async () => {
      const start = performance.now();
      const c = await runtime.create('bench/busybox:1');
      await runtime.start(c.id);
      const info = await runtime.wait(c.id);
      const ms = performance.now() - start;
      if (info.exitCode !== 0) throw new Error(`the benchmark container exited with ${info.exitCode}`);
      await runtime.remove(c.id);
      return ms;
    };

    // The baseline runs the bundle of a Hangar container, its overlay mounted, with runc alone.
    const reference = await runtime.create('bench/busybox:1');
    const bundle = await runtime.bundlePath(reference.id);
    await runtime.mountRootfs(reference.id);
    const stateRoot = join(scratch, 'runc-direct');
    const directly = async (i: number) => {
      const start = performance.now();
      await runcRun(stateRoot, bundle, `bench-${i}`);
      return performance.now() - start;
    };

    await throughHangar(); // warm-up: unpacked root filesystem, page cache
    await directly(-1);
    const hangar: number[] = [];
    const runc: number[] = [];
    for (let i = 0; i < runs; i++) {
      hangar.push(await throughHangar());
      runc.push(await directly(i));
    }
    await unmount(join(bundle, 'rootfs'));
    const hangarMedianMs = median(hangar);
    const runcMedianMs = median(runc);
    return { hangarMedianMs, runcMedianMs, ratio: hangarMedianMs / runcMedianMs };
  } finally {
    for (const c of await runtime.list()) await runtime.remove(c.id, { force: true }).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
  }
}
