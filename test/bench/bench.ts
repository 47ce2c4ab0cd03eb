// `npm run bench`: Hangar measured side by side with its peers, as ratios, medians of several
// runs (the machine is shared and noisy). Sections: engine boot and CPU-bound work timed in the
// guest (peer: Debian's qemu-system-riscv64), containers (peer: runc run of the same bundle), disk throughput in the
// guest (peer: qemu-system-riscv64 on the same images), smp (two processes on two vCPUs against
// one after the other, and console throughput), vms (restore of a live snapshot to the first
// vm exec, and the state file's size: test/bench/vms.ts). Name sections to run only those:
// `npm run bench -- containers`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestConsole, SHELL_PROMPT } from '../support/guest-console.ts';
import { startGuestMachine } from '../support/guest-machine.ts';
import { ensureDebianGuest } from '../../engine/guests/debian.ts';
import { benchContainerStartup, median } from './containers.ts';
import { createQcow2, createRaw, type DiskFormat } from '../../engine/storage/index.ts';
import { benchVms } from './vms.ts';
import type { HartProfile } from '../../engine/cpu/cpu.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BOOT_TIMEOUT_MS = 300_000;

type Guest = Awaited<ReturnType<typeof ensureDebianGuest>>;

/** A booting or booted guest whose serial console is `console`; `stop` ends it. */
interface GuestSession {
  console: GuestConsole;
  stop(): Promise<unknown>;
  instructions?: () => number | undefined;
  /** Hangar only: the harts' profile counters now (engine/cpu/layout.ts: PROFILE_*). */
  profiles?: () => HartProfile[];
}

interface SessionOptions {
  harts: number;
  memoryMiB: number;
  bootargs?: string;
  disk?: { path: string; format: DiskFormat };
}

function hangarSession(guest: Guest, options: SessionOptions): GuestSession {
  const { machine, console } = startGuestMachine({
    harts: options.harts, ramBytes: options.memoryMiB * 1024 * 1024,
    firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: guest.initrd, bootargs: options.bootargs ?? guest.bootargs,
    disks: options.disk ? [{ path: options.disk.path, readOnly: false }] : [],
  });
  let instructions: number | undefined;
  return {
    console, stop: async () => { instructions = (await machine.kill()).instructions; }, instructions: () => instructions,
    profiles: () => machine.hartProfiles(),
  };
}

/** The peer: Debian's qemu-system-riscv64 on the same board, kernel, initramfs (and image), hvc0 included. */
function qemuSession(guest: Guest, options: SessionOptions): GuestSession {
  const child = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', `${options.memoryMiB}M`, '-smp', String(options.harts), '-nographic', '-bios', guest.firmware,
    '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', options.bootargs ?? guest.bootargs,
    '-chardev', 'null,id=hvc', '-device', 'virtio-serial-device', '-device', 'virtconsole,chardev=hvc',
    ...(options.disk ? ['-drive', `file=${options.disk.path},format=${options.disk.format},if=none,id=d`, '-device', 'virtio-blk-device,drive=d'] : []),
  ], { stdio: 'pipe' });
  const console = new GuestConsole({ onData: (l) => child.stdout.on('data', l), write: (t) => child.stdin.write(t) });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { console, stop: () => { child.kill('SIGKILL'); return exited; } };
}

const engines = { hangar: hangarSession, qemu: qemuSession } as const;

interface BootSample { seconds: number; instructions?: number }

async function timeBoot(session: GuestSession): Promise<BootSample> {
  const start = performance.now();
  try {
    await session.console.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
  } finally {
    await session.stop();
  }
  return { seconds: (performance.now() - start) / 1000, instructions: session.instructions?.() };
}

