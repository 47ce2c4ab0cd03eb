// `hangar image build`: a Containerfile run step by step on top of its FROM image. RUN executes
// in a build container with runc and its writable layer becomes the step's layer; COPY and ADD
// turn files of the build context into a layer directly; the other instructions only change
// the image config. Every layer step is cached under a key chained from the base image and
// all instructions before it, plus the step's own inputs (its command and ARG values, or the
// content of the files it copies), so an unchanged prefix of a Containerfile costs nothing.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, posix, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';
import {
  commandForm, ContainerfileError, keyValues, parseContainerfile, splitWords, substitute, type Instruction,
} from './containerfile.ts';
import { ContainerError } from './errors.ts';
import { resolveInside } from './confined.ts';
import { entryComponents, isLayerBlob, writeGzipLayer, type LayerBlob } from './layer.ts';
import { hostPlatform, MEDIA, type Descriptor, type ImageConfig } from './oci.ts';
import type { OperationOptions } from './operation.ts';
import type { ContainerRuntime, OutputListener } from './runtime.ts';
import { Snapshots } from './snapshots.ts';
import type { ResolvedImage } from './store.ts';
import type { TarInput } from './tar.ts';

export class BuildError extends ContainerError {
  override name = 'BuildError';
}

export interface BuildOptions extends OperationOptions {
  /** NAME:TAG of the image built. */
  tag: string;
  /** The build context: COPY and ADD sources are taken from it, and never from outside it. */
  context: string;
  /** Default: CONTEXT/Containerfile, or CONTEXT/Dockerfile. */
  file?: string;
  buildArgs?: Record<string, string>;
  /** Output of RUN steps. */
  onOutput?: OutputListener;
  noCache?: boolean;
}

export interface BuildStep { instruction: string; cached: boolean }
export interface BuildResult { image: ResolvedImage; steps: BuildStep[] }

/** What the build has made so far. */
interface BuildState {
  config: ImageConfig;
  layers: Descriptor[];
  /** The cache key of everything so far. */
  key: string;
  /** ARG values in scope. */
  args: Record<string, string>;
  /** Whether this Containerfile set CMD (else ENTRYPOINT drops the base image's CMD, as Docker does). */
  cmdSet: boolean;
}

/** One file of the build context on its way into a COPY layer. */
interface CopyFile { archivePath: string; hostPath: string; mode: number; type: 'file' | 'dir' | 'symlink'; linkname?: string }

const chain = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

export class Builder {
  private readonly cacheDir: string;

  constructor(private readonly runtime: ContainerRuntime) {
    this.cacheDir = join(runtime.root, 'build-cache');
  }

  async build(options: BuildOptions): Promise<BuildResult> {
    await this.runtime.init();
    const context = await fs.realpath(options.context).catch(() => { throw new BuildError(`build context ${options.context} does not exist`); });
    const file = options.file ?? (await fs.access(join(context, 'Containerfile')).then(() => join(context, 'Containerfile'), () => join(context, 'Dockerfile')));
    const text = await fs.readFile(file, 'utf8').catch(() => { throw new BuildError(`${file}: no such Containerfile`); });
    const instructions = parseContainerfile(text, file);
    await fs.mkdir(this.cacheDir, { recursive: true });

    const globalArgs: Record<string, string> = {};
    let state: BuildState | undefined;
    const steps: BuildStep[] = [];
    for (const [i, instruction] of instructions.entries()) {
      options.signal?.throwIfAborted();
      const label = `${instruction.keyword} ${instruction.args}`;
      options.onProgress?.({ phase: 'build', item: `step ${i + 1}/${instructions.length}: ${label}`, done: i, total: instructions.length });
      const where = `${file}:${instruction.line}`;
      try {
        if (!state) {
          if (instruction.keyword === 'ARG') Object.assign(globalArgs, this.argValues(instruction.args, globalArgs, options));
          else state = await this.from(substitute(instruction.args, globalArgs));
          steps.push({ instruction: label, cached: false });
          continue;
        }
        if (instruction.keyword === 'FROM') throw new BuildError('only one FROM is supported (no multi-stage builds)');
        const cached = await this.step(state, instruction, context, options);
        state.config.history = [...(state.config.history ?? []), {
          created: new Date().toISOString(), created_by: label,
          ...(['RUN', 'COPY', 'ADD'].includes(instruction.keyword) ? {} : { empty_layer: true }),
        }];
        steps.push({ instruction: label, cached });
      } catch (err) {
        if (err instanceof ContainerfileError || err instanceof BuildError) err.message = `${where}: ${err.message}`;
        throw err;
      }
    }
    state!.config.created = new Date().toISOString();
    const image = await this.runtime.store.commitImage(options.tag, state!.config, state!.layers, options);
    options.onProgress?.({ phase: 'build', item: `built ${image.name}`, done: instructions.length, total: instructions.length });
    return { image, steps };
  }

