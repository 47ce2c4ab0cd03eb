// Containers on the host kernel through runc. Each container is a folder under ROOT/containers:
//   container.json  what it was created with (image, spec, process plan)   — written once
//   bundle/         the OCI runtime bundle (config.json, rootfs: overlay mount point or copy)
//   upper/ work/    the overlay's writable layer (root only)
//   run.json        the current run: monitor pid, start time                — written at start
//   exit.json       how the run ended (status, OOM kill)                    — written by the monitor
//   log, log.1      the bounded output log
// A detached monitor process (monitor.mjs) owns each run, so containers outlive the engine;
// status is always derived from these files, the monitor's liveness and runc's own state, so
// after a restart every container is found again or marked exited — never lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import * as pty from 'node-pty';
import { planProcess, runtimeConfig, type ContainerSpec, type ProcessPlan } from './bundle.ts';
import { ConflictError, ContainerError, NotFoundError, StateError } from './errors.ts';
import { assertLinuxHost, mountOverlay, Runc, runTool, unmount } from './host.ts';
import type { OperationOptions } from './operation.ts';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { CONTAINER_CPUS, CONTAINER_MEMORY_BYTES, CONTAINER_NAME, CONTAINER_PIDS, nameProblem, rangeProblem } from '../common/limits.ts';
import { withLock } from '../common/lock.ts';
import { RootfsCache } from './rootfs.ts';
import { ImageStore, type ResolvedImage } from './store.ts';
import type { ContainerStatus, ContainerInfo, ContainerStats } from './types.ts';
export type { ContainerStatus, ContainerInfo, ContainerStats } from './types.ts';

const MONITOR = fileURLToPath(new URL('./monitor.mjs', import.meta.url));

/** overlay: the image's root filesystem under a writable layer (needs root); copy: a private copy of it. */
export type RootfsMode = 'overlay' | 'copy';

/** A process in a pseudo-terminal: a container started with tty, or `exec -it`. */
export interface Terminal {
  onData(listener: (data: Buffer) => void): void;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  /** The process's exit status. */
  readonly exited: Promise<number>;
  /** Stops listening; a container goes on running (its output still reaches the log). */
  detach(): void;
}

export type OutputListener = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

interface ContainerRecord {
  version: 1;
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  /** The unpacked image root filesystem (rootfs cache chain) under the container's layer. */
  chain: string;
  created: string;
  spec: ContainerSpec;
  plan: ProcessPlan;
  rootfsMode: RootfsMode;
  /** The image's StopSignal: what stop sends first. */
  stopSignal: string;
}

interface RunRecord {
  monitorPid: number;
  /** The monitor's start time in clock ticks since boot (/proc/PID/stat): tells it from a later process with its pid. */
  monitorStart?: string;
  startedAt: string;
}
interface ExitRecord { exitCode?: number; oomKilled: boolean; finishedAt: string; lost?: boolean }

export interface CreateOptions extends ContainerSpec {
  name?: string;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ContainerError(`${path}: unreadable (${(err as Error).message})`);
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2));
}