async function benchBoot(): Promise<void> {
  const guest = await ensureDebianGuest({});
  const hangar: BootSample[] = [];
  const qemu: BootSample[] = [];
  for (let i = 0; i < RUNS; i++) {
    qemu.push(await timeBoot(qemuSession(guest, { harts: 1, memoryMiB: 512 })));
    hangar.push(await timeBoot(hangarSession(guest, { harts: 1, memoryMiB: 512 })));
    console.error(`  run ${i + 1}/${RUNS}: hangar ${hangar[i]!.seconds.toFixed(2)} s, qemu ${qemu[i]!.seconds.toFixed(2)} s`);
  }
  const h = median(hangar.map((s) => s.seconds));
  const q = median(qemu.map((s) => s.seconds));
  const mips = median(hangar.map((s) => (s.instructions ?? 0) / s.seconds / 1e6));
  console.log(`engine boot-to-shell (Debian trixie, 1 vCPU, 512 MiB, median of ${RUNS}):`);
  console.log(`  hangar ${h.toFixed(2)} s   qemu-system-riscv64 ${q.toFixed(2)} s   ratio hangar/qemu ${(h / q).toFixed(2)}`);
  console.log(`  hangar guest instructions per second: ${mips.toFixed(1)} M`);
  await benchCpuWork(guest);
}

/** 4 MiB of text made in the guest by doubling (busybox seq writes a syscall per line: slow). */
const WORK_FILE = 'seq 1 1000 > /tmp/w; while [ $(wc -c < /tmp/w) -lt 4194304 ]; do cat /tmp/w /tmp/w > /tmp/x; mv /tmp/x /tmp/w; done';
/** CPU-bound commands (busybox applets), each timed in the guest by `time`. */
const CPU_WORK: ReadonlyArray<readonly [string, string]> = [
  ['sha256sum of 4 MiB', 'sha256sum /tmp/w'],
  ['gzip -9 of 4 MiB', `sh -c 'gzip -9 -c /tmp/w > /dev/null'`],
  ['bc: pi to 300 digits', `sh -c 'echo "scale=300; 4*a(1)" | bc -l'`],
  ['awk: a loop of 300,000', `awk 'BEGIN { s = 0; for (i = 0; i < 300000; i++) s += i % 7; print s }'`],
  ['sh: 200 forks of busybox applets', `sh -c 'i=0; while [ $i -lt 200 ]; do echo $i | wc -c > /dev/null; i=$((i + 1)); done'`],
];

interface WorkSample { seconds: number[]; instructions: number[]; translated: number[] }

const executed = (profiles: HartProfile[]): { all: number; translated: number } => ({
  all: profiles.reduce((sum, p) => sum + p.interpreted + p.translated, 0),
  translated: profiles.reduce((sum, p) => sum + p.translated, 0),
});

/** Each CPU_WORK command RUNS times in one boot; with Hangar, the guest instructions each run took. */
async function cpuWorkSamples(session: GuestSession): Promise<WorkSample[]> {
  const samples = CPU_WORK.map((): WorkSample => ({ seconds: [], instructions: [], translated: [] }));
  try {
    await session.console.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await session.console.run(WORK_FILE, 600_000);
    for (let i = 0; i < RUNS; i++) {
      for (const [index, [, command]] of CPU_WORK.entries()) {
        const before = session.profiles ? executed(session.profiles()) : undefined;
        samples[index]!.seconds.push(await timedInGuest(session.console, `${command} > /dev/null`));
        if (before && session.profiles) {
          const after = executed(session.profiles());
          samples[index]!.instructions.push(after.all - before.all);
          samples[index]!.translated.push(after.translated - before.translated);
        }
      }
    }
  } finally {
    await session.stop();
  }
  return samples;
}

/**
 * CPU-bound work in the guest, side by side: each command's time in the guest (median of RUNS,
 * all in one boot per engine) as a ratio, and on Hangar the guest instructions per second and
 * the share of them run as translated code.
 */
async function benchCpuWork(guest: Guest): Promise<void> {
  const qemu = await cpuWorkSamples(qemuSession(guest, { harts: 1, memoryMiB: 512 }));
  const hangar = await cpuWorkSamples(hangarSession(guest, { harts: 1, memoryMiB: 512 }));
  console.log(`engine CPU-bound work in the guest (1 vCPU, busybox applets, median of ${RUNS} in one boot):`);
  for (const [index, [name]] of CPU_WORK.entries()) {
    const h = hangar[index]!;
    const q = median(qemu[index]!.seconds);
    const seconds = median(h.seconds);
    const instructions = median(h.instructions);
    const share = h.translated.reduce((a, b) => a + b, 0) / Math.max(1, h.instructions.reduce((a, b) => a + b, 0));
    console.error(`  ${name}: hangar ${h.seconds.map((s) => s.toFixed(2)).join(' ')} s, qemu ${qemu[index]!.seconds.map((s) => s.toFixed(2)).join(' ')} s`);
    console.log(`  ${name.padEnd(34)} hangar ${seconds.toFixed(2)} s   qemu-system-riscv64 ${q.toFixed(2)} s   ratio hangar/qemu ${(seconds / q).toFixed(2)}`
      + `   hangar ${(instructions / seconds / 1e6).toFixed(0)} M instructions/s, ${(100 * share).toFixed(1)}% translated`);
  }
}