  private argValues(text: string, vars: Record<string, string>, options: BuildOptions): Record<string, string> {
    const out: Record<string, string> = {};
    for (const word of splitWords(text)) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word : word.slice(0, eq);
      if (!/^\w+$/.test(name)) throw new ContainerfileError(`ARG "${word}": not a variable name`);
      out[name] = options.buildArgs?.[name] ?? (eq < 0 ? '' : substitute(word.slice(eq + 1), vars));
    }
    return out;
  }

  /** FROM: the base image's config and layers; global ARGs end here (a stage starts without them). */
  private async from(text: string): Promise<BuildState> {
    if (text === 'scratch') {
      return { config: { ...hostPlatform(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [], key: chain('scratch'), args: {}, cmdSet: false };
    }
    const base = await this.runtime.store.resolve(text).catch((err: Error) => {
      throw new BuildError(`FROM ${text}: ${err.message} (pull it first: hangar image pull ${text})`);
    });
    return {
      config: structuredClone(base.config),
      layers: [...base.manifest.layers],
      key: chain('from', base.descriptor.digest),
      args: {},
      cmdSet: false,
    };
  }

  /** Runs one instruction after FROM; returns whether its layer came from the cache. */
  private async step(state: BuildState, instruction: Instruction, context: string, options: BuildOptions): Promise<boolean> {
    const exec = (state.config.config ??= {});
    const vars = () => ({ ...state.args, ...Object.fromEntries((exec.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) });
    const args = instruction.keyword === 'RUN' || instruction.keyword === 'CMD' || instruction.keyword === 'ENTRYPOINT'
      ? instruction.args
      : substitute(instruction.args, vars());
    state.key = chain(state.key, instruction.keyword, args);
    switch (instruction.keyword) {
      case 'ARG':
        Object.assign(state.args, this.argValues(instruction.args, vars(), options));
        state.key = chain(state.key, JSON.stringify(state.args));
        return false;
      case 'ENV': {
        const pairs = keyValues(args, true);
        const env = new Map((exec.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e]));
        for (const [k, v] of pairs) env.set(k, `${k}=${v}`);
        exec.Env = [...env.values()];
        return false;
      }
      case 'WORKDIR':
        exec.WorkingDir = posix.resolve(exec.WorkingDir || '/', args);
        return false;
      case 'USER':
        if (!args) throw new ContainerfileError('USER needs a user');
        exec.User = args;
        return false;
      case 'ENTRYPOINT':
        exec.Entrypoint = commandForm(args);
        if (!state.cmdSet) delete exec.Cmd;
        return false;
      case 'CMD':
        exec.Cmd = commandForm(args);
        state.cmdSet = true;
        return false;
      case 'LABEL':
        exec.Labels = { ...exec.Labels, ...Object.fromEntries(keyValues(args, false)) };
        return false;
      case 'EXPOSE':
        for (const port of splitWords(args)) {
          if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(port)) throw new ContainerfileError(`EXPOSE ${port}: expected PORT or PORT/PROTOCOL`);
          exec.ExposedPorts = { ...exec.ExposedPorts, [port.includes('/') ? port : `${port}/tcp`]: {} };
        }
        return false;
      case 'RUN': {
        const command = commandForm(args);
        const key = chain(state.key, JSON.stringify(state.args));
        return this.cachedLayer(state, key, options, () => this.run(state, command, options));
      }
      case 'COPY':
      case 'ADD': {
        const { entries, digest } = await this.copyEntries(args, exec.WorkingDir || '/', context, instruction.keyword);
        return this.cachedLayer(state, chain(state.key, digest), options, () => {
          const temp = this.runtime.store.tempPath('copy-layer');
          return this.ingestLayer(temp, writeGzipLayer(entries(), temp));
        });
      }
      default:
        throw new ContainerfileError(`${instruction.keyword} is not allowed here`);
    }
  }

  /** Takes the step's layer from the cache, or makes it and remembers it. */
  private async cachedLayer(state: BuildState, key: string, options: BuildOptions, make: () => Promise<LayerBlob>): Promise<boolean> {
    state.key = key;
    const entry = join(this.cacheDir, `${key}.json`);
    let layer = options.noCache ? undefined : await readCacheEntry(entry, options);
    const cached = layer !== undefined && (await this.runtime.store.hasBlob(layer.digest));
    if (!cached) {
      layer = await make();
      await writeFileAtomic(entry, JSON.stringify(layer));
    }
    state.layers.push({ mediaType: MEDIA.layerGzip, digest: layer!.digest, size: layer!.size });
    state.config.rootfs = { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, layer!.diffId] };
    return cached;
  }

  private async ingestLayer(path: string, written: Promise<LayerBlob>): Promise<LayerBlob> {
    const layer = await written;
    await this.runtime.store.ingestFile(path, { digest: layer.digest, size: layer.size, what: 'build layer' });
    return layer;
  }

  /** RUN: the command in a build container on the image so far; its writable layer is the step's layer. */
  private async run(state: BuildState, command: string[], options: BuildOptions): Promise<LayerBlob> {
    const store = this.runtime.store;
    const configDescriptor = await store.putJson(state.config, MEDIA.config);
    const manifest = { schemaVersion: 2 as const, mediaType: MEDIA.manifest, config: configDescriptor, layers: state.layers };
    const image: ResolvedImage = { name: `build of ${options.tag}`, descriptor: await store.putJson(manifest, MEDIA.manifest), manifest, config: state.config };
    const argEnv = Object.entries(state.args).map(([k, v]) => `${k}=${v}`);
    // ARG values reach RUN as environment; ENV of the same name wins, as in Docker.
    const container = await this.runtime.create(image, { command, env: [...argEnv, ...(state.config.config?.Env ?? [])], network: 'host' }, options);
    try {
      const workdir = state.config.config?.WorkingDir;
      if (workdir) await resolveInside(await this.runtime.mountRootfs(container.id), entryComponents(workdir.slice(1), 'WORKDIR'), 'WORKDIR', workdir);
      const abort = () => { void this.runtime.kill(container.id).catch(() => {}); };
      options.signal?.addEventListener('abort', abort);
      try {
        await this.runtime.start(container.id, { onOutput: options.onOutput ?? (() => {}) });
        const info = await this.runtime.wait(container.id);
        options.signal?.throwIfAborted();
        if (info.exitCode !== 0) throw new BuildError(`RUN ${command.join(' ')}: exit status ${info.exitCode ?? 'unknown'}${info.oomKilled ? ' (out of memory)' : ''}`);
      } finally {
        options.signal?.removeEventListener('abort', abort);
      }
      const snapshot = await new Snapshots(this.runtime).take(container.id);
      const layerFile = join(this.runtime.root, 'containers', container.id, 'snapshots', snapshot.id, 'layer.tar.gz');
      await store.ingest(createReadStream(layerFile) as AsyncIterable<Buffer>, { digest: snapshot.layer.digest, size: snapshot.layer.size, what: 'RUN layer' });
      return snapshot.layer;
    } finally {
      await this.runtime.remove(container.id, { force: true });
      // The build container's image existed only for this step.
      await store.collectGarbage([configDescriptor.digest, image.descriptor.digest]);
    }
  }

  /**
   * COPY/ADD: the sources' files as layer entries under the destination, and a digest of
   * their content for the cache key. Sources must stay inside the build context.
   */
  private async copyEntries(args: string, workdir: string, context: string, keyword: string) {
    const words = splitWords(args);
    let owner: { uid: number; gid: number } | undefined;
    while (words[0]?.startsWith('--')) {
      const flag = words.shift()!;
      const chown = /^--chown=(\d+)(?::(\d+))?$/.exec(flag);
      if (!chown) throw new ContainerfileError(`${keyword} ${flag}: only --chown=UID[:GID] is supported`);
      owner = { uid: Number(chown[1]), gid: Number(chown[2] ?? chown[1]) };
    }
    if (words.length < 2) throw new ContainerfileError(`${keyword} needs at least one source and a destination`);
    const dest = words.pop()!;
    const destPath = posix.resolve(workdir, dest).slice(1);
    const intoDir = dest.endsWith('/') || words.length > 1;
    const files: CopyFile[] = [];
    for (const source of words) {
      if (/^[a-z]+:\/\//i.test(source)) throw new ContainerfileError(`${keyword} ${source}: only files of the build context can be added`);
      const hostPath = resolve(context, source);
      const rel = relative(context, hostPath);
      if (rel === '..' || rel.startsWith(`..${sep}`)) throw new ContainerfileError(`${keyword} ${source}: outside the build context`);
      const real = await fs.realpath(hostPath).catch(() => { throw new ContainerfileError(`${keyword} ${source}: no such file in the build context`); });
      if (real !== context && !real.startsWith(context + sep)) throw new ContainerfileError(`${keyword} ${source}: resolves outside the build context`);
      const stat = await fs.stat(real);
      if (stat.isDirectory()) {
        if (destPath) files.push({ archivePath: destPath, hostPath: real, mode: stat.mode & 0o7777, type: 'dir' });
        await walk(real, destPath, files);
      } else {
        const name = intoDir ? posix.join(destPath, posix.basename(source)) : destPath;
        files.push({ archivePath: name, hostPath: real, mode: stat.mode & 0o7777, type: 'file' });
      }
    }
    const hash = createHash('sha256').update(JSON.stringify({ owner, files: files.map(({ hostPath: _, ...f }) => f) }));
    for (const f of files) if (f.type === 'file') for await (const chunk of createReadStream(f.hostPath)) hash.update(chunk as Buffer);
    const entries = async function* (): AsyncGenerator<TarInput> {
      for (const f of files) {
        const base = { path: f.archivePath, mode: f.mode, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 };
        if (f.type === 'file') yield { entry: { ...base, type: 'file', size: (await fs.stat(f.hostPath)).size }, body: createReadStream(f.hostPath) as AsyncIterable<Buffer> };
        else if (f.type === 'dir') yield { entry: { ...base, type: 'dir' } };
        else yield { entry: { ...base, type: 'symlink', linkname: f.linkname } };
      }
    };
    return { entries, digest: hash.digest('hex') };
  }
}

