// `hangar run`: boot a machine with its serial console on this terminal, like
// `qemu-system-riscv64 -M virt -nographic`. Ctrl-A X quits; Ctrl-A Ctrl-A types a Ctrl-A.
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, parseSize } from '../args.ts';
import { EXIT, STATUS_OF, UsageError } from '../errors.ts';
import { MachineHost } from '../../vcpu/machine-host.ts';
import { MAX_RAM_MIB, MAX_HARTS } from '../../cpu/layout.ts';
import { checkBootImages } from '../../machine/boot.ts';
import { closeDisks, openDisks } from '../../machine/disks.ts';
import { MAX_DISKS } from '../../machine/virt.ts';
import { DiskError } from '../../storage/index.ts';
import { ensureDebianGuest } from '../../guests/debian.ts';
import type { MachineConfig, NicConfig } from '../../machine/machine.ts';
import type { DiskConfig } from '../../machine/disks.ts';

export const summary = 'boot a machine with its serial console on this terminal';

const USAGE = `usage: hangar run (--guest debian | --kernel FILE [--initrd FILE] [--firmware FILE])
                  [--append "ARGS"] [--memory SIZE] [--cpus N]
                  [--disk FILE[,readonly][,serial=S][,backing-root=DIR]...]... [--net nat|none]...
  --disk  a raw or qcow2 image (hangar disk create) as the guest's /dev/vda, then vdb, ...;
          its backing files must lie in FILE's folder, or in a backing-root=DIR given
  --net   a network card (eth0, eth1, ...): nat (the default, as QEMU's user-mode network) gives
          the guest 10.0.2.15 by DHCP behind a NAT to the host's network (the host's own
          loopback is closed to it); none: no network card`;

const CTRL_A = 0x01;

