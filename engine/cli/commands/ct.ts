// `hangar ct`: containers run by runc — run, create, start, stop, kill, pause, resume, rm, exec,
// logs, stats, ls, snapshot. `ct run` and `ct exec` exit with the command's own status; with
// -it they attach this terminal (raw mode, resizes followed) to the container's pseudo-terminal.
import { resolve } from 'node:path';
import { parseArgs, parseSize, type OptionSpec, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { ContainersService, type ContainerInfo, type CreateOptions, type Terminal } from '../../containers/index.ts';
import { formatBytes, progressPrinter } from './image.ts';

export const summary = 'containers: run, create, start, stop, kill, pause, resume, rm, exec, logs, stats, ls, snapshot';

const USAGE = `usage: hangar ct run [--name N] [--rm] [-d] [-it] [--memory SIZE] [--cpus N] [--pids N]
                   [-e K=V]... [-v HOST:CTR[:ro]]... [--entrypoint CMD] [-w DIR] [-u USER]
                   [--hostname H] [--read-only] [--network none|host] IMAGE [CMD...]
       hangar ct create (same options) IMAGE [CMD...]
       hangar ct start|stop|kill|pause|resume|rm NAME   (stop --time SECONDS, kill --signal SIG, rm --force)
       hangar ct exec [-it] NAME CMD...
       hangar ct logs NAME | stats NAME [--json] | ls [--json]
       hangar ct snapshot NAME take SNAP | list [--json] | restore SNAP | rm SNAP
       hangar ct snapshot NAME commit SNAP NAME:TAG   (SNAP: a snapshot's name or id)`;

const VERBS = ['run', 'create', 'start', 'stop', 'kill', 'pause', 'resume', 'rm', 'exec', 'logs', 'stats', 'ls', 'snapshot'];

const CREATE_OPTIONS: Record<string, OptionSpec> = {
  name: { type: 'string' },
  rm: { type: 'boolean' },
  detach: { type: 'boolean', short: 'd' },
  terminal: { type: 'boolean', short: 'it' },
  memory: { type: 'string', short: 'm' },
  cpus: { type: 'string' },
  pids: { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  volume: { type: 'string', short: 'v', multiple: true },
  entrypoint: { type: 'string' },
  workdir: { type: 'string', short: 'w' },
  user: { type: 'string', short: 'u' },
  hostname: { type: 'string' },
  'read-only': { type: 'boolean' },
  network: { type: 'string' },
};

function number(text: unknown, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} ${String(text)}: must be a positive number`);
  return n;
}

function createOptions(options: Record<string, unknown>, command: string[]): CreateOptions {
  const network = options.network as string | undefined;
  if (network !== undefined && network !== 'none' && network !== 'host') throw new UsageError(`--network ${network}: use none or host`);
  const mounts = ((options.volume as string[] | undefined) ?? []).map((spec) => {
    const [source, destination, mode, ...extra] = spec.split(':');
    if (!source || !destination || extra.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw new UsageError(`-v ${spec}: use HOST:CONTAINER or HOST:CONTAINER:ro`);
    }
    return { source: resolve(source), destination, readOnly: mode === 'ro' };
  });
  const pids = number(options.pids, '--pids');
  if (pids !== undefined && !Number.isInteger(pids)) throw new UsageError(`--pids ${pids}: must be a whole number`);
  return {
    name: options.name as string | undefined,
    command: command.length ? command : undefined,
    entrypoint: options.entrypoint !== undefined ? [String(options.entrypoint)] : undefined,
    env: options.env as string[] | undefined,
    workdir: options.workdir as string | undefined,
    user: options.user as string | undefined,
    hostname: options.hostname as string | undefined,
    tty: Boolean(options.terminal),
    memory: options.memory !== undefined ? parseSize(String(options.memory), '--memory') : undefined,
    cpus: number(options.cpus, '--cpus'),
    pids,
    readOnly: Boolean(options['read-only']),
    mounts,
    network: network as 'none' | 'host' | undefined,
  };
}

/** Connects this terminal to a container's pseudo-terminal until its process ends. */
async function attach(terminal: Terminal): Promise<number> {
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onInput = (data: Buffer) => terminal.write(data);
  const onResize = () => terminal.resize(process.stdout.columns ?? 80, process.stdout.rows ?? 24);
  stdin.on('data', onInput);
  stdin.resume();
  process.stdout.on('resize', onResize);
  terminal.onData((data) => process.stdout.write(data));
  try {
    return await terminal.exited;
  } finally {
    process.stdout.off('resize', onResize);
    stdin.off('data', onInput);
    stdin.pause();
    if (raw) stdin.setRawMode(false);
    terminal.detach();
  }
}

const terminalSize = () => ({ cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 });

function describeStatus(c: ContainerInfo): string {
  if (c.status !== 'exited') return c.status;
  if (c.lost) return 'exited (status unknown)';
  return `exited (${c.exitCode}${c.oomKilled ? ', out of memory' : ''})`;
}

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  // An unknown verb is refused before the containers root is opened (and its folder made).
  if (!VERBS.includes(verb)) throw new UsageError(`unknown ct command "${verb}"\n${USAGE}`);
  const service = await new ContainersService().init();
  const runtime = service.runtime;
  const one = (positionals: string[], what = 'NAME') => {
    if (positionals.length !== 1) throw new UsageError(`ct ${verb} takes ${what}\n${USAGE}`);
    return positionals[0]!;
  };

  switch (verb) {
    case 'run':
    case 'create': {
      const { options, positionals, rest: command } = parseArgs(rest, CREATE_OPTIONS, { stopAtFirstPositional: true });
      const image = one(positionals, 'IMAGE [CMD...]');
      const spec = createOptions(options, command);
      if (verb === 'create') {
        if (options.rm || options.detach) throw new UsageError('--rm and -d belong to ct run');
        console.log((await runtime.create(image, spec, { onProgress: progressPrinter() })).name);
        return EXIT.ok;
      }
      if (options.rm && options.detach) throw new UsageError('--rm needs an attached run (it cannot be combined with -d)');
      const created = await runtime.create(image, spec, { onProgress: progressPrinter() });
      if (options.detach) {
        await runtime.startDetached(created.id, terminalSize());
        console.log(created.name);
        return EXIT.ok;
      }
      let status: number;
      if (spec.tty) {
        status = await attach(await runtime.startTerminal(created.id, terminalSize()));
      } else {
        // Signals go to the container; a second Ctrl-C kills it (PID 1 may ignore SIGINT).
        const forward = (signal: string) => { void runtime.kill(created.id, signal).catch(() => {}); };
        let interrupts = 0;
        const onInt = () => forward(++interrupts > 1 ? 'SIGKILL' : 'SIGINT');
        const onTerm = () => forward('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
        try {
          await runtime.start(created.id, { onOutput: (stream, chunk) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk) });
          const info = await runtime.wait(created.id);
          if (info.oomKilled) console.error(`hangar ct: container ${info.name} was killed: out of memory (limit ${formatBytes(spec.memory ?? 0)})`);
          status = info.exitCode ?? EXIT.failure;
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
        }
      }
      if (options.rm) await runtime.remove(created.id, { force: true });
      return status;
    }
    case 'start':
      await runtime.startDetached(one(parseArgs(rest, {}).positionals), terminalSize());
      return EXIT.ok;
    case 'stop': {
      const { options, positionals } = parseArgs(rest, { time: { type: 'string', short: 't' } });
      const seconds = options.time === undefined ? 10 : Number(options.time);
      if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--time ${options.time}: must be a number of seconds`);
      await runtime.stop(one(positionals), seconds * 1000);
      return EXIT.ok;
    }
    case 'kill': {
      const { options, positionals } = parseArgs(rest, { signal: { type: 'string', short: 's' } });
      await runtime.kill(one(positionals), String(options.signal ?? 'SIGKILL'));
      return EXIT.ok;
    }
    case 'pause':
      await runtime.pause(one(parseArgs(rest, {}).positionals));
      return EXIT.ok;
    case 'resume':
      await runtime.resume(one(parseArgs(rest, {}).positionals));
      return EXIT.ok;
    case 'rm': {
      const { options, positionals } = parseArgs(rest, { force: { type: 'boolean', short: 'f' } });
      await runtime.remove(one(positionals), { force: Boolean(options.force) });
      return EXIT.ok;
    }
    case 'exec': {
      const { options, positionals, rest: command } = parseArgs(rest, {
        terminal: { type: 'boolean', short: 'it' },
        env: { type: 'string', short: 'e', multiple: true },
      }, { stopAtFirstPositional: true });
      const name = one(positionals, 'NAME CMD...');
      if (command.length === 0) throw new UsageError(`ct exec needs a command\n${USAGE}`);
      const env = (options.env as string[] | undefined) ?? [];
      if (options.terminal) return attach(await runtime.execTerminal(name, command, terminalSize(), env));
      return runtime.exec(name, command, { env, onOutput: (stream, chunk) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk) });
    }
    case 'logs':
      process.stdout.write(await runtime.logs(one(parseArgs(rest, {}).positionals)));
      return EXIT.ok;
    case 'stats': {
      const { options, positionals } = parseArgs(rest, { json: { type: 'boolean' } });
      const stats = await runtime.stats(one(positionals));
      if (options.json) console.log(JSON.stringify(stats, null, 2));
      else {
        console.log(`cpu     ${stats.cpuSeconds.toFixed(2)} s`);
        console.log(`memory  ${formatBytes(stats.memoryBytes)}${stats.memoryLimitBytes ? ` / ${formatBytes(stats.memoryLimitBytes)}` : ''}`);
        console.log(`pids    ${stats.pids}${stats.pidsLimit ? ` / ${stats.pidsLimit}` : ''}`);
      }
      return EXIT.ok;
    }
    case 'ls': {
      const { options, positionals } = parseArgs(rest, { json: { type: 'boolean' } });
      if (positionals.length) throw new UsageError('ct ls takes no arguments');
      const containers = await runtime.list();
      if (options.json) console.log(JSON.stringify(containers, null, 2));
      else {
        console.log(`${'NAME'.padEnd(20)} ${'ID'.padEnd(12)} ${'IMAGE'.padEnd(30)} ${'STATUS'.padEnd(28)} COMMAND`);
        for (const c of containers) {
          console.log(`${c.name.padEnd(20)} ${c.id.slice(0, 12)} ${c.image.padEnd(30)} ${describeStatus(c).padEnd(28)} ${c.command.join(' ')}`);
        }
      }
      return EXIT.ok;
    }
    case 'snapshot':
      return snapshot(service, rest);
    default:
      throw new UsageError(`unknown ct command "${verb}"\n${USAGE}`);
  }
}

