// The containers service: one root folder, and the parts that work on it — the image store,
// the runc runtime, snapshots, builds, and registry clients configured from
// ROOT/registries.json ({"insecure": ["localhost:5000"], "auth": {"host:port": {"username", "password"}}}).
// This is what engine/api exposes; it writes nothing to the console and never exits the process.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importArchive, exportArchive, type ArchiveFormat } from './archive.ts';
import { Builder } from './build.ts';
import { ContainerError } from './errors.ts';
import { defaultContainersRoot, type OperationOptions } from './operation.ts';
import { RegistryClient, type Credentials, type RegistryOptions } from './registry.ts';
import { ContainerRuntime } from './runtime.ts';
import { Snapshots } from './snapshots.ts';
import type { ImageStore, ResolvedImage } from './store.ts';

export interface RegistryConfig {
  /** Loopback registries reached over plain HTTP without --insecure. */
  insecure?: string[];
  auth?: Record<string, Credentials>;
}

export class ContainersService {
  readonly runtime: ContainerRuntime;
  readonly snapshots: Snapshots;
  readonly builder: Builder;

  constructor(readonly root: string = defaultContainersRoot()) {
    this.runtime = new ContainerRuntime(root);
    this.snapshots = new Snapshots(this.runtime);
    this.builder = new Builder(this.runtime);
  }

  get store(): ImageStore {
    return this.runtime.store;
  }

  /** Prepares the root folder (and checks the host is Linux). */
  async init(): Promise<this> {
    await this.runtime.init();
    return this;
  }

  async registryConfig(): Promise<RegistryConfig> {
    const path = join(this.root, 'registries.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return {};
    }
    try {
      return JSON.parse(text) as RegistryConfig;
    } catch {
      throw new ContainerError(`${path}: not valid JSON`);
    }
  }

  async registry(options: Pick<RegistryOptions, 'insecure' | 'platform'> = {}): Promise<RegistryClient> {
    const config = await this.registryConfig();
    return new RegistryClient(this.store, { ...options, insecureRegistries: config.insecure, auth: config.auth });
  }

  /** Removes an image name; blobs and unpacked root filesystems nothing else uses go with it. */
  async removeImage(name: string): Promise<void> {
    await this.store.remove(name);
    await this.runtime.pruneRootfs();
  }

  importArchive(file: string, tag?: string, options?: OperationOptions): Promise<ResolvedImage[]> {
    return importArchive(this.store, file, tag, options);
  }

  exportArchive(name: string, file: string, format: ArchiveFormat, options?: OperationOptions): Promise<void> {
    return exportArchive(this.store, name, file, format, options);
  }
}

export { defaultContainersRoot } from './operation.ts';
export type { Progress, OperationOptions } from './operation.ts';
export * from './errors.ts';
export type { ContainerInfo, ContainerStats, Terminal, CreateOptions, OutputListener } from './runtime.ts';
export type { SnapshotInfo } from './snapshots.ts';
export type { BuildOptions, BuildResult } from './build.ts';
export type { ImageSummary, ImageDetails } from './store.ts';
export type { ArchiveFormat } from './archive.ts';