/**
 * The layer a build-cache entry remembers. A damaged entry (a crash before entries were written
 * atomically, a damaged disk) is a miss, reported through onProgress: the step is made again and
 * the entry replaced.
 */
async function readCacheEntry(path: string, options: OperationOptions): Promise<LayerBlob | undefined> {
  const text = await fs.readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch { /* judged below */ }
  if (isLayerBlob(value)) return value;
  options.onProgress?.({ phase: 'build cache', item: `${path} is damaged: the step is made again` });
  return undefined;
}

/** A directory's content as copy entries, in a stable order; symlinks stay symlinks. */
async function walk(dir: string, archiveDir: string, out: CopyFile[]): Promise<void> {
  for (const name of (await fs.readdir(dir)).sort()) {
    const hostPath = join(dir, name);
    const archivePath = archiveDir ? `${archiveDir}/${name}` : name;
    const stat = await fs.lstat(hostPath);
    if (stat.isSymbolicLink()) out.push({ archivePath, hostPath, mode: 0o777, type: 'symlink', linkname: await fs.readlink(hostPath) });
    else if (stat.isDirectory()) {
      out.push({ archivePath, hostPath, mode: stat.mode & 0o7777, type: 'dir' });
      await walk(hostPath, archivePath, out);
    } else if (stat.isFile()) out.push({ archivePath, hostPath, mode: stat.mode & 0o7777, type: 'file' });
  }
}