async function snapshot(service: ContainersService, argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, { json: { type: 'boolean' } });
  const [name, action, ...args] = positionals;
  const expect = (count: number, form: string) => {
    if (args.length !== count) throw new UsageError(`ct snapshot NAME ${form}\n${USAGE}`);
    return args[0]!;
  };
  if (!name || !action) throw new UsageError(`ct snapshot NAME take SNAP|list|restore SNAP|rm SNAP|commit SNAP NAME:TAG\n${USAGE}`);
  const snapshots = service.snapshots;
  switch (action) {
    case 'take': {
      const snap = await snapshots.take(name, expect(1, 'take SNAP'));
      console.log(`took snapshot "${snap.name}" (${snap.id}) of ${name}`);
      return EXIT.ok;
    }
    case 'list': {
      expect(0, 'list');
      const list = await snapshots.list(name, { onDamaged: (message) => console.error(`hangar ct: ${message}`) });
      if (options.json) console.log(JSON.stringify(list, null, 2));
      else {
        console.log(`${'SNAPSHOT'.padEnd(24)} ${'ID'.padEnd(12)} ${'CREATED'.padEnd(24)} SIZE`);
        for (const s of list) console.log(`${s.name.padEnd(24)} ${s.id} ${s.created.padEnd(24)} ${formatBytes(s.layer.size)}`);
      }
      return EXIT.ok;
    }
    case 'restore': {
      const snap = expect(1, 'restore SNAP');
      const info = await snapshots.restore(name, snap);
      console.log(`restored snapshot "${snap}"${info.status === 'running' ? ` (${name} was running: it runs again from the snapshot)` : ''}`);
      return EXIT.ok;
    }
    case 'rm': {
      const snap = expect(1, 'rm SNAP');
      await snapshots.remove(name, snap);
      console.log(`deleted snapshot "${snap}"`);
      return EXIT.ok;
    }
    case 'commit': {
      expect(2, 'commit SNAP NAME:TAG');
      const image = await snapshots.commit(name, args[0]!, args[1]!);
      console.log(`${image.name} ${image.descriptor.digest}`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown snapshot action "${action}" (take, list, restore, rm, commit)`);
  }
}