export async function run(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, {
    guest: { type: 'string' },
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    firmware: { type: 'string' },
    append: { type: 'string' },
    memory: { type: 'string' },
    cpus: { type: 'string' },
    disk: { type: 'string', multiple: true },
    net: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.help) { console.log(USAGE); return EXIT.ok; }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\n${USAGE}`);

  const ramBytes = parseSize(String(options.memory ?? '512M'), '--memory');
  if (ramBytes <= 0 || ramBytes > MAX_RAM_MIB * 1024 * 1024) {
    throw new UsageError(`--memory ${options.memory}: must be more than 0 and at most ${MAX_RAM_MIB / 1024} GiB`);
  }
  if (ramBytes % (1024 * 1024) !== 0) throw new UsageError(`--memory ${options.memory}: must be a whole number of MiB`);
  const harts = Number(options.cpus ?? 1);
  if (!Number.isInteger(harts) || harts < 1 || harts > MAX_HARTS) {
    throw new UsageError(`--cpus ${options.cpus}: must be a whole number from 1 to ${MAX_HARTS}`);
  }

  const disks = ((options.disk ?? []) as string[]).map(parseDiskOption);
  const nics = parseNetOptions((options.net ?? []) as string[]);
  if (disks.length + nics.length > MAX_DISKS) throw new UsageError(`--disk, --net: at most ${MAX_DISKS} disks and network cards together`);
  checkDisks(disks);

  let config: MachineConfig;
  if (options.guest !== undefined) {
    if (options.guest !== 'debian') throw new UsageError(`--guest ${options.guest}: the only guest is "debian"`);
    if (options.kernel || options.initrd) throw new UsageError('--guest and --kernel/--initrd exclude each other');
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const guest = await ensureDebianGuest({ signal: abort.signal, onProgress: progressLine });
    process.off('SIGINT', onSigint);
    config = {
      harts, ramBytes,
      firmwarePath: String(options.firmware ?? guest.firmware),
      kernelPath: guest.kernel,
      initrdPath: guest.initrd,
      bootargs: String(options.append ?? guest.bootargs),
      disks,
      nics,
    };
  } else {
    if (!options.kernel) throw new UsageError(`--kernel FILE or --guest debian is required\n${USAGE}`);
    if (!options.firmware) throw new UsageError('--firmware FILE is required with --kernel (OpenSBI fw_dynamic.bin; `hangar guest fetch` downloads Debian\'s)');
    config = {
      harts, ramBytes,
      firmwarePath: String(options.firmware),
      kernelPath: String(options.kernel),
      initrdPath: options.initrd === undefined ? undefined : String(options.initrd),
      bootargs: String(options.append ?? 'console=ttyS0'),
      disks,
      nics,
    };
  }
  for (const [what, path] of [['firmware', config.firmwarePath], ['kernel', config.kernelPath], ['initrd', config.initrdPath]] as const) {
    if (path === undefined) continue;
    let size: number;
    try { size = statSync(path).size; } catch { throw new UsageError(`${what} ${path}: no such file`); }
    if (size === 0) throw new UsageError(`${what} ${path}: file is empty`);
  }
  checkBootImages(config);
  return attachConsole(new MachineHost(config));
}

/** The --net options of `run` and `vm create`: none given is one NAT NIC, as QEMU gives a user-mode one by default. */
export function netOptionKinds(values: string[]): 'nat'[] {
  if (values.length === 0) return ['nat'];
  if (values.includes('none')) {
    if (values.length > 1) throw new UsageError('--net none: no other --net goes with it');
    return [];
  }
  return values.map((value) => {
    if (value.startsWith('internal:')) throw new UsageError(`--net ${value}: internal networks between machines are not built yet; use nat or none`);
    if (value !== 'nat') throw new UsageError(`--net ${value}: use nat or none`);
    return 'nat';
  });
}

/** The NICs of `hangar run`, with QEMU's MACs: 52:54:00:12:34:56, then :57, ... */
function parseNetOptions(values: string[]): NicConfig[] {
  return netOptionKinds(values).map((kind, i) => ({ kind, mac: `52:54:00:12:34:${(0x56 + i).toString(16)}` }));
}

/**
 * FILE[,readonly][,serial=S][,backing-root=DIR]... An image named here comes from anywhere (a
 * download): its backing chain is confined to its own folder, and to each backing-root given.
 */
function parseDiskOption(text: string): DiskConfig {
  const [path = '', ...flags] = text.split(',');
  if (!path) throw new UsageError(`--disk "${text}": no file named (--disk FILE[,readonly][,serial=S][,backing-root=DIR])`);
  const backingRoots = [dirname(resolve(path))];
  const disk: DiskConfig = { path, readOnly: false, backingRoots };
  for (const flag of flags) {
    if (flag === 'readonly') disk.readOnly = true;
    else if (flag.startsWith('serial=')) disk.serial = flag.slice('serial='.length);
    else if (flag.startsWith('backing-root=') && flag.length > 'backing-root='.length) backingRoots.push(resolve(flag.slice('backing-root='.length)));
    else throw new UsageError(`--disk ${text}: unknown setting "${flag}" (readonly, serial=S, backing-root=DIR)`);
  }
  // The serial reaches the guest as virtio-blk's 20-byte device ID.
  if (disk.serial !== undefined && !/^[\x21-\x7e]{1,20}$/.test(disk.serial)) {
    throw new UsageError(`--disk ${text}: serial "${disk.serial}" must be 1 to 20 printable ASCII characters`);
  }
  return disk;
}

/**
 * Opens each disk as the machine will (so a missing, damaged or unsupported image is refused
 * here, naming the file), then closes it again; the same file twice would have two writers.
 */
function checkDisks(disks: DiskConfig[]): void {
  const seen = new Map<string, string>();
  for (const { path } of disks) {
    let real: string;
    try { real = realpathSync(path); } catch { throw new UsageError(`disk ${path}: no such file`); }
    const earlier = seen.get(real);
    if (earlier !== undefined) throw new UsageError(`disk ${path}: the same image as ${earlier}; a disk can be attached once`);
    seen.set(real, path);
  }
  try {
    closeDisks(openDisks(disks));
  } catch (err) {
    if (err instanceof DiskError) throw new UsageError(`disk ${err.message}`);
    throw err;
  }
}

function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

/** Connects the terminal to the machine's console until it ends; returns the exit status. */
async function attachConsole(machine: MachineHost): Promise<number> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  let escape = false;
  const onInput = (chunk: Buffer) => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (escape) {
        escape = false;
        if (byte === 0x78 || byte === 0x58) { void machine.kill(); return; } // Ctrl-A X
        if (byte === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (byte === CTRL_A) escape = true;
      else out.push(byte);
    }
    if (out.length === 0) return;
    stdin.pause(); // until the console has taken it: a paste is read as fast as the guest reads
    machine.sendConsole(Uint8Array.from(out)).then(() => stdin.resume(), () => {}); // refused: the machine stopped
  };
  const onSigint = () => void machine.kill();
  machine.on('console', (data) => process.stdout.write(data));
  stdin.on('data', onInput);
  process.on('SIGINT', onSigint);
  const exit = await machine.exited;
  stdin.off('data', onInput);
  process.off('SIGINT', onSigint);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  if (exit.reason === 'error') {
    console.error(`\nhangar run: ${exit.message}`);
    return STATUS_OF[exit.error?.code ?? 'failed'];
  }
  return exit.status;
}
