// `hangar disk`: a small qemu-img for Hangar's own formats — create, info, check, convert.
import { dirname, resolve } from 'node:path';
import { parseArgs, parseSize, takeVerb } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { cancellable, formatBytes, progressPrinter } from './image.ts';
import {
  checkDisk, convertDisk, createQcow2, createRaw, diskInfo, DiskError, type DiskCheck, type DiskFormat, type DiskInfo,
} from '../../storage/index.ts';

export const summary = 'disk images (qcow2, raw): create, info, check, convert';

const USAGE = `usage: hangar disk create FILE [SIZE] [--format qcow2|raw] [--backing FILE] [--cluster-size SIZE]
       hangar disk info FILE [--json]
       hangar disk check FILE [--repair] [--json]
       hangar disk convert [-O qcow2|raw] [--cluster-size SIZE] [--backing-root DIR]... SRC DST

SIZE may be omitted with --backing (the overlay takes its backing file's size). A relative
--backing path is stored as given and found from FILE's folder.
convert copies SRC's backing chain only from SRC's folder and each --backing-root DIR: an
image from elsewhere must not copy a host file into DST.
check exits 0 when the image is consistent (or was repaired), 1 when it is corrupt,
3 when it has leaked clusters (harmless lost space; --repair frees them).`;

/** `hangar disk check` status for leaked clusters left in place, as `qemu-img check` uses. */
const EXIT_LEAKS = 3;

export async function run(argv: string[]): Promise<number> {
  const taken = takeVerb(argv, USAGE);
  if (typeof taken === 'number') return taken;
  const { verb, rest } = taken;
  const { options, positionals } = parseArgs(rest, {
    format: { type: 'string', short: 'O' },
    backing: { type: 'string', short: 'b' },
    'cluster-size': { type: 'string' },
    json: { type: 'boolean' },
    repair: { type: 'boolean', short: 'r' },
    'backing-root': { type: 'string', multiple: true },
  });
  const format = (fallback: DiskFormat): DiskFormat => {
    const value = String(options.format ?? fallback);
    if (value !== 'qcow2' && value !== 'raw') throw new UsageError(`--format ${value}: must be qcow2 or raw`);
    return value;
  };
  const clusterSize = options['cluster-size'] === undefined ? undefined : parseSize(String(options['cluster-size']), '--cluster-size');
  const files = (min: number, max: number, names: string) => {
    if (positionals.length < min || positionals.length > max) throw new UsageError(`disk ${verb} takes ${names}\n${USAGE}`);
    return positionals;
  };
  try {
    switch (verb) {
      case 'create': {
        const [file, sizeText] = files(1, 2, 'FILE [SIZE]');
        const size = sizeText === undefined ? undefined : parseSize(sizeText, 'SIZE');
        if (format('qcow2') === 'raw') {
          if (options.backing !== undefined) throw new UsageError('--backing needs --format qcow2');
          if (size === undefined) throw new UsageError(`disk create: SIZE is required\n${USAGE}`);
          createRaw(file!, size);
        } else {
          if (size === undefined && options.backing === undefined) throw new UsageError(`disk create: SIZE is required without --backing\n${USAGE}`);
          createQcow2(file!, size, { backing: options.backing as string | undefined, clusterSize });
        }
        return EXIT.ok;
      }
      case 'info': {
        const info = diskInfo(files(1, 1, 'FILE')[0]!);
        console.log(options.json ? JSON.stringify(info, null, 2) : describe(info));
        return EXIT.ok;
      }
      case 'check': {
        const report = checkDisk(files(1, 1, 'FILE')[0]!, { repair: options.repair === true });
        console.log(options.json ? JSON.stringify(report, null, 2) : describeCheck(report));
        return report.corruptions ? EXIT.failure : report.leaks ? EXIT_LEAKS : EXIT.ok;
      }
      case 'convert': {
        const [src, dst] = files(2, 2, 'SRC DST');
        const show = process.stderr.isTTY ? progressPrinter() : undefined;
        const backingRoots = [dirname(resolve(src!)), ...((options['backing-root'] ?? []) as string[]).map((dir) => resolve(dir))];
        await cancellable((signal) => convertDisk(src!, dst!, {
          format: format('qcow2'),
          clusterSize,
          backingRoots,
          signal,
          onProgress: show && ((done, total) => show({ phase: 'convert', item: src, done, total })),
        }));
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown verb "${verb}"\n${USAGE}`);
    }
  } catch (err) {
    // A missing, damaged or unsupported image is bad input, like a bad argument.
    if (err instanceof DiskError) throw new UsageError(err.message);
    if (err instanceof Error && 'code' in err && typeof err.code === 'string' && 'path' in err) {
      throw new UsageError(`${String(err.path)}: ${err.code === 'EEXIST' ? 'already exists' : err.message}`);
    }
    throw err;
  }
}

function describe(info: DiskInfo): string {
  const lines = [
    `image: ${info.path}`,
    `file format: ${info.format}`,
    `virtual size: ${formatBytes(info.virtualSize)} (${info.virtualSize} bytes)`,
    `disk size: ${formatBytes(info.diskSize)}`,
  ];
  if (info.clusterSize) lines.push(`cluster_size: ${info.clusterSize}`);
  if (info.backingFile) lines.push(`backing file: ${info.backingFile} (actual path: ${info.backingChain[0]?.path})`);
  for (const [depth, below] of info.backingChain.entries()) lines.push(`backing chain ${depth + 1}: ${below.path} (${below.format}, ${formatBytes(below.virtualSize)})`);
  if (info.compat) {
    lines.push(`compat: ${info.compat}`, `refcount bits: ${info.refcountBits}`, `lazy refcounts: ${info.lazyRefcounts}`);
    lines.push(`dirty: ${info.dirty}`, `corrupt: ${info.corrupt}`, `snapshots: ${info.snapshots}`);
  }
  return lines.join('\n');
}

function describeCheck(report: DiskCheck): string {
  const lines = [...report.messages];
  if (report.repaired) lines.push(`Repaired ${report.repaired.leaks} leaked cluster(s) and ${report.repaired.corruptions} corruption(s)${report.dirty ? ' (the image was dirty: every refcount rebuilt)' : ''}.`);
  if (report.corruptions) lines.push(`${report.corruptions} error(s) were found on the image.`);
  if (report.leaks) lines.push(`${report.leaks} leaked cluster(s) were found on the image (lost space, no harm to data).`);
  if (!report.corruptions && !report.leaks) lines.push('No errors were found on the image.');
  if (report.format === 'qcow2') lines.push(`${report.allocatedClusters}/${report.totalClusters} clusters allocated.`);
  return lines.join('\n');
}
