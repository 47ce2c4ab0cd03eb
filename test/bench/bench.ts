// `npm run bench`: Hangar measured side by side with its peers, as ratios, medians of several
// runs (the machine is shared and noisy). Sections: engine boot (peer: Debian's
// qemu-system-riscv64), containers (peer: runc run of the same bundle). Name sections to run
// only those: `npm run bench -- containers`.
import { spawn } from 'node:child_process';
import { GuestConsole } from '../support/guest-console.ts';
import { MachineHost } from '../../engine/vcpu/machine-host.ts';
import { ensureDebianGuest } from '../../engine/guests/debian.ts';
import { benchContainerStartup, median } from '../../engine/containers/bench.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PROMPT = /# (\x1b\[6n)?$/;
const BOOT_TIMEOUT_MS = 300_000;

interface BootSample { seconds: number; instructions?: number }

async function bootHangar(guest: Awaited<ReturnType<typeof ensureDebianGuest>>): Promise<BootSample> {
  const start = performance.now();
  const machine = new MachineHost({
    harts: 1, ramBytes: 512 * 1024 * 1024,
    firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: guest.initrd, bootargs: guest.bootargs,
  });
  const console = new GuestConsole({
    onData: (listener) => machine.on('console', listener),
    write: (text) => machine.sendConsole(Buffer.from(text)),
  });
  try {
    await console.waitFor(PROMPT, BOOT_TIMEOUT_MS);
  } catch (err) {
    await machine.kill();
    throw err;
  }
  const seconds = (performance.now() - start) / 1000;
  const exit = await machine.kill();
  return { seconds, instructions: exit.instructions };
}

async function bootQemu(guest: Awaited<ReturnType<typeof ensureDebianGuest>>): Promise<BootSample> {
  const start = performance.now();
  const child = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-bios', guest.firmware,
    '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guest.bootargs,
  ], { stdio: 'pipe' });
  const console = new GuestConsole({ onData: (l) => child.stdout.on('data', l), write: (t) => child.stdin.write(t) });
  try {
    await console.waitFor(PROMPT, BOOT_TIMEOUT_MS);
    return { seconds: (performance.now() - start) / 1000 };
  } finally {
    child.kill('SIGKILL');
  }
}

async function benchBoot(): Promise<void> {
  const guest = await ensureDebianGuest({});
  const hangar: BootSample[] = [];
  const qemu: BootSample[] = [];
  for (let i = 0; i < RUNS; i++) {
    qemu.push(await bootQemu(guest));
    hangar.push(await bootHangar(guest));
    console.error(`  run ${i + 1}/${RUNS}: hangar ${hangar[i]!.seconds.toFixed(2)} s, qemu ${qemu[i]!.seconds.toFixed(2)} s`);
  }
  const h = median(hangar.map((s) => s.seconds));
  const q = median(qemu.map((s) => s.seconds));
  const mips = median(hangar.map((s) => (s.instructions ?? 0) / s.seconds / 1e6));
  console.log(`engine boot-to-shell (Debian trixie, 1 vCPU, 512 MiB, median of ${RUNS}):`);
  console.log(`  hangar ${h.toFixed(2)} s   qemu-system-riscv64 ${q.toFixed(2)} s   ratio hangar/qemu ${(h / q).toFixed(2)}`);
  console.log(`  hangar guest instructions per second: ${mips.toFixed(1)} M`);
}

async function benchContainers(): Promise<void> {
  const runs = Math.max(RUNS, 9);
  const result = await benchContainerStartup({ runs });
  console.log(`containers create+start+exit of busybox true (median of ${runs}):`);
  console.log(`  hangar ${result.hangarMedianMs.toFixed(1)} ms   runc run ${result.runcMedianMs.toFixed(1)} ms   ratio hangar/runc ${result.ratio.toFixed(2)}`);
}

// `npm run bench` runs every section; `npm run bench -- containers` runs the ones named.
const sections: Record<string, () => Promise<void>> = { engine: benchBoot, containers: benchContainers };
const chosen = process.argv.slice(2);
for (const name of chosen) if (!sections[name]) throw new Error(`unknown bench section "${name}" (${Object.keys(sections).join(', ')})`);
for (const [name, section] of Object.entries(sections)) {
  if (chosen.length === 0 || chosen.includes(name)) await section();
}
