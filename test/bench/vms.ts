// bench section `vms`: issue 5's testing loop — a live snapshot of a booted 512 MiB Debian guest
// restored, then one command run through the guest agent, 20 times; the median time from the
// restore call to the first exec's answer (goal: under 1 s), and the size of the snapshot's
// state file. In the engine's own process (VmRunners, as the daemon runs VMs), so the figure is
// the engine's and not a CLI process's start-up.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './containers.ts';
import { VmLibrary } from '../../engine/vm/library.ts';
import { machineParts } from '../../engine/vm/runner-machine.ts';
import { VmRunners } from '../../engine/vm/runners.ts';

const ROUNDS = 20;

export async function benchVms(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'hangar-bench-vms-'));
  try {
    const runners = new VmRunners(new VmLibrary(join(home, 'vms')), machineParts);
    await runners.library.create({ name: 'bench', preset: 'debian', memory: 512, diskSize: 256 << 20 });
    const runner = await runners.start('bench');
    await runner.exec(['true']); // waits for the boot and the agent
    const snapshot = await runner.snapshot('loop');
    const stateBytes = statSync(join(runner.folder.dir, ...snapshot.state!.split('/'))).size;
    const restoreMs: number[] = [];
    const totalMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      await runner.restoreSnapshot('loop');
      const restored = performance.now();
      const { exitCode } = await runner.exec(['true']);
      if (exitCode !== 0) throw new Error(`exec after restore ${round + 1}: exit status ${exitCode}`);
      restoreMs.push(restored - start);
      totalMs.push(performance.now() - start);
    }
    await runner.stop({ force: true });
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(`vms: restore a live snapshot + first vm exec, ${ROUNDS} rounds on a 512 MiB guest (goal: under 1 s):`);
    console.log(`  restore to first exec: median ${s(median(totalMs))} (min ${s(Math.min(...totalMs))}, max ${s(Math.max(...totalMs))}); of which restore ${s(median(restoreMs))}`);
    console.log(`  state file: ${(stateBytes / 2 ** 20).toFixed(1)} MiB for 512 MiB of guest RAM`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