async function benchContainers(): Promise<void> {
  const runs = Math.max(RUNS, 9);
  const result = await benchContainerStartup({ runs });
  console.log(`containers create+start+exit of busybox true (median of ${runs}):`);
  console.log(`  hangar ${result.hangarMedianMs.toFixed(1)} ms   runc run ${result.runcMedianMs.toFixed(1)} ms   ratio hangar/runc ${result.ratio.toFixed(2)}`);
}

const DISK_BENCH_MIB = 256;
/** Only the virtio-blk driver, no kernel messages: the disk bench needs no file system. */
const DISK_BOOTARGS = 'console=ttyS0 quiet hangar.modules=virtio_mmio,virtio_blk';

/** Runs `command` under busybox `time` in the guest; returns its real (wall) seconds. */
async function timedInGuest(console: GuestConsole, command: string): Promise<number> {
  const { output, status } = await console.run(`time ${command}`, 600_000);
  const real = /real\s+(\d+)m\s*([\d.]+)s/.exec(output);
  if (status !== 0 || !real) throw new Error(`${command} failed in the guest:\n${output}`);
  return Number(real[1]) * 60 + Number(real[2]);
}

/** MiB/s of sequential direct writes then reads of the whole 256 MiB, RUNS times, in one boot. */
async function ddThroughput(session: GuestSession): Promise<{ write: number[]; read: number[] }> {
  const write: number[] = [];
  const read: number[] = [];
  try {
    await session.console.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    for (let i = 0; i < RUNS; i++) {
      write.push(DISK_BENCH_MIB / await timedInGuest(session.console, `dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_BENCH_MIB} oflag=direct`));
      read.push(DISK_BENCH_MIB / await timedInGuest(session.console, `dd if=/dev/vda of=/dev/null bs=1M count=${DISK_BENCH_MIB} iflag=direct`));
    }
  } finally {
    await session.stop();
  }
  return { write, read };
}

