// `hangar vm`: virtual machines — the library (create, list, info, modify, rm, snapshots, clones) and
// running them (start, stop, pause, resume, save, exec, cp, console). Every verb is a call of
// the service API (engine/api, vms:*): to the engine that owns the library when one runs (over
// its loopback WebSocket, engine/daemon/owner.ts), else to an engine in this process. A VM runs
// in its owner: `start --detach` starts the `hangar daemon` when no engine runs; a foreground
// `start` with no engine running makes this process the owner for as long as the VM runs, its
// serial console on the terminal (Ctrl-] leaves: the VM is then saved, as it cannot outlive the
// process; with an engine already running, Ctrl-] only detaches and the VM goes on).
// Exit statuses (README.md): 0 ok, 2 bad input (arguments, sizes, boot files, an unknown VM or
// snapshot, a name already taken), 1 a refusal or failure (the VM is running / not running, a
// damaged vm.json, no guest agent answering), 130 Ctrl-C; `exec` exits with the command's status.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, parseSize, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { HangarError } from '../../common/errors.ts';
import { formatBytes, progressPrinter } from './image.ts';
import { ApiClient, ApiRequestError, inProcessTransport } from '../../api/client.ts';
import type { ArgsOf, Channel, ResultOf, VmDetails } from '../../api/channels.ts';
import type { ApiService } from '../../api/service.ts';
import { netOptionKinds } from './run.ts';
import { createEngine, engineHome, shutDown } from '../../daemon/daemon.ts';
import { becomeOwner, connectOwner, connectTo, EngineOwnedError, startDaemon, type Ownership } from '../../daemon/owner.ts';
import type { SnapshotNode, SnapshotTree } from '../../vm/index.ts';

export const summary = 'virtual machines: create, start, stop, save, snapshot, clone, exec, cp, console';

const USAGE = `usage: hangar vm create NAME [--preset debian | --kernel F --initrd F [--firmware F] [--append S]]
                      [--cpus N] [--memory SIZE] [--disk-size SIZE] [--net nat|none]...
       hangar vm list
       hangar vm info NAME
       hangar vm modify NAME [--name NEW] [--cpus N] [--memory SIZE] [--append S]   (powered off)
       hangar vm start NAME [--detach]
       hangar vm stop NAME [--force]
       hangar vm pause|resume NAME
       hangar vm save NAME
       hangar vm rm NAME
       hangar vm snapshot NAME take SNAP [--no-ram]
       hangar vm snapshot NAME list|restore SNAP|rm SNAP
       hangar vm clone NAME NEW [--linked] [--snapshot SNAP]
       hangar vm exec NAME -- CMD [ARGS...]
       hangar vm cp NAME SRC DST          (NAME:/path for the guest side)
       hangar vm console NAME             (Ctrl-] leaves the console)
Every command takes --json for output meant for scripts.`;

const VERBS = ['create', 'list', 'info', 'modify', 'start', 'stop', 'pause', 'resume', 'save', 'rm', 'snapshot', 'clone', 'exec', 'cp', 'console'];
/** Ctrl-] (telnet's escape): leaves a console. */
const CTRL_RIGHT_BRACKET = 0x1d;
/** How long a console that is left waits for the owner to close its view. */
const CLOSE_WAIT_MS = 2000;

/** The engine the verbs talk to: the owner's, or one in this process. */
interface Engine {
  client: ApiClient;
  /** Set when the engine runs in this process. */
  service?: ApiService;
  close(): void;
}

async function connectEngine(home: string): Promise<Engine> {
  const owner = await connectOwner(home);
  if (owner) return { client: owner.client, close: owner.close };
  const service = createEngine(home);
  return { client: new ApiClient(inProcessTransport((listener) => service.connect(listener))), service, close: () => service.close() };
}

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  if (!VERBS.includes(verb)) throw new UsageError(`unknown vm command "${verb}"\n${USAGE}`);
  try {
    return await dispatch(verb, rest);
  } catch (err) {
    // The code is the exit status (cli/errors.ts STATUS_OF); the message names what the user typed.
    if (err instanceof ApiRequestError) throw new HangarError(err.code, cliMessage(err, rest), { details: err.details });
    throw err;
  }
}

