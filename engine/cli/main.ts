// Dispatch of `hangar SUBCOMMAND ...`. Each subcommand is one module in commands/ exporting
// `run(argv): Promise<number>` (the exit status) and a one-line `summary`.
import { EXIT, UsageError } from './errors.ts';

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
    if (err instanceof UsageError) {
      console.error(`hangar ${name}: ${err.message}`);
      return EXIT.usage;
    }
    if (err instanceof Error && err.name === 'AbortError') {
      console.error(`hangar ${name}: cancelled`);
      return EXIT.cancelled;
    }
    console.error(`hangar ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.HANGAR_DEBUG && err instanceof Error) console.error(err.stack);
    return EXIT.failure;
  }
}
