// The Debian guest: Debian's own riscv64 kernel, OpenSBI, busybox and a few dynamically linked
// programs (e2fsprogs' mkfs.ext4 and fsck.ext4; assets/guests/debian.json says which packages,
// programs and modules), fetched through the host's Debian mirror, verified from the
// signed InRelease down to each .deb's SHA256, unpacked here, and an initramfs built around them.
//
// Cache layout ($HANGAR_CACHE, else $XDG_CACHE_HOME/hangar, else ~/.cache/hangar):
//   guests/debian-SUITE-ARCH/guest.json        what was resolved and built, with SHA256s
//   guests/debian-SUITE-ARCH/debs/*.deb        the packages, as the index gives them
//   guests/debian-SUITE-ARCH/kernel-RELEASE    the kernel Image
//   guests/debian-SUITE-ARCH/fw_dynamic-VERSION.bin
//   guests/debian-SUITE-ARCH/initrd-KEY.cpio.gz  KEY hashes the recipe, /init, the agent and the input .debs
// A later run uses guest.json without the network, after checking every file's SHA256 again;
// only `refresh` (hangar guest fetch) asks the mirror for newer packages.
import { gunzipSync } from 'node:zlib';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { findDebianMirror } from './apt-sources.ts';
import { cacheRoot, sha256FileIfPresent } from './cache.ts';
import { isTemporaryName, removeStaleTemporaries, writeFileAtomic } from '../common/atomic-file.ts';
import { readBody, readDebData, xzDecompressBuffer } from './deb.ts';
import { GuestError, HttpError, MismatchError } from './errors.ts';
import { downloadFile, fetchBuffer } from './http.ts';
import type { CpioEntry } from './cpio.ts';
import { buildInitramfs, type InitramfsModule } from './initramfs.ts';
import { loadOrder, moduleInfo, moduleNameOf, type ModuleInfo } from './kernel-modules.ts';
import { PackageIndex, parsePackages, type DebianPackage } from './packages.ts';
import { programEntries, readPackageFiles } from './programs.ts';
import { parseRelease, verifyInRelease, type Release } from './release.ts';
import { BootError } from '../machine/errors.ts';
import { EM_RISCV, parseKernel } from '../machine/kernel-image.ts';

/** Bumped whenever the initramfs builder's output changes for the same inputs. */
const INITRAMFS_FORMAT = 1;
const MANIFEST_FORMAT = 1;
const ASSETS = new URL('../../assets/guests/', import.meta.url);
/** The guest agent (engine/vm/agent.ts is its host side), which /init starts on hvc0. */
const AGENT = new URL('./hangar-agent.sh', import.meta.url);
const AGENT_PATH = 'usr/sbin/hangar-agent';

/** What a package is for; `programs` holds a program's package and everything it depends on. */
type Role = 'kernel' | 'busybox' | 'firmware' | 'programs';

export interface Recipe {
  suite: string;
  architecture: string;
  component: string;
  packages: Record<Exclude<Role, 'programs'>, string>;
  programs: {
    /** Packages whose programs the guest gets, with the libraries they depend on. */
    packages: string[];
    /** The programs (package paths; links are followed and kept). */
    install: string[];
    /** The guest's dynamic loader's system search path, in its order. */
    libraryPath: string[];
  };
  firmwarePath: string;
  busyboxPaths: string[];
  modules: string[];
  init: string;
  hostname: string;
  bootargs: string;
}

export interface PinnedPackage {
  role: Role;
  name: string;
  version: string;
  filename: string;
  sha256: string;
  size: number;
}

interface Product { file: string; sha256: string }

interface Manifest {
  format: number;
  packages: PinnedPackage[];
  kernel: Product & { release: string };
  firmware: Product;
  initrd: Product & { key: string };
}

export interface GuestProgress {
  phase: 'index' | 'download' | 'unpack' | 'initramfs';
  item: string;
  done?: number;
  total?: number;
}

export interface EnsureGuestOptions {
  signal?: AbortSignal;
  /** A one-line description of the current step, and the same as data. */
  onProgress?: (line: string, progress: GuestProgress) => void;
  /** The mirror's URL; default: HANGAR_DEBIAN_MIRROR, then the host's apt sources. */
  mirror?: string;
  /** Ask the mirror for the newest packages even when the cache holds a complete guest. */
  refresh?: boolean;
  env?: NodeJS.ProcessEnv;
  /** The keyrings InRelease is checked against; Debian's archive keyring by default. */
  keyrings?: string[];
}