/** API fields given as positionals, by the names USAGE gives them. */
const POSITIONAL_OF_FIELD: Record<string, string> = { vm: 'NAME', name: 'NAME', snapshot: 'SNAP', command: 'CMD' };

/**
 * The API names a refused argument by its field path on the channel ("vms:create.cpus: must be
 * at most 8"); the CLI names what the user typed: the option (--cpus), else the positional as
 * USAGE calls it (NAME), else the field alone.
 */
function cliMessage(err: ApiRequestError, argv: string[]): string {
  const prefix = `${err.channel}.`;
  if (!err.message.startsWith(prefix)) return err.message;
  const path = err.message.slice(prefix.length);
  const field = /^[A-Za-z]+/.exec(path)?.[0] ?? '';
  const option = `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const typed = argv.some((a) => a === option || a.startsWith(`${option}=`)) ? option : POSITIONAL_OF_FIELD[field];
  return typed === undefined ? path : typed + path.slice(field.length);
}

/** --memory SIZE in bytes: a whole number of MiB. */
function memoryOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(String(value), '--memory');
  if (bytes % (1024 * 1024) !== 0) throw new UsageError(`--memory ${String(value)}: must be a whole number of MiB`);
  return bytes;
}

function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

let operations = 0;

/** A long call: its progress on stderr, Ctrl-C cancels it (operations:cancel). */
async function long<C extends Channel>(client: ApiClient, channel: C, args: Omit<ArgsOf<C>, 'operation'>): Promise<ResultOf<C>> {
  const operation = `cli-${process.pid}-${operations++}`;
  const show = progressPrinter();
  const unsubscribe = client.subscribe((event) => {
    if (event.type === 'operation:progress' && event.operation === operation) show(event.progress);
  });
  const onSigint = () => void client.call('operations:cancel', { id: operation });
  process.on('SIGINT', onSigint);
  try {
    return await client.invoke(channel, { ...args, operation } as ArgsOf<C>);
  } finally {
    process.off('SIGINT', onSigint);
    unsubscribe();
  }
}

async function dispatch(verb: string, argv: string[]): Promise<number> {
  const want = (positionals: string[], names: string[]) => {
    if (positionals.length !== names.length) throw new UsageError(`vm ${verb} takes ${names.join(' ')}\n${USAGE}`);
    return positionals;
  };
  const home = engineHome();
  if (verb === 'start') return start(home, argv, want);
  if (verb === 'console') {
    const { positionals } = parseArgs(argv, {});
    const [name] = want(positionals, ['NAME']);
    const owner = await connectOwner(home);
    if (!owner) throw new Error(`VM "${name}" is not running (no engine runs the library)`);
    try {
      const end = await attachConsole(owner.client, name!, 'detach');
      return end === 'error' ? EXIT.failure : EXIT.ok;
    } finally {
      owner.close();
    }
  }
  const engine = await connectEngine(home);
  try {
    return await verbs(verb, argv, engine.client, want);
  } finally {
    engine.close();
  }
}

async function verbs(verb: string, argv: string[], client: ApiClient, want: (positionals: string[], names: string[]) => string[]): Promise<number> {
  switch (verb) {
    case 'create': {
      const { options, positionals } = parseArgs(argv, {
        preset: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, firmware: { type: 'string' },
        append: { type: 'string' }, cpus: { type: 'string' }, memory: { type: 'string' }, 'disk-size': { type: 'string' },
        net: { type: 'string', multiple: true }, json: { type: 'boolean' },
      });
      const [name] = want(positionals, ['NAME']);
      if (options.preset !== undefined && options.kernel !== undefined) throw new UsageError('--preset and --kernel exclude each other (--kernel makes a custom VM)');
      if (options.kernel !== undefined && options.initrd === undefined) throw new UsageError('--kernel goes with --initrd F');
      const info = await long(client, 'vms:create', {
        name: name!,
        preset: options.preset as string | undefined,
        kernel: options.kernel as string | undefined,
        initrd: options.initrd as string | undefined,
        firmware: options.firmware as string | undefined,
        append: options.append as string | undefined,
        cpus: options.cpus === undefined ? undefined : wholeNumber(String(options.cpus), '--cpus'),
        memory: memoryOption(options.memory),
        diskSize: options['disk-size'] === undefined ? undefined : parseSize(String(options['disk-size']), '--disk-size'),
        nics: netOptionKinds((options.net ?? []) as string[]),
      });
      print(Boolean(options.json), info, () => `created VM "${info.name}" (${info.id})`);
      return EXIT.ok;
    }
    case 'list': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      want(positionals, []);
      const vms = await client.invoke('vms:list', {});
      print(Boolean(options.json), vms, () => [
        `${'NAME'.padEnd(24)} ${'STATE'.padEnd(12)} ${'CPUS'.padStart(4)} ${'MEMORY'.padStart(8)} ${'SNAPSHOTS'.padStart(9)}`,
        ...vms.map((v) => (v.state === 'invalid'
          ? `${v.name.padEnd(24)} ${'invalid'.padEnd(12)} ${v.problem}`
          : `${v.name.padEnd(24)} ${v.state.padEnd(12)} ${String(v.cpus).padStart(4)} ${`${v.memory}MiB`.padStart(8)} ${String(v.snapshots).padStart(9)}`)),
      ].join('\n'));
      return EXIT.ok;
    }
    case 'info': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      const info = await client.invoke('vms:inspect', { vm: want(positionals, ['NAME'])[0]! });
      print(Boolean(options.json), info, () => describe(info));
      return EXIT.ok;
    }
    case 'modify': {
      const { options, positionals } = parseArgs(argv, {
        name: { type: 'string' }, cpus: { type: 'string' }, memory: { type: 'string' }, append: { type: 'string' }, json: { type: 'boolean' },
      });
      const [name] = want(positionals, ['NAME']);
      if (options.name === undefined && options.cpus === undefined && options.memory === undefined && options.append === undefined) {
        throw new UsageError('vm modify: nothing to change (--name, --cpus, --memory, --append)');
      }
      const info = await client.invoke('vms:modify', {
        vm: name!,
        name: options.name as string | undefined,
        cpus: options.cpus === undefined ? undefined : wholeNumber(String(options.cpus), '--cpus'),
        memory: memoryOption(options.memory),
        append: options.append as string | undefined,
      });
      print(Boolean(options.json), info, () => describe(info));
      return EXIT.ok;
    }
    case 'stop': {
      const { options, positionals } = parseArgs(argv, { force: { type: 'boolean' }, json: { type: 'boolean' } });
      const info = await client.invoke('vms:stop', { vm: want(positionals, ['NAME'])[0]!, force: Boolean(options.force) });
      print(Boolean(options.json), info, () => `VM "${info.name}" is ${info.state}`);
      return EXIT.ok;
    }
    case 'pause':
    case 'resume': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      const info = await client.invoke(verb === 'pause' ? 'vms:pause' : 'vms:resume', { vm: want(positionals, ['NAME'])[0]! });
      print(Boolean(options.json), info, () => `VM "${info.name}" is ${info.state}`);
      return EXIT.ok;
    }
    case 'save': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      const info = await long(client, 'vms:save', { vm: want(positionals, ['NAME'])[0]! });
      print(Boolean(options.json), info, () => `saved VM "${info.name}" (vm start resumes it)`);
      return EXIT.ok;
    }
    case 'rm': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      const [name] = want(positionals, ['NAME']);
      await client.invoke('vms:remove', { vm: name! });
      if (options.json) console.log(JSON.stringify({ removed: name }));
      return EXIT.ok;
    }
    case 'snapshot':
      return snapshot(argv, client);
    case 'clone': {
      const { options, positionals } = parseArgs(argv, { linked: { type: 'boolean' }, snapshot: { type: 'string' }, json: { type: 'boolean' } });
      const [name, newName] = want(positionals, ['NAME', 'NEW']);
      const info = await long(client, 'vms:clone', { vm: name!, name: newName!, linked: Boolean(options.linked), snapshot: options.snapshot as string | undefined })
        .catch((err: unknown) => {
          // The engine names no flags: the one that answers a running VM's refusal.
          if (err instanceof ApiRequestError && err.code === 'invalid-state' && / is running: a full clone/.test(err.message)) {
            throw new ApiRequestError(err.channel, { code: err.code, message: `${err.message} (--snapshot SNAP, or --linked)` });
          }
          throw err;
        });
      print(Boolean(options.json), info, () => `cloned "${name}" as "${info.name}" (${info.id}, ${info.linkedClone ? `linked to snapshot "${info.linkedClone.snapshotName}"` : 'full copy'})`);
      return EXIT.ok;
    }
    case 'exec': {
      const { options, positionals, rest } = parseArgs(argv, { json: { type: 'boolean' } });
      if (positionals.length !== 1 || rest.length === 0) throw new UsageError(`vm exec NAME -- CMD [ARGS...]\n${USAGE}`);
      const result = await client.invoke('vms:exec', { vm: positionals[0]!, command: rest });
      if (options.json) {
        const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
        console.log(JSON.stringify({ exitCode: result.exitCode, stdout: text(result.stdout), stderr: text(result.stderr) }, null, 2));
      } else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
      }
      return result.exitCode;
    }
    case 'cp':
      return copy(argv, client);
    default:
      throw new UsageError(`unknown vm command "${verb}"\n${USAGE}`);
  }
}

/** `vm cp NAME SRC DST`: exactly one side is `NAME:/path` in the guest. A folder as destination keeps the file's name. */
async function copy(argv: string[], client: ApiClient): Promise<number> {
  const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
  const [name, source, target] = positionals;
  if (positionals.length !== 3) throw new UsageError(`vm cp NAME SRC DST (NAME:/path for the guest side)\n${USAGE}`);
  const guest = (side: string) => (side.startsWith(`${name}:`) ? side.slice(name!.length + 1) : null);
  const from = guest(source!);
  const to = guest(target!);
  if ((from === null) === (to === null)) throw new UsageError(`vm cp: one of SRC and DST is the guest's, written ${name}:/path`);
  let bytes: number;
  if (from !== null) {
    const data = await client.invoke('vms:readFile', { vm: name!, path: from });
    let path = target!;
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) path = join(path, basename(from));
    writeFileSync(path, data);
    bytes = data.length;
  } else {
    let data: Buffer;
    let mode: number;
    try {
      data = readFileSync(source!);
      mode = statSync(source!).mode & 0o7777;
    } catch (err) {
      throw new UsageError(`vm cp: ${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const path = to!.endsWith('/') ? `${to}${basename(source!)}` : to!;
    await client.invoke('vms:writeFile', { vm: name!, path, data, mode });
    bytes = data.length;
  }
  if (options.json) console.log(JSON.stringify({ bytes }));
  return EXIT.ok;
}

/**
 * `vm start NAME [--detach]`. Detached: the owner starts it (the daemon is started first when no
 * engine runs). In the foreground the console follows on this terminal until the VM ends; with
 * no engine running this process becomes the owner while the VM runs.
 */
async function start(home: string, argv: string[], want: (positionals: string[], names: string[]) => string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, { detach: { type: 'boolean', short: 'd' }, json: { type: 'boolean' } });
  const [name] = want(positionals, ['NAME']);
  const json = Boolean(options.json);
  const report = (info: VmDetails) => print(json, info, () => `VM "${info.name}" is ${info.state}`);
  for (;;) {
    let owner = await connectOwner(home);
    if (!owner && options.detach) owner = await connectTo(await startDaemon(home));
    if (owner) {
      try {
        report(await long(owner.client, 'vms:start', { vm: name! }));
        if (options.detach) return EXIT.ok;
        return (await attachConsole(owner.client, name!, 'detach')) === 'error' ? EXIT.failure : EXIT.ok;
      } finally {
        owner.close();
      }
    }
    const service = createEngine(home);
    let ownership: Ownership;
    try {
      ownership = await becomeOwner(home, service);
    } catch (err) {
      service.close();
      if (err instanceof EngineOwnedError) continue; // another process became the owner first: ask it
      throw err;
    }
    try {
      const client = new ApiClient(inProcessTransport((listener) => service.connect(listener)));
      report(await long(client, 'vms:start', { vm: name! }));
      return (await attachConsole(client, name!, 'save')) === 'error' ? EXIT.failure : EXIT.ok;
    } finally {
      await shutDown(service, ownership);
    }
  }
}

/**
 * Shows a running VM's serial console on this terminal until the VM ends, the owner goes away,
 * or Ctrl-] (then, `onLeave` 'save': the VM is saved — this process runs it; 'detach': it goes on).
 */
async function attachConsole(client: ApiClient, name: string, onLeave: 'save' | 'detach'): Promise<'ended' | 'left' | 'error'> {
  const { stdin, stdout } = process;
  const opened = await client.invoke('vms:console', { vm: name, cols: stdout.columns ?? 80, rows: stdout.rows ?? 24 });
  stdout.write(opened.backlog);
  const raw = stdin.isTTY === true;
  let finish!: (how: 'ended' | 'left' | 'error') => void;
  const finished = new Promise<'ended' | 'left' | 'error'>((resolve) => { finish = resolve; });
  const unsubscribe = client.subscribe((event) => {
    if (event.type === 'terminal:data' && event.terminal === opened.terminal) stdout.write(event.data);
    if (event.type === 'terminal:exit' && event.terminal === opened.terminal) finish(event.exitCode === 0 ? 'ended' : 'error');
  });
  let left = false;
  // Back-pressure: stdin rests until the console has taken what was typed (a paused VM takes it
  // when it runs again), so that a paste is read no faster than the guest reads it.
  const onInput = (chunk: Buffer) => {
    const leave = chunk.indexOf(CTRL_RIGHT_BRACKET);
    const typed = leave < 0 ? chunk : chunk.subarray(0, leave);
    if (leave >= 0) finish('left');
    if (typed.length === 0) return;
    stdin.pause();
    void client.call('terminals:write', { terminal: opened.terminal, data: typed.toString('utf8') }).then((result) => {
      if (!result.ok) process.stderr.write(`\r\nhangar vm: ${result.error.message}\r\n`);
      if (!left) stdin.resume();
    });
  };
  const onSignal = () => finish('left');
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onInput);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  try {
    const how = await finished;
    left = true;
    if (how === 'left') {
      if (onLeave === 'save') {
        process.stderr.write(`\nhangar vm: saving VM "${name}" (vm start resumes it)\n`);
        await client.invoke('vms:save', { vm: name }).catch((err: unknown) => {
          // It ended meanwhile: nothing left to save.
          if (!(err instanceof ApiRequestError && err.code === 'invalid-state')) throw err;
        });
      } else {
        // Only a courtesy (the owner closes the view with this client's session): an owner that
        // does not answer must not keep the console from ending (SIGTERM, Ctrl-]).
        await Promise.race([client.call('terminals:close', { terminal: opened.terminal }), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
      }
    }
    return how;
  } finally {
    unsubscribe();
    stdin.off('data', onInput);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}

function wholeNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} ${text}: must be a whole number`);
  return Number(text);
}

function describe(info: VmDetails): string {
  const lines = [
    `name:       ${info.name}`,
    `id:         ${info.id}`,
    `state:      ${info.state}`,
    `preset:     ${info.preset}`,
    `created:    ${info.created}`,
    `cpus:       ${info.cpus}`,
    `memory:     ${info.memory}MiB`,
    `boot:       ${info.boot.kernel}${info.boot.initrd ? ` + ${info.boot.initrd}` : ''} (firmware ${info.boot.firmware}), append "${info.boot.append}"`,
    ...info.disks.map((d, i) => `disk ${i}:     ${d.file}, ${formatBytes(d.virtualSize)} virtual, ${formatBytes(d.sizeOnDisk)} on disk, serial ${d.serial}${d.readOnly ? ', read-only' : ''}`),
    `mac:        ${info.mac}`,
    `network:    ${info.nics.length ? info.nics.map((kind, n) => `eth${n} ${kind}`).join(', ') : 'none'}`,
    `machine id: ${info.machineId}`,
    `snapshots:  ${info.snapshots}${info.currentSnapshot ? ` (current state from "${info.currentSnapshot.name}")` : ''}`,
  ];
  if (info.linkedClone) lines.push(`linked to:  snapshot "${info.linkedClone.snapshotName ?? info.linkedClone.snapshot}" of VM "${info.linkedClone.vmName ?? info.linkedClone.vm}"`);
  if (info.linkedClones.length) lines.push(`clones:     ${info.linkedClones.join(', ')} (linked to this VM's snapshots)`);
  lines.push(`folder:     ${info.folder} (${formatBytes(info.sizeOnDisk)})`);
  return lines.join('\n');
}

async function snapshot(argv: string[], client: ApiClient): Promise<number> {
  const { options, positionals } = parseArgs(argv, { 'no-ram': { type: 'boolean' }, json: { type: 'boolean' } });
  const [name, action, ...args] = positionals;
  const expect = (count: number, form: string) => {
    if (!name || args.length !== count) throw new UsageError(`vm snapshot NAME ${form}\n${USAGE}`);
    return args[0]!;
  };
  if (options['no-ram'] && action !== 'take') throw new UsageError('--no-ram goes with snapshot take');
  const json = Boolean(options.json);
  switch (action) {
    case 'take': {
      const snapName = expect(1, 'take SNAP [--no-ram]');
      const snap = await long(client, 'vms:snapshot', { vm: name!, name: snapName, ram: !options['no-ram'] });
      print(json, snap, () => `took snapshot "${snap.name}" (${snap.id})${snap.state ? ' with the machine state' : ', disks only'}`);
      return EXIT.ok;
    }
    case 'list': {
      expect(0, 'list');
      const tree = await client.invoke('vms:snapshots', { vm: name! });
      print(json, tree, () => describeTree(tree));
      return EXIT.ok;
    }
    case 'restore': {
      const snapName = expect(1, 'restore SNAP');
      const info = await long(client, 'vms:restoreSnapshot', { vm: name!, snapshot: snapName });
      const after = info.state === 'saved' ? ' (the VM resumes from it at the next start)' : info.state === 'powered-off' ? '' : ` (the VM is ${info.state})`;
      print(json, info, () => `restored snapshot "${snapName}"${after}`);
      return EXIT.ok;
    }
    case 'rm': {
      const snapName = expect(1, 'rm SNAP');
      await long(client, 'vms:deleteSnapshot', { vm: name!, snapshot: snapName });
      print(json, { deleted: snapName }, () => `deleted snapshot "${snapName}"`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`vm snapshot NAME take|list|restore|rm ...\n${USAGE}`);
  }
}

function describeTree(tree: SnapshotTree): string {
  const lines = [`${'SNAPSHOT'.padEnd(36)} ${'CREATED'.padEnd(24)} ${'RAM'.padEnd(3)} ${'SIZE'.padStart(9)}  DELETING FREES`];
  const currentLine = (depth: number) => `${`${'  '.repeat(depth)}* current state`.padEnd(36)} ${''.padEnd(24)} ${''.padEnd(3)} ${formatBytes(tree.current.sizeOnDisk).padStart(9)}`;
  const walk = (node: SnapshotNode, depth: number) => {
    const frees = node.freedByDelete === null
      ? `nothing: linked clone(s) ${node.linkedClones.join(', ')} use it`
      : node.freedByDelete >= 0 ? `about ${formatBytes(node.freedByDelete)}` : `nothing, its children grow by about ${formatBytes(-node.freedByDelete)}`;
    lines.push(`${`${'  '.repeat(depth)}${node.name}`.padEnd(36)} ${node.created.padEnd(24)} ${(node.ram ? 'yes' : 'no').padEnd(3)} ${formatBytes(node.sizeOnDisk).padStart(9)}  ${frees}`);
    for (const child of node.children) walk(child, depth + 1);
    if (node.current) lines.push(currentLine(depth + 1));
  };
  for (const root of tree.roots) walk(root, 0);
  if (tree.current.parent === null) lines.push(currentLine(0));
  return lines.join('\n');
}