async function benchDisk(): Promise<void> {
  const guest = await ensureDebianGuest({});
  const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-disk-'));
  const size = 2 * DISK_BENCH_MIB * 1024 * 1024;
  const lines: string[] = [];
  try {
    for (const format of ['raw', 'qcow2'] as const) {
      // Each engine gets a fresh image: its first write allocates, as on a new disk.
      const image = (engine: string) => {
        const path = join(dir, `${engine}.${format}`);
        if (format === 'raw') createRaw(path, size); else createQcow2(path, size);
        return path;
      };
      const session = (engine: keyof typeof engines) =>
        engines[engine](guest, { harts: 1, memoryMiB: 256, bootargs: DISK_BOOTARGS, disk: { path: image(engine), format } });
      const qemu = await ddThroughput(session('qemu'));
      const hangar = await ddThroughput(session('hangar'));
      for (const direction of ['write', 'read'] as const) {
        const h = median(hangar[direction]);
        const q = median(qemu[direction]);
        console.error(`  ${format} ${direction}: hangar ${hangar[direction].map((v) => v.toFixed(0)).join(' ')}, qemu ${qemu[direction].map((v) => v.toFixed(0)).join(' ')} MiB/s`);
        lines.push(`  ${format.padEnd(5)} ${direction.padEnd(5)}  hangar ${h.toFixed(1)} MiB/s   qemu-system-riscv64 ${q.toFixed(1)} MiB/s   ratio hangar/qemu ${(h / q).toFixed(2)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`disk sequential throughput in the guest (dd ${DISK_BENCH_MIB} MiB, bs=1M, O_DIRECT, virtio-blk, 1 vCPU; median of ${RUNS}):`);
  for (const line of lines) console.log(line);
}

const SMP_FILE_MIB = 32;
const CONSOLE_KIB = 256;

/** Seconds for the two sha256sums one after the other and together; KiB/s written to ttyS0 and hvc0. */
interface SmpSamples { serial: number[]; parallel: number[]; tty: number[]; hvc: number[] }

async function smpSamples(session: GuestSession): Promise<SmpSamples> {
  const samples: SmpSamples = { serial: [], parallel: [], tty: [], hvc: [] };
  const shell = session.console;
  const write = (device: string) => `sh -c 'dd if=/dev/zero bs=1k count=${CONSOLE_KIB} 2>/dev/null | tr "\\0" x > ${device}'`;
  try {
    await shell.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await shell.run(`dd if=/dev/zero of=/tmp/a bs=1M count=${SMP_FILE_MIB} 2>/dev/null && cp /tmp/a /tmp/b`, 600_000);
    for (let i = 0; i < RUNS; i++) {
      samples.serial.push(await timedInGuest(shell, `sh -c 'sha256sum /tmp/a; sha256sum /tmp/b' > /dev/null`));
      samples.parallel.push(await timedInGuest(shell, `sh -c 'sha256sum /tmp/a & sha256sum /tmp/b & wait' > /dev/null`));
      samples.tty.push(CONSOLE_KIB / await timedInGuest(shell, write('/dev/ttyS0')));
      samples.hvc.push(CONSOLE_KIB / await timedInGuest(shell, write('/dev/hvc0')));
    }
  } finally {
    await session.stop();
  }
  return samples;
}

/**
 * Multi-core: two CPU-bound processes (sha256sum of a file each) on a 2-vCPU guest, together and
 * one after the other, timed in the same boot; and how fast the guest can write to its serial
 * console (ttyS0: the UART, a device-thread MMIO round trip per register access) and to hvc0
 * (virtio-console: a notify per buffer). qemu-system-riscv64 -smp 2 runs the same as the peer.
 */
async function benchSmp(): Promise<void> {
  const guest = await ensureDebianGuest({});
  const lines: string[] = [];
  const results: Partial<Record<keyof typeof engines, SmpSamples>> = {};
  for (const engine of ['qemu', 'hangar'] as const) {
    const samples = await smpSamples(engines[engine](guest, { harts: 2, memoryMiB: 512 }));
    results[engine] = samples;
    const s = median(samples.serial);
    const p = median(samples.parallel);
    console.error(`  ${engine}: one after the other ${samples.serial.map((v) => v.toFixed(2)).join(' ')} s, together ${samples.parallel.map((v) => v.toFixed(2)).join(' ')} s`);
    lines.push(`  ${engine.padEnd(6)} one after the other ${s.toFixed(2)} s   together ${p.toFixed(2)} s   ratio together/one-after-the-other ${(p / s).toFixed(2)}`);
  }
  console.log(`smp: two sha256sum of ${SMP_FILE_MIB} MiB on a 2-vCPU guest (median of ${RUNS} in one boot, timed in the guest; bar for hangar: at most 0.6):`);
  for (const line of lines) console.log(line);
  console.log(`smp: console output from a 2-vCPU guest (${CONSOLE_KIB} KiB, median of ${RUNS}):`);
  for (const device of ['tty', 'hvc'] as const) {
    const h = median(results.hangar![device]);
    const q = median(results.qemu![device]);
    console.log(`  ${device === 'tty' ? 'ttyS0 (UART)          ' : 'hvc0 (virtio-console) '} hangar ${h.toFixed(1)} KiB/s   qemu-system-riscv64 ${q.toFixed(1)} KiB/s   ratio hangar/qemu ${(h / q).toFixed(2)}`);
  }
}

// `npm run bench` runs every section; `npm run bench -- containers` runs the ones named.
const sections: Record<string, () => Promise<void>> = { engine: benchBoot, containers: benchContainers, disk: benchDisk, smp: benchSmp, vms: benchVms };
const chosen = process.argv.slice(2);
for (const name of chosen) if (!sections[name]) throw new Error(`unknown bench section "${name}" (${Object.keys(sections).join(', ')})`);
for (const [name, section] of Object.entries(sections)) {
  if (chosen.length === 0 || chosen.includes(name)) await section();
}