export interface DebianGuest {
  firmware: string;
  kernel: string;
  initrd: string;
  bootargs: string;
  kernelRelease: string;
  packages: PinnedPackage[];
  /** The cache folder holding all of it. */
  directory: string;
  /** False when everything came from the cache without asking the mirror. */
  fetched: boolean;
}

export async function loadRecipe(): Promise<{ recipe: Recipe; init: string; agent: string }> {
  const recipe = JSON.parse(await readFile(new URL('debian.json', ASSETS), 'utf8')) as Recipe;
  const init = await readFile(new URL(recipe.init, ASSETS), 'utf8');
  return { recipe, init, agent: await readFile(AGENT, 'utf8') };
}

export function guestDirectory(recipe: Recipe, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'guests', `debian-${recipe.suite}-${recipe.architecture}`);
}

const MiB = (n: number) => (n / (1024 * 1024)).toFixed(1);
const safeName = (text: string) => text.replace(/[^A-Za-z0-9.+_-]/g, '_');

/** What is cached, without checking it or touching the network; null when nothing is. */
export async function cachedDebianGuest(env: NodeJS.ProcessEnv = process.env): Promise<DebianGuest | null> {
  const { recipe } = await loadRecipe();
  const directory = guestDirectory(recipe, env);
  const manifest = await readManifest(directory);
  return manifest && guestFrom(directory, recipe, manifest, false);
}

/** The kernel, firmware and initramfs of the Debian guest, fetched and built when not cached. */
export async function ensureDebianGuest(options: EnsureGuestOptions = {}): Promise<DebianGuest> {
  const { recipe, init, agent } = await loadRecipe();
  const directory = guestDirectory(recipe, options.env);
  await mkdir(join(directory, 'debs'), { recursive: true });
  const previous = await readManifest(directory);
  const builder = new GuestBuilder(directory, recipe, init, agent, previous, options);
  if (previous && !options.refresh && pinsRecipe(previous, recipe)) {
    const cached = await builder.assemble(previous.packages, null);
    if (cached) return cached;
  }
  const mirror = findDebianMirror(options.mirror, options.env);
  const packages = await resolvePackages(mirror, recipe, options);
  const guest = await builder.assemble(packages, mirror);
  if (!guest) throw new GuestError('internal: packages missing after download');
  return guest;
}

/** Whether a manifest was made for every package the recipe names (a recipe may have grown since). */
function pinsRecipe(manifest: Manifest, recipe: Recipe): boolean {
  const wanted: Array<[Role, string]> = [
    ...Object.entries(recipe.packages) as Array<[Role, string]>,
    ...recipe.programs.packages.map((name): [Role, string] => ['programs', name]),
  ];
  return wanted.every(([role, name]) => manifest.packages.some((p) => p.role === role && p.name === name));
}

async function readManifest(directory: string): Promise<Manifest | null> {
  try {
    const manifest = JSON.parse(await readFile(join(directory, 'guest.json'), 'utf8')) as Manifest;
    return manifest.format === MANIFEST_FORMAT ? manifest : null;
  } catch {
    return null;
  }
}

function guestFrom(directory: string, recipe: Recipe, manifest: Manifest, fetched: boolean): DebianGuest {
  return {
    firmware: join(directory, manifest.firmware.file),
    kernel: join(directory, manifest.kernel.file),
    initrd: join(directory, manifest.initrd.file),
    bootargs: recipe.bootargs,
    kernelRelease: manifest.kernel.release,
    packages: manifest.packages,
    directory,
    fetched,
  };
}

/**
 * InRelease (signature checked) → Packages index (SHA256 checked) → the recipe's packages.
 * A mirror part-way through a sync (or a caching proxy in front of one) can serve an InRelease
 * newer than its index files; apt then fails with "Mirror sync in progress?". We first ask for
 * the index by its digest (by-hash, when the Release offers it), then try the same release under
 * its other signed name (dists/stable for trixie), which may be consistent; never an unverified file.
 */
