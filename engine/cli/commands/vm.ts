// `hangar vm`: the VM library, for what works with the machine powered off — create, list, info,
// rm, snapshot take|list|restore|rm, clone. The library is $HANGAR_HOME/vms. Exit status 2 for
// bad input (arguments, sizes, boot files, an unknown VM or snapshot, a name already taken),
// 1 for a refusal or failure (the VM is running, a damaged vm.json, linked clones in the way).
import { parseArgs, parseSize, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { cancellable, formatBytes, progressPrinter } from './image.ts';
import {
  VmArgumentError, VmConflictError, VmLibrary, VmNotFoundError, type SnapshotNode, type SnapshotTree, type VmInfo,
} from '../../vm/index.ts';

export const summary = 'virtual machines: create, list, info, rm, snapshot, clone';

const USAGE = `usage: hangar vm create NAME [--preset debian | --kernel F --initrd F [--firmware F] [--append S]]
                      [--cpus N] [--memory SIZE] [--disk-size SIZE]
       hangar vm list
       hangar vm info NAME
       hangar vm rm NAME
       hangar vm snapshot NAME take SNAP [--no-ram]
       hangar vm snapshot NAME list|restore SNAP|rm SNAP
       hangar vm clone NAME NEW [--linked] [--snapshot SNAP]
Every command takes --json for output meant for scripts.`;

const VERBS = ['create', 'list', 'info', 'rm', 'snapshot', 'clone'];

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  if (!VERBS.includes(verb)) throw new UsageError(`unknown vm command "${verb}"\n${USAGE}`);
  try {
    return await dispatch(verb, rest, new VmLibrary());
  } catch (err) {
    // Naming what does not exist, or a name already taken, is bad input like a bad argument.
    if (err instanceof VmArgumentError || err instanceof VmNotFoundError || err instanceof VmConflictError) throw new UsageError(err.message);
    throw err;
  }
}

function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

async function dispatch(verb: string, argv: string[], library: VmLibrary): Promise<number> {
  const want = (positionals: string[], names: string[]) => {
    if (positionals.length !== names.length) throw new UsageError(`vm ${verb} takes ${names.join(' ')}\n${USAGE}`);
    return positionals;
  };
  switch (verb) {
    case 'create': {
      const { options, positionals } = parseArgs(argv, {
        preset: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, firmware: { type: 'string' },
        append: { type: 'string' }, cpus: { type: 'string' }, memory: { type: 'string' }, 'disk-size': { type: 'string' },
        json: { type: 'boolean' },
      });
      const [name] = want(positionals, ['NAME']);
      if (options.preset !== undefined && options.kernel !== undefined) throw new UsageError('--preset and --kernel exclude each other (--kernel makes a custom VM)');
      if (options.kernel !== undefined && options.initrd === undefined) throw new UsageError('--kernel goes with --initrd F');
      let memory: number | undefined;
      if (options.memory !== undefined) {
        const bytes = parseSize(String(options.memory), '--memory');
        if (bytes % (1024 * 1024) !== 0) throw new UsageError(`--memory ${options.memory}: must be a whole number of MiB`);
        memory = bytes / (1024 * 1024);
      }
      const show = progressPrinter();
      const info = await cancellable((signal) => library.create({
        name: name!,
        preset: options.preset as string | undefined,
        kernel: options.kernel as string | undefined,
        initrd: options.initrd as string | undefined,
        firmware: options.firmware as string | undefined,
        append: options.append as string | undefined,
        cpus: options.cpus === undefined ? undefined : wholeNumber(String(options.cpus), '--cpus'),
        memory,
        diskSize: options['disk-size'] === undefined ? undefined : parseSize(String(options['disk-size']), '--disk-size'),
      }, { signal, onProgress: show }));
      print(Boolean(options.json), info, () => `created VM "${info.name}" (${info.id})`);
      return EXIT.ok;
    }
    case 'list': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      want(positionals, []);
      const vms = await library.list();
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
      const info = await library.info(want(positionals, ['NAME'])[0]!);
      print(Boolean(options.json), info, () => describe(info));
      return EXIT.ok;
    }
    case 'rm': {
      const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
      const [name] = want(positionals, ['NAME']);
      await library.remove(name!);
      if (options.json) console.log(JSON.stringify({ removed: name }));
      return EXIT.ok;
    }
    case 'snapshot':
      return snapshot(argv, library);
    case 'clone': {
      const { options, positionals } = parseArgs(argv, { linked: { type: 'boolean' }, snapshot: { type: 'string' }, json: { type: 'boolean' } });
      const [name, newName] = want(positionals, ['NAME', 'NEW']);
      const show = progressPrinter();
      const info = await cancellable((signal) => library.clone(name!, newName!, {
        linked: Boolean(options.linked),
        snapshot: options.snapshot as string | undefined,
      }, { signal, onProgress: show }));
      print(Boolean(options.json), info, () => `cloned "${name}" as "${info.name}" (${info.id}, ${info.linkedClone ? `linked to snapshot "${info.linkedClone.snapshotName}"` : 'full copy'})`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown vm command "${verb}"\n${USAGE}`);
  }
}

function wholeNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} ${text}: must be a whole number`);
  return Number(text);
}

function describe(info: VmInfo): string {
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
    `machine id: ${info.machineId}`,
    `snapshots:  ${info.snapshots}${info.currentSnapshot ? ` (current state from "${info.currentSnapshot.name}")` : ''}`,
  ];
  if (info.linkedClone) lines.push(`linked to:  snapshot "${info.linkedClone.snapshotName ?? info.linkedClone.snapshot}" of VM "${info.linkedClone.vmName ?? info.linkedClone.vm}"`);
  if (info.linkedClones.length) lines.push(`clones:     ${info.linkedClones.join(', ')} (linked to this VM's snapshots)`);
  lines.push(`folder:     ${info.folder} (${formatBytes(info.sizeOnDisk)})`);
  return lines.join('\n');
}

async function snapshot(argv: string[], library: VmLibrary): Promise<number> {
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
      const snap = await library.takeSnapshot(name!, snapName, { noRam: Boolean(options['no-ram']) });
      print(json, snap, () => `took snapshot "${snap.name}" (${snap.id})${snap.state ? ' with the saved machine state' : ', disks only'}`);
      return EXIT.ok;
    }
    case 'list': {
      expect(0, 'list');
      const tree = await library.snapshots(name!);
      print(json, tree, () => describeTree(tree));
      return EXIT.ok;
    }
    case 'restore': {
      const snap = await library.restoreSnapshot(name!, expect(1, 'restore SNAP'));
      print(json, snap, () => `restored snapshot "${snap.name}"${snap.state ? ' (the VM resumes from it at the next start)' : ''}`);
      return EXIT.ok;
    }
    case 'rm': {
      const show = progressPrinter();
      const snap = await cancellable((signal) => library.deleteSnapshot(name!, expect(1, 'rm SNAP'), { signal, onProgress: show }));
      print(json, snap, () => `deleted snapshot "${snap.name}"`);
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