/** The fields of /proc/PID/stat after the command name: [0] is the state, [19] the start time in ticks since boot. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether the run's monitor is still alive (not a zombie, nor a later process given its pid). */
function monitorAlive(run: RunRecord): boolean {
  const fields = procStat(run.monitorPid);
  return fields !== undefined && fields[0] !== 'Z' && (run.monitorStart === undefined || fields[19] === run.monitorStart);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ContainerRuntime {
  readonly store: ImageStore;
  readonly rootfs: RootfsCache;
  private readonly runc: Runc;
  private readonly containersDir: string;
  private readonly logLimit: number;
  private readonly rootfsMode: RootfsMode;
  /** Monitors started by this process: their exit is an event rather than a poll. */
  private readonly monitors = new Map<string, ChildProcess>();

  /**
   * @param root the containers root (see defaultContainersRoot)
   * @param options.logLimit bounds each of a container's two log files
   * @param options.rootfs how new containers get their root filesystem (default: overlay as root, copy otherwise)
   */
  constructor(readonly root: string, options: { logLimit?: number; rootfs?: RootfsMode } = {}) {
    this.store = new ImageStore(root);
    this.rootfs = new RootfsCache(this.store, root);
    this.runc = new Runc(join(root, 'runc'));
    this.containersDir = join(root, 'containers');
    this.logLimit = options.logLimit ?? 1 << 20;
    this.rootfsMode = options.rootfs ?? (process.getuid?.() === 0 ? 'overlay' : 'copy');
  }

  async init(): Promise<void> {
    assertLinuxHost();
    await this.store.init();
    await fs.mkdir(this.containersDir, { recursive: true });
  }

  private dirOf(id: string): string {
    return join(this.containersDir, id);
  }

  private async records(): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const id of await fs.readdir(this.containersDir).catch(() => [] as string[])) {
      const record = await readJson<ContainerRecord>(join(this.dirOf(id), 'container.json'));
      if (record) out.push(record);
    }
    return out;
  }

  /** Finds a container by name, full id, or unique id prefix. */
  private async find(ref: string): Promise<ContainerRecord> {
    const all = await this.records();
    const byName = all.find((r) => r.name === ref);
    if (byName) return byName;
    const byId = all.filter((r) => r.id.startsWith(ref));
    if (ref.length >= 4 && byId.length === 1) return byId[0]!;
    if (byId.length > 1 && ref.length >= 4) throw new ConflictError(`container "${ref}" is ambiguous (matches ${byId.length} ids)`);
    throw new NotFoundError(`no container named "${ref}" (see hangar ct ls)`);
  }

  /** Creates a container from a stored image (by name or digest), or from an image being built. */
  async create(image: string | ResolvedImage, options: CreateOptions = {}, progress: OperationOptions = {}): Promise<ContainerInfo> {
    await this.init();
    const { name: requestedName, ...spec } = options;
    checkSpec(spec);
    const id = randomBytes(32).toString('hex');
    const name = requestedName ?? `ct-${id.slice(0, 8)}`;
    const nameWrong = nameProblem(CONTAINER_NAME, name);
    if (nameWrong) throw new ContainerError(`container name "${name}": ${nameWrong}`);
    if ((await this.records()).some((r) => r.name === name)) throw new ConflictError(`a container named "${name}" already exists`);
    const resolved = typeof image === 'string' ? await this.store.resolve(image) : image;
    const { chain, path: lower } = await this.rootfs.prepare(resolved, progress);
    const plan = await planProcess(lower, resolved.config.config ?? {}, spec);
    const dir = this.dirOf(id);
    const bundle = join(dir, 'bundle');
    for (const m of spec.mounts ?? []) {
      await fs.access(m.source).catch(() => { throw new ContainerError(`bind mount source ${m.source} does not exist`); });
    }
    const rootfsMode = this.rootfsMode;
    try {
      await fs.mkdir(join(bundle, 'rootfs'), { recursive: true });
      if (rootfsMode === 'overlay') {
        await fs.mkdir(join(dir, 'upper'));
        await fs.mkdir(join(dir, 'work'));
      } else {
        await runTool('cp', ['-a', '--reflink=auto', `${lower}/.`, join(bundle, 'rootfs')]);
      }
      await writeJson(join(bundle, 'config.json'), runtimeConfig(id, plan, spec, spec.hostname ?? id.slice(0, 12)));
      const record: ContainerRecord = {
        version: 1, id, name, image: resolved.name, imageDigest: resolved.descriptor.digest, chain,
        created: new Date().toISOString(), spec, plan, rootfsMode, stopSignal: resolved.config.config?.StopSignal ?? 'SIGTERM',
      };
      // The name is checked again, and taken, under a lock shared with other hangar processes.
      await withLock(join(this.root, 'containers.lock'), async () => {
        if ((await this.records()).some((r) => r.name === name)) throw new ConflictError(`a container named "${name}" already exists`);
        await writeJson(join(dir, 'container.json'), record);
      });
      return this.info(record);
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Mounts the container's root filesystem (overlay of the image and its writable layer). */
  async mountRootfs(ref: string): Promise<string> {
    const record = await this.find(ref);
    const rootfs = join(this.dirOf(record.id), 'bundle', 'rootfs');
    if (record.rootfsMode === 'overlay') {
      const dir = this.dirOf(record.id);
      await mountOverlay(this.rootfs.pathOf(record.chain), join(dir, 'upper'), join(dir, 'work'), rootfs);
    }
    return rootfs;
  }

  /** The OCI bundle of a container (for tools that run it directly, like the benchmark's baseline). */
  async bundlePath(ref: string): Promise<string> {
    return join(this.dirOf((await this.find(ref)).id), 'bundle');
  }

  private async launch(record: ContainerRecord, stdio: 'ignore' | 'pipe', terminalSize?: { cols: number; rows: number }): Promise<ChildProcess> {
    const status = (await this.info(record)).status;
    if (status === 'running' || status === 'paused') throw new StateError(`container ${record.name} is already ${status}`);
    const dir = this.dirOf(record.id);
    await fs.rm(join(dir, 'exit.json'), { force: true });
    await fs.rm(join(dir, 'pid'), { force: true });
    const rootfs = await this.mountRootfs(record.id);
    const job = {
      dir, runcRoot: join(this.root, 'runc'), id: record.id, logLimit: this.logLimit, cgroup: `/hangar/${record.id}`,
      tty: Boolean(terminalSize), cols: terminalSize?.cols ?? 80, rows: terminalSize?.rows ?? 24,
      unmount: record.rootfsMode === 'overlay' ? rootfs : undefined,
    };
    // The monitor makes no TLS connections: without NODE_EXTRA_CA_CERTS Node starts in 23 ms, not 63.
    // Inside Electron, execPath is the app itself: ELECTRON_RUN_AS_NODE makes it plain Node.
    const { NODE_EXTRA_CA_CERTS: _unused, ...inherited } = process.env;
    const env = process.versions.electron ? { ...inherited, ELECTRON_RUN_AS_NODE: '1' } : inherited;
    const child = spawn(process.execPath, [MONITOR, JSON.stringify(job)], {
      detached: true,
      env,
      stdio: terminalSize ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', stdio, stdio],
    });
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
    this.monitors.set(record.id, child);
    child.once('exit', () => this.monitors.delete(record.id));
    const run: RunRecord = { monitorPid: child.pid!, monitorStart: procStat(child.pid!)?.[19], startedAt: new Date().toISOString() };
    await writeJson(join(dir, 'run.json'), run);
    await this.waitForStart(record, child);
    return child;
  }

  /** Resolves once runc has written the container's pid (it is running), or the run already ended. */
  private async waitForStart(record: ContainerRecord, child: ChildProcess): Promise<void> {
    const dir = this.dirOf(record.id);
    let ended = false;
    child.once('exit', () => { ended = true; });
    for (let waited = 0; !ended; waited += 5) {
      if (await fs.access(join(dir, 'pid')).then(() => true, () => false)) return;
      if (waited > 30_000) throw new ContainerError(`container ${record.name} did not start within 30 s`);
      await sleep(5);
    }
  }

  /** Starts a container created without tty; onOutput receives its output while this process runs. */
  async start(ref: string, options: { onOutput?: OutputListener } = {}): Promise<ContainerInfo> {
    const record = await this.find(ref);
    if (record.spec.tty) throw new StateError(`container ${record.name} has a terminal: start it with startTerminal (hangar ct start -it)`);
    const child = await this.launch(record, options.onOutput ? 'pipe' : 'ignore');
    if (options.onOutput) {
      child.stdout!.on('data', (chunk: Buffer) => options.onOutput!('stdout', chunk));
      child.stderr!.on('data', (chunk: Buffer) => options.onOutput!('stderr', chunk));
    } else {
      child.unref();
    }
    return this.info(record);
  }

  /** Starts a container created with tty, attached to a pseudo-terminal of the given size. */
  async startTerminal(ref: string, size: { cols: number; rows: number }): Promise<Terminal> {
    const record = await this.find(ref);
    if (!record.spec.tty) throw new StateError(`container ${record.name} was created without a terminal (-it)`);
    const child = await this.launch(record, 'pipe', size);
    const control = child.stdio[3] as Writable;
    // Waiting holds this process open, so it starts only when someone asks (not after a detach).
    let exited: Promise<number> | undefined;
    const waitForExit = () => this.wait(record.id).then((info) => info.exitCode ?? 255);
    return {
      onData: (listener) => child.stdout!.on('data', listener),
      write: (data) => child.stdin!.write(data),
      resize: (cols, rows) => control.write(`resize ${Math.floor(cols)} ${Math.floor(rows)}\n`),
      get exited() { return (exited ??= waitForExit()); },
      detach: () => {
        for (const stream of [child.stdin, child.stdout, child.stderr, control]) stream?.destroy();
        child.unref();
      },
    };
  }

  /**
   * Starts a container and leaves it running on its own; one created with a terminal gets a
   * pseudo-terminal of the given size that nobody reads (its output still reaches the log).
   */
  async startDetached(ref: string, size = { cols: 80, rows: 24 }): Promise<ContainerInfo> {
    const record = await this.find(ref);
    if (!record.spec.tty) return this.start(record.id);
    (await this.startTerminal(record.id, size)).detach();
    return this.info(record);
  }

  /** Waits until the container's current run ends, and returns its final state. */
  async wait(ref: string): Promise<ContainerInfo> {
    const record = await this.find(ref);
    const child = this.monitors.get(record.id);
    if (child && child.exitCode === null) {
      child.ref(); // a detached start unrefs its monitor; waiting must keep this process alive
      await new Promise((resolve) => child.once('exit', resolve));
    }
    for (;;) {
      const info = await this.info(record);
      if (info.status === 'exited' || info.status === 'created') return info;
      await sleep(100);
    }
  }

  async inspect(ref: string): Promise<ContainerInfo> {
    return this.info(await this.find(ref));
  }

  async list(): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    for (const record of await this.records()) out.push(await this.info(record));
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  /** The status, derived from the run files, the monitor's liveness and runc's state. */
  private async info(record: ContainerRecord): Promise<ContainerInfo> {
    const dir = this.dirOf(record.id);
    const base: ContainerInfo = {
      id: record.id, name: record.name, image: record.image, imageDigest: record.imageDigest,
      command: record.plan.args, created: record.created, status: 'created', tty: record.spec.tty ?? false,
    };
    const run = await readJson<RunRecord>(join(dir, 'run.json'));
    if (!run) return base;
    base.startedAt = run.startedAt;
    let exit = await readJson<ExitRecord>(join(dir, 'exit.json'));
    if (!exit) {
      const state = await this.runc.state(record.id);
      if (state?.status === 'paused') return { ...base, status: 'paused' };
      if (state?.status === 'running' || state?.status === 'created' || monitorAlive(run)) return { ...base, status: 'running' };
    }
    // A monitor writes exit.json before it exits: read again, now that it is known to be gone.
    exit ??= await readJson<ExitRecord>(join(dir, 'exit.json'));
    if (!exit) {
      // The monitor is gone and the container with it: record that the end was not seen.
      exit = { oomKilled: false, finishedAt: new Date().toISOString(), lost: true };
      await this.runc.run(['delete', '--force', record.id]).catch(() => {});
      await unmount(join(dir, 'bundle', 'rootfs'));
      await writeJson(join(dir, 'exit.json'), exit);
    }
    return { ...base, status: 'exited', finishedAt: exit.finishedAt, exitCode: exit.exitCode, oomKilled: exit.oomKilled, lost: exit.lost };
  }

  private async requireStatus(ref: string, allowed: ContainerStatus[], verb: string): Promise<ContainerRecord> {
    const record = await this.find(ref);
    const { status } = await this.info(record);
    if (!allowed.includes(status)) throw new StateError(`cannot ${verb} container ${record.name}: it is ${status}`);
    return record;
  }

  /** The image's stop signal (SIGTERM unless it names another), then SIGKILL after timeoutMs. */
  async stop(ref: string, timeoutMs = 10_000): Promise<ContainerInfo> {
    const record = await this.find(ref);
    let info = await this.info(record);
    if (info.status === 'created' || info.status === 'exited') return info;
    if (info.status === 'paused') await this.runc.run(['resume', record.id]);
    await this.runc.run(['kill', record.id, record.stopSignal]).catch(() => {});
    const deadline = Date.now() + timeoutMs;
    while ((info = await this.info(record)).status !== 'exited' && Date.now() < deadline) await sleep(50);
    if (info.status !== 'exited') {
      await this.runc.run(['kill', '--all', record.id, 'SIGKILL']).catch(() => {});
      info = await this.wait(record.id);
    }
    return info;
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    if (!/^(SIG)?[A-Z0-9]+$|^\d+$/.test(signal)) throw new ContainerError(`"${signal}" is not a signal name or number`);
    const record = await this.requireStatus(ref, ['running', 'paused'], 'kill');
    await this.runc.run(['kill', record.id, signal]);
  }

  /** Freezes every process of the container (cgroup freezer). */
  async pause(ref: string): Promise<void> {
    const record = await this.requireStatus(ref, ['running'], 'pause');
    await this.runc.run(['pause', record.id]);
  }

  async resume(ref: string): Promise<void> {
    const record = await this.requireStatus(ref, ['paused'], 'resume');
    await this.runc.run(['resume', record.id]);
  }

  private execArgs(record: ContainerRecord, command: string[], env: string[], tty: boolean): string[] {
    if (command.length === 0) throw new ContainerError('exec needs a command');
    const { plan } = record;
    return [
      ...this.runc.baseArgs, 'exec', ...(tty ? ['--tty'] : []), '--cwd', plan.cwd, '--user', `${plan.uid}:${plan.gid}`,
      ...[...(tty ? ['TERM=xterm'] : []), ...env].flatMap((e) => ['--env', e]), record.id, ...command,
    ];
  }

  /** Runs a command in a running container; returns its exit status. */
  async exec(ref: string, command: string[], options: { env?: string[]; onOutput?: OutputListener } = {}): Promise<number> {
    const record = await this.requireStatus(ref, ['running'], 'exec in');
    const child = spawn('runc', this.execArgs(record, command, options.env ?? [], false), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => options.onOutput?.('stdout', chunk));
    child.stderr.on('data', (chunk: Buffer) => options.onOutput?.('stderr', chunk));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0)));
    });
  }

  /** Runs a command in a running container in a pseudo-terminal. */
  async execTerminal(ref: string, command: string[], size: { cols: number; rows: number }, env: string[] = []): Promise<Terminal> {
    const record = await this.requireStatus(ref, ['running'], 'exec in');
    const term = pty.spawn('runc', this.execArgs(record, command, env, true), { name: 'xterm', cols: size.cols, rows: size.rows, env: process.env as Record<string, string> });
    const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
    return {
      onData: (listener) => term.onData((data) => listener(Buffer.from(data))),
      write: (data) => term.write(data.toString()),
      resize: (cols, rows) => term.resize(cols, rows),
      exited,
      detach: () => term.kill(),
    };
  }

  /** The container's output as kept: the rotated part, then the current log. */
  async logs(ref: string): Promise<Buffer> {
    const dir = this.dirOf((await this.find(ref)).id);
    const parts = await Promise.all(['log.1', 'log'].map((f) => fs.readFile(join(dir, f)).catch(() => Buffer.alloc(0))));
    return Buffer.concat(parts);
  }

  async stats(ref: string): Promise<ContainerStats> {
    const record = await this.requireStatus(ref, ['running', 'paused'], 'read stats of');
    const { stdout } = await this.runc.run(['events', '--stats', record.id]);
    const data = (JSON.parse(stdout) as { data: RuncStats }).data;
    return {
      cpuSeconds: (data.cpu?.usage?.total ?? 0) / 1e9,
      memoryBytes: data.memory?.usage?.usage ?? 0,
      memoryLimitBytes: record.spec.memory,
      pids: data.pids?.current ?? 0,
      pidsLimit: record.spec.pids,
    };
  }

  /** Deletes a container; a running one only with force (it is killed first). */
  async remove(ref: string, options: { force?: boolean } = {}): Promise<void> {
    const record = await this.find(ref);
    const { status } = await this.info(record);
    if (status === 'running' || status === 'paused') {
      if (!options.force) throw new StateError(`container ${record.name} is ${status}: stop it first, or remove with force`);
      if (status === 'paused') await this.runc.run(['resume', record.id]).catch(() => {});
      await this.runc.run(['kill', '--all', record.id, 'SIGKILL']).catch(() => {});
      await this.wait(record.id);
    }
    const dir = this.dirOf(record.id);
    await unmount(join(dir, 'bundle', 'rootfs'));
    await fs.rm(dir, { recursive: true, force: true });
    await this.pruneRootfs();
  }

  /** Deletes unpacked image root filesystems that no stored image and no container uses. */
  async pruneRootfs(): Promise<void> {
    await this.rootfs.prune((await this.records()).map((r) => r.chain));
  }

  /** The container's record, for the snapshot service. */
  async locate(ref: string): Promise<{ id: string; name: string; dir: string; rootfsMode: RootfsMode; chain: string; imageDigest: string; image: string; status: ContainerStatus }> {
    const record = await this.find(ref);
    const { status } = await this.info(record);
    return { id: record.id, name: record.name, dir: this.dirOf(record.id), rootfsMode: record.rootfsMode, chain: record.chain, imageDigest: record.imageDigest, image: record.image, status };
  }
}