async function resolvePackages(mirror: string, recipe: Recipe, options: EnsureGuestOptions): Promise<PinnedPackage[]> {
  const { signal, onProgress } = options;
  const progress = (item: string) => (done: number, total: number | undefined) =>
    onProgress?.(`index ${item} ${MiB(done)}${total ? `/${MiB(total)}` : ''} MiB`, { phase: 'index', item, done, total });
  const names = [recipe.suite];
  const mismatches: string[] = [];
  for (const name of names) {
    const dists = `${mirror}/dists/${name}`;
    const inRelease = await fetchBuffer(`${dists}/InRelease`, { signal, onProgress: progress(`${name}/InRelease`) });
    const release = parseRelease(await verifyInRelease(inRelease, options.keyrings));
    if (release.codename !== recipe.suite) {
      throw new GuestError(`${dists}/InRelease is signed for ${release.codename || release.suite}, not ${recipe.suite}`);
    }
    if (release.suite && !names.includes(release.suite)) names.push(release.suite);
    const loadIndex = async (binary: string): Promise<DebianPackage[]> => {
      const base = `${recipe.component}/binary-${binary}`;
      const [file, expected] = indexFile(release, `${base}/Packages`);
      const urls = [`${dists}/${base}/${file}`];
      if (release.acquireByHash) urls.unshift(`${dists}/${base}/by-hash/SHA256/${expected.sha256}`);
      const data = await fetchFirst(urls, (url) => fetchBuffer(url, { signal, onProgress: progress(`${name}/${base}/${file}`) }, expected));
      const text = file.endsWith('.xz') ? await xzDecompressBuffer(data, file) : gunzipSync(data);
      return parsePackages(text.toString('utf8'));
    };
    try {
      const roles = Object.entries(recipe.packages) as [Role, string][];
      const roots = [...roles.map(([, pkg]) => pkg), ...recipe.programs.packages];
      const complete = (index: PackageIndex) => roots.every((pkg) => index.find({ name: pkg })) &&
        recipe.programs.packages.every((pkg) => index.closure(pkg).missing.length === 0);
      const native = await loadIndex(recipe.architecture);
      let index = new PackageIndex(native);
      // Archives that list Architecture: all packages only in binary-all.
      if (!complete(index)) index = new PackageIndex([...native, ...await loadIndex('all')]);
      const pin = (role: Role) => (p: DebianPackage): PinnedPackage => ({
        role, name: p.name, version: p.version, filename: p.filename, sha256: p.sha256, size: p.size,
      });
      const programs = new Map<string, PinnedPackage>();
      for (const pkg of recipe.programs.packages) {
        const { packages, missing } = index.closure(pkg);
        if (missing.length) throw new GuestError(`${pkg}: the index does not satisfy ${missing.join(', ')}`);
        for (const p of packages) programs.set(p.name, pin('programs')(p));
      }
      return [...roles.flatMap(([role, pkg]) => index.resolve(pkg).map(pin(role))), ...programs.values()];
    } catch (err) {
      if (!(err instanceof MismatchError || (err instanceof HttpError && err.status === 404))) throw err;
      mismatches.push(err.message);
    }
  }
  throw new GuestError(
    `the mirror's index files do not match its signed InRelease (mirror sync in progress? try again later or pass another mirror with --mirror URL): ${mismatches.join('; ')}`,
  );
}

/** The first URL that answers (a 404 moves on to the next); other errors stop. */
async function fetchFirst<T>(urls: string[], get: (url: string) => Promise<T>): Promise<T> {
  for (const [i, url] of urls.entries()) {
    try {
      return await get(url);
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404) || i === urls.length - 1) throw err;
    }
  }
  throw new GuestError('no URL to fetch');
}

function indexFile(release: Release, base: string): [string, { sha256: string; size: number }] {
  for (const path of [`${base}.xz`, `${base}.gz`]) {
    const entry = release.files.get(path);
    if (entry) return [path.slice(path.lastIndexOf('/') + 1), entry];
  }
  throw new GuestError(`the Release file lists no ${base}.xz or ${base}.gz (does the suite publish this architecture?)`);
}

/** The compressed module files of a kernel package, read lazily into ModuleInfo. */
interface KernelPackageFiles {
  image: Buffer;
  release: string;
  modules: Map<string, { path: string; data: Buffer }>;
  builtin: Set<string>;
}

async function decompressModule(path: string, data: Buffer): Promise<Buffer> {
  if (path.endsWith('.xz')) return xzDecompressBuffer(data, path);
  if (path.endsWith('.gz')) return gunzipSync(data);
  if (path.endsWith('.zst')) throw new GuestError(`${path}: zstd-compressed kernel modules are not supported`);
  return data;
}

class GuestBuilder {
  constructor(
    private readonly directory: string,
    private readonly recipe: Recipe,
    private readonly init: string,
    private readonly agent: string,
    private readonly previous: Manifest | null,
    private readonly options: EnsureGuestOptions,
  ) {}

  private debPath(p: PinnedPackage): string {
    return join(this.directory, 'debs', basename(p.filename));
  }

  private progress(line: string, progress: GuestProgress): void {
    this.options.onProgress?.(line, progress);
  }

