// `hangar guest`: the Debian guest that `hangar run --guest debian` boots — fetch it (kernel,
// OpenSBI, busybox from the Debian mirror, verified, and the initramfs built) or show what is cached.
import { parseArgs, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { checkMirrorUrl } from '../../guests/apt-sources.ts';
import { cachedDebianGuest, ensureDebianGuest, type DebianGuest } from '../../guests/debian.ts';
import { cancellable, progressPrinter } from './image.ts';

export const summary = 'the Debian guest: fetch (kernel, firmware, initramfs) and info';

const USAGE = `usage: hangar guest fetch [--mirror URL]
       hangar guest info [--json]

fetch  downloads Debian trixie's riscv64 kernel (linux-image-riscv64), OpenSBI and
       busybox-static, verifies them against the signed archive index, and builds the
       initramfs. The mirror is the Debian one in your apt sources; --mirror URL or the
       HANGAR_DEBIAN_MIRROR environment variable overrides it. Ctrl-C cancels.
info   shows what is cached (files, versions), without the network.

Files are cached under $HANGAR_CACHE, else $XDG_CACHE_HOME/hangar, else ~/.cache/hangar.`;

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  const { options, positionals } = parseArgs(rest, {
    mirror: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.help) { console.log(USAGE); return EXIT.ok; }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\n${USAGE}`);
  switch (verb) {
    case 'fetch': {
      if (options.json) throw new UsageError('guest fetch takes no --json');
      const mirror = options.mirror === undefined ? undefined : String(options.mirror);
      if (mirror !== undefined) {
        try { checkMirrorUrl(mirror); } catch (err) { throw new UsageError(`--mirror: ${(err as Error).message}`); }
      }
      const printProgress = progressPrinter();
      const guest = await cancellable((signal) => ensureDebianGuest({
        signal, onProgress: (_line, progress) => printProgress(progress), refresh: true, mirror,
      }));
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      console.log(describe(guest));
      return EXIT.ok;
    }
    case 'info': {
      if (options.mirror !== undefined) throw new UsageError('guest info takes no --mirror (it does not use the network)');
      const guest = await cachedDebianGuest();
      if (!guest) {
        console.error('hangar guest: nothing cached yet (run `hangar guest fetch`)');
        return EXIT.failure;
      }
      console.log(options.json ? JSON.stringify(guest, null, 2) : describe(guest));
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown verb "${verb}"\n${USAGE}`);
  }
}

function describe(guest: DebianGuest): string {
  return [
    `kernel    ${guest.kernel} (Linux ${guest.kernelRelease})`,
    `firmware  ${guest.firmware}`,
    `initrd    ${guest.initrd}`,
    `bootargs  ${guest.bootargs}`,
    'packages',
    ...guest.packages.map((p) => `  ${p.name} ${p.version} (${p.filename.slice(p.filename.lastIndexOf('/') + 1)}, sha256 ${p.sha256.slice(0, 16)}…)`),
  ].join('\n');
}