interface RuncStats {
  cpu?: { usage?: { total?: number } };
  memory?: { usage?: { usage?: number } };
  pids?: { current?: number };
}

export function checkSpec(spec: ContainerSpec): void {
  for (const [what, value, range] of [['memory limit', spec.memory, CONTAINER_MEMORY_BYTES], ['cpus', spec.cpus, CONTAINER_CPUS], ['pids', spec.pids, CONTAINER_PIDS]] as const) {
    const problem = value === undefined ? undefined : rangeProblem(range, value);
    if (problem) throw new ContainerError(`${what} ${value}: ${problem}`);
  }
  const hostCpus = cpus().length;
  if (spec.cpus !== undefined && spec.cpus > hostCpus) throw new ContainerError(`cpus ${spec.cpus}: must be at most ${hostCpus} (this host's CPUs)`);
  for (const m of spec.mounts ?? []) {
    if (!m.source.startsWith('/') || !m.destination.startsWith('/')) throw new ContainerError(`bind mount ${m.source}:${m.destination}: both paths must be absolute`);
    if (m.destination.split('/').includes('..')) throw new ContainerError(`bind mount destination ${m.destination}: ".." is not allowed`);
  }
  for (const e of spec.env ?? []) if (!/^[^=\s]+=/.test(e)) throw new ContainerError(`environment entry "${e}": use KEY=VALUE`);
}
