// `hangar image`: the OCI image store — pull, push, import, export, ls, inspect, rm, tag, build.
// Long operations show progress on stderr and stop cleanly on Ctrl-C.
import { parseArgs, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { ContainersService, type Progress } from '../../containers/index.ts';

export const summary = 'OCI images: pull, push, import, export, ls, inspect, rm, tag, build';

const USAGE = `usage: hangar image pull REF [--insecure]
       hangar image push NAME:TAG REF [--insecure]
       hangar image import FILE [--tag NAME:TAG]
       hangar image export NAME:TAG FILE [--format oci|docker]
       hangar image ls [--json]
       hangar image inspect NAME:TAG
       hangar image rm NAME:TAG
       hangar image tag SRC DST
       hangar image build -t NAME:TAG [-f FILE] [--build-arg K=V]... [--no-cache] DIR`;

const VERBS = ['pull', 'push', 'import', 'export', 'ls', 'inspect', 'rm', 'tag', 'build'];

/** Renders progress on stderr: one rewritten line on a terminal, a line per step otherwise. */
export function progressPrinter(): (p: Progress) => void {
  let last = '';
  let lastAt = 0;
  return (p) => {
    const amount = p.total ? ` ${formatBytes(p.done ?? 0)}/${formatBytes(p.total)}` : p.done !== undefined && p.phase !== 'build' ? ` ${formatBytes(p.done)}` : '';
    const line = `${p.phase}${p.item ? ` ${shorten(p.item)}` : ''}${amount}`;
    if (process.stderr.isTTY) {
      const now = Date.now();
      if (now - lastAt < 100 && p.done !== p.total) return;
      lastAt = now;
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 80) - 1)}`);
      if (p.done !== undefined && p.done === p.total) process.stderr.write('\n');
    } else if (`${p.phase} ${p.item}` !== last) {
      last = `${p.phase} ${p.item}`;
      process.stderr.write(`${p.phase}${p.item ? ` ${p.item}` : ''}\n`);
    }
  };
}

const shorten = (text: string) => text.replace(/sha256:([0-9a-f]{12})[0-9a-f]{52}/g, '$1');

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n}${units[i]}`;
}

/** Runs a long operation with Ctrl-C cancelling it (the command then exits with status 130). */
export async function cancellable<T>(operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  try {
    return await operation(abort.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  const { options, positionals } = parseArgs(rest, {
    insecure: { type: 'boolean' },
    tag: { type: 'string', short: 't' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    file: { type: 'string', short: 'f' },
    'build-arg': { type: 'string', multiple: true },
    'no-cache': { type: 'boolean' },
  });
  const want = (count: number, names: string) => {
    if (positionals.length !== count) throw new UsageError(`image ${verb} takes ${names}\n${USAGE}`);
    return positionals;
  };
  // An unknown verb is refused before the store is opened (and its folder made).
  if (!VERBS.includes(verb)) throw new UsageError(`unknown image command "${verb}"\n${USAGE}`);
  const service = await new ContainersService().init();
  const store = service.store;
  const onProgress = progressPrinter();
  switch (verb) {
    case 'pull': {
      const [ref] = want(1, 'REF');
      const registry = await service.registry({ insecure: Boolean(options.insecure) });
      const image = await cancellable((signal) => registry.pull(ref!, { signal, onProgress }));
      console.log(`${image.name} ${image.descriptor.digest}`);
      return EXIT.ok;
    }
    case 'push': {
      const [name, ref] = want(2, 'NAME:TAG REF');
      const registry = await service.registry({ insecure: Boolean(options.insecure) });
      const digest = await cancellable((signal) => registry.push(name!, ref!, { signal, onProgress }));
      console.log(`${ref} ${digest}`);
      return EXIT.ok;
    }
    case 'import': {
      const [file] = want(1, 'FILE');
      const images = await cancellable((signal) => service.importArchive(file!, options.tag as string | undefined, { signal, onProgress }));
      for (const image of images) console.log(`${image.name} ${image.descriptor.digest}`);
      return EXIT.ok;
    }
    case 'export': {
      const [name, file] = want(2, 'NAME:TAG FILE');
      const format = String(options.format ?? 'oci');
      if (format !== 'oci' && format !== 'docker') throw new UsageError(`--format ${format}: use oci or docker`);
      await cancellable((signal) => service.exportArchive(name!, file!, format, { signal, onProgress }));
      return EXIT.ok;
    }
    case 'ls': {
      want(0, 'no arguments');
      const images = await store.list();
      if (options.json) console.log(JSON.stringify(images, null, 2));
      else {
        console.log(`${'NAME'.padEnd(40)} ${'DIGEST'.padEnd(19)} ${'SIZE'.padStart(10)}  CREATED`);
        for (const i of images) console.log(`${i.name.padEnd(40)} ${i.digest.slice(0, 19)} ${formatBytes(i.size).padStart(10)}  ${i.created ?? ''}`);
      }
      return EXIT.ok;
    }
    case 'inspect': {
      const [name] = want(1, 'NAME:TAG');
      console.log(JSON.stringify(await store.inspect(name!), null, 2));
      return EXIT.ok;
    }
    case 'rm': {
      const [name] = want(1, 'NAME:TAG');
      await service.removeImage(name!);
      return EXIT.ok;
    }
    case 'tag': {
      const [source, target] = want(2, 'SRC DST');
      await store.tag(source!, target!);
      return EXIT.ok;
    }
    case 'build': {
      const [context] = want(1, 'DIR');
      if (!options.tag) throw new UsageError(`image build needs -t NAME:TAG\n${USAGE}`);
      const buildArgs: Record<string, string> = {};
      for (const pair of (options['build-arg'] as string[] | undefined) ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`--build-arg ${pair}: use KEY=VALUE`);
        buildArgs[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const result = await cancellable((signal) => service.builder.build({
        tag: String(options.tag), context: context!, file: options.file as string | undefined, buildArgs, noCache: Boolean(options['no-cache']),
        signal,
        onProgress: (p) => { if (p.phase === 'build') process.stderr.write(`${p.item}\n`); },
        onOutput: (_stream, chunk) => process.stderr.write(chunk),
      }));
      console.log(`${result.image.name} ${result.image.descriptor.digest}`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown image command "${verb}"\n${USAGE}`);
  }
}