  /**
   * Whether a product of the previous run can be kept: made from the same packages of `role`
   * (null: its key already covers its inputs), and the same bytes still on disk.
   */
  private async reusable(product: Product | undefined, role: Role | null, packages: PinnedPackage[]): Promise<boolean> {
    if (!product || !this.previous) return false;
    const digests = (list: PinnedPackage[]) => list.filter((p) => p.role === role).map((p) => p.sha256).join(' ');
    if (role && digests(this.previous.packages) !== digests(packages)) return false;
    return (await sha256FileIfPresent(join(this.directory, product.file))) === product.sha256;
  }

  /**
   * Builds (or keeps) every product from `packages`. Without a mirror, a missing or damaged
   * .deb that a product needs makes it return null: the caller then asks the mirror.
   */
  async assemble(packages: PinnedPackage[], mirror: string | null): Promise<DebianGuest | null> {
    const { signal } = this.options;
    const prev = this.previous;
    const initrdKey = this.initrdKey(packages);
    const keepKernel = await this.reusable(prev?.kernel, 'kernel', packages);
    const keepFirmware = await this.reusable(prev?.firmware, 'firmware', packages);
    const keepInitrd = prev?.initrd.key === initrdKey && await this.reusable(prev.initrd, null, packages);
    const needed = packages.filter((p) =>
      (p.role === 'kernel' && !(keepKernel && keepInitrd)) || ((p.role === 'busybox' || p.role === 'programs') && !keepInitrd) ||
      (p.role === 'firmware' && !keepFirmware));
    for (const p of needed) {
      if ((await sha256FileIfPresent(this.debPath(p))) === p.sha256) continue;
      if (!mirror) return null;
      const item = basename(p.filename);
      await downloadFile(`${mirror}/${p.filename}`, this.debPath(p), p, {
        signal,
        onProgress: (done, total) => this.progress(`download ${item} ${MiB(done)}/${MiB(total ?? p.size)} MiB`, { phase: 'download', item, done, total }),
      });
    }
    const debsOf = (role: Role) => packages.filter((p) => p.role === role).map((p) => this.debPath(p));

    let kernel = keepKernel ? prev!.kernel : undefined;
    let initrd = keepInitrd ? prev!.initrd : undefined;
    if (!kernel || !initrd) {
      const files = await this.readKernelPackage(debsOf('kernel'));
      kernel ??= { ...(await this.writeProduct(`kernel-${safeName(files.release)}`, files.image)), release: files.release };
      if (!initrd) {
        const [busybox] = await this.extract(debsOf('busybox'), this.recipe.busyboxPaths, 'busybox');
        checkRiscvElf(busybox!, 'busybox');
        this.progress('initramfs: resolving kernel modules', { phase: 'initramfs', item: 'modules' });
        const modules = await this.modulesFor(files);
        this.progress('initramfs: programs and their libraries', { phase: 'initramfs', item: 'programs' });
        const programs = programEntries(await readPackageFiles(debsOf('programs'), signal), { ...this.recipe.programs, machine: EM_RISCV });
        this.progress(`initramfs: ${modules.length} modules, ${programs.length} program files`, { phase: 'initramfs', item: 'cpio' });
        const agent: CpioEntry = { type: 'file', path: AGENT_PATH, mode: 0o755, data: Buffer.from(this.agent) };
        const image = buildInitramfs({
          busybox: busybox!, init: this.init, hostname: this.recipe.hostname, kernelRelease: files.release, modules, files: [...programs, agent],
        });
        initrd = { ...(await this.writeProduct(`initrd-${initrdKey.slice(0, 16)}.cpio.gz`, image)), key: initrdKey };
      }
    }
    let firmware = keepFirmware ? prev!.firmware : undefined;
    if (!firmware) {
      const [bytes] = await this.extract(debsOf('firmware'), [this.recipe.firmwarePath], 'firmware');
      const version = packages.find((p) => p.role === 'firmware')!.version;
      firmware = await this.writeProduct(`${basename(this.recipe.firmwarePath, '.bin')}-${safeName(version)}.bin`, bytes!);
    }
    signal?.throwIfAborted();
    const manifest: Manifest = { format: MANIFEST_FORMAT, packages, kernel, firmware, initrd };
    await writeFileAtomic(join(this.directory, 'guest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await this.removeStale(manifest);
    return guestFrom(this.directory, this.recipe, manifest, mirror !== null);
  }

  private initrdKey(packages: PinnedPackage[]): string {
    const inputs = packages.filter((p) => p.role !== 'firmware').map((p) => p.sha256);
    return createHash('sha256').update(JSON.stringify({ INITRAMFS_FORMAT, recipe: this.recipe, init: this.init, agent: this.agent, inputs })).digest('hex');
  }

  private async writeProduct(file: string, data: Buffer): Promise<Product> {
    await writeFileAtomic(join(this.directory, file), data);
    return { file, sha256: createHash('sha256').update(data).digest('hex') };
  }

  /** The first of `paths` found in the packages, as bytes. */
  private async extract(debs: string[], paths: string[], what: string): Promise<Buffer[]> {
    for (const deb of debs) {
      this.progress(`unpack ${basename(deb)}`, { phase: 'unpack', item: basename(deb) });
      for await (const record of readDebData(deb)) {
        this.options.signal?.throwIfAborted();
        if (record.entry.type === 'file' && paths.includes(record.entry.path)) return [await readBody(record)];
      }
    }
    throw new GuestError(`${what}: none of ${paths.join(', ')} is in ${debs.map((d) => basename(d)).join(', ')}`);
  }

  private async readKernelPackage(debs: string[]): Promise<KernelPackageFiles> {
    let image: Buffer | undefined;
    let release: string | undefined;
    const modules = new Map<string, { path: string; data: Buffer }>();
    const builtin = new Set<string>();
    for (const deb of debs) {
      this.progress(`unpack ${basename(deb)}`, { phase: 'unpack', item: basename(deb) });
      for await (const record of readDebData(deb)) {
        this.options.signal?.throwIfAborted();
        const { path, type } = record.entry;
        if (type !== 'file') continue;
        const boot = /^boot\/(?:vmlinux|vmlinuz|Image)-(.+)$/.exec(path);
        const module = /^(?:usr\/)?lib\/modules\/([^/]+)\/(.+)$/.exec(path);
        if (boot) {
          image = await readBody(record);
          release = boot[1]!;
          checkKernelImage(image, `${basename(deb)}: /${path}`);
        } else if (module && /\.ko(\.(xz|gz|zst))?$/.test(module[2]!)) {
          modules.set(moduleNameOf(module[2]!), { path: module[2]!, data: await readBody(record) });
        } else if (module && module[2] === 'modules.builtin') {
          for (const line of (await readBody(record)).toString().split('\n')) if (line) builtin.add(moduleNameOf(line));
        }
      }
    }
    if (!image || !release) throw new GuestError(`no kernel image under /boot in ${debs.map((d) => basename(d)).join(', ')}`);
    return { image, release, modules, builtin };
  }

  /** The recipe's modules and what they need, decompressed, in load order. */
  private async modulesFor(files: KernelPackageFiles): Promise<InitramfsModule[]> {
    const plain = new Map<string, Buffer>();
    const lookup = async (name: string): Promise<ModuleInfo | undefined> => {
      const found = files.modules.get(name);
      if (!found) return undefined;
      const data = await decompressModule(found.path, found.data);
      plain.set(name, data);
      return moduleInfo(found.path.replace(/\.(xz|gz|zst)$/, ''), data);
    };
    const order = await loadOrder(this.recipe.modules, lookup, files.builtin);
    const byName = new Map<string, InitramfsModule>();
    return order.map((m) => {
      const needs = new Set<string>();
      for (const dependency of m.depends) {
        const d = byName.get(dependency);
        if (d) for (const path of [d.path, ...d.needs]) needs.add(path);
      }
      const module: InitramfsModule = { path: m.path, needs: [...needs], data: plain.get(m.name)! };
      byName.set(m.name, module);
      return module;
    });
  }

  /** Deletes what an earlier version left behind: old .debs, kernels, initramfs images. */
  private async removeStale(manifest: Manifest): Promise<void> {
    const keep = new Set(['guest.json', 'debs', manifest.kernel.file, manifest.firmware.file, manifest.initrd.file]);
    const keepDebs = new Set(manifest.packages.map((p) => basename(p.filename)));
    for (const [folder, kept] of [[this.directory, keep], [join(this.directory, 'debs'), keepDebs]] as const) {
      await removeStaleTemporaries(folder);
      for (const name of await readdir(folder)) {
        if (!kept.has(name) && !isTemporaryName(name)) await rm(join(folder, name), { force: true });
      }
    }
  }
}

/** The kernel must be one the board boots (a RISC-V Image or ELF): a compressed vmlinuz is not. */
function checkKernelImage(data: Buffer, what: string): void {
  try {
    parseKernel(data);
  } catch (err) {
    if (err instanceof BootError) throw new GuestError(`${what}: ${err.message}`);
    throw err;
  }
}

/** busybox-static must be a RISC-V ELF: the guest runs it as its every command. */
function checkRiscvElf(data: Buffer, what: string): void {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46 || data.readUInt16LE(0x12) !== EM_RISCV) {
    throw new GuestError(`${what}: not a RISC-V ELF executable`);
  }
}
