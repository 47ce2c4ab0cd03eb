// Dispatch of `hangar SUBCOMMAND ...`. Each subcommand is one module in commands/ exporting
// `run(argv): Promise<number>` (the exit status) and a one-line `summary`.
import { serializeError } from '../common/errors.ts';
import { EXIT, exitStatus } from './errors.ts';

interface CommandModule {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<CommandModule>> = {
  run: () => import('./commands/run.ts'),
  guest: () => import('./commands/guest.ts'),
  disk: () => import('./commands/disk.ts'),
  image: () => import('./commands/image.ts'),
  ct: () => import('./commands/ct.ts'),
  serve: () => import('./commands/serve.ts'),
  vm: () => import('./commands/vm.ts'),
  daemon: () => import('./commands/daemon.ts'),
};

async function usage(): Promise<string> {
  const lines = ['usage: hangar COMMAND [ARGS...]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    const summary = await load().then((m) => m.summary, () => '(not available)');
    lines.push(`  ${name.padEnd(8)} ${summary}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = commands[name];
  if (!load) {
    console.error(`hangar: unknown command "${name}" (see hangar --help)`);
    return EXIT.usage;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    // The message as the engine wrote it; the error's code alone picks the status.
    console.error(`hangar ${name}: ${serializeError(err).message}`);
    if (process.env.HANGAR_DEBUG && err instanceof Error) console.error(err.stack);
    return exitStatus(err);
  }
}
