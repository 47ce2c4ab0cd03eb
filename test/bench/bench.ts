// `npm run bench`: Hangar measured side by side with its peers, as ratios, medians of several
// runs (the machine is shared and noisy). Sections: engine boot (peer: Debian's
// qemu-system-riscv64), containers (peer: runc run of the same bundle).
import { spawn } from 'node:child_process';
import { GuestConsole } from '../support/guest-console.ts';
import { MachineHost } from '../../engine/vcpu/machine-host.ts';
import { ensureDebianGuest } from '../../engine/guests/debian.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PROMPT = /# (\x1b\[6n)?$/;
const BOOT_TIMEOUT_MS = 300_000;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

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

await benchBoot();
