// The containers' data as the API carries it: Node-free, so that the renderer's `import type`s
// of the API reach no Node module. The modules that make and use these values re-export them.

// The OCI image spec's documents (image-spec descriptor.md, manifest.md, image-index.md, config.md).
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime part of an image config: what a container runs by default. */
export interface ExecConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  config?: ExecConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** A layer as stored: digest of the gzip blob, diff_id of its tar, bytes stored. */
export interface LayerBlob { digest: string; diffId: string; size: number }

export interface ImageSummary {
  name: string;
  /** The manifest's digest: the image's identity. */
  digest: string;
  /** Bytes of config and layers as stored. */
  size: number;
  created?: string;
  architecture: string;
}

export interface ImageDetails extends ImageSummary {
  manifest: Manifest;
  config: ImageConfig;
}

export interface SnapshotInfo {
  id: string;
  /** Unique among the container's snapshots; what the CLI and the app call it. */
  name: string;
  created: string;
  /** The OCI layer: digest of the gzip blob, diff_id of its tar, bytes stored. */
  layer: LayerBlob;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'exited';

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  command: string[];
  created: string;
  status: ContainerStatus;
  tty: boolean;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** The kernel's OOM killer ended a process of the container (memory limit reached). */
  oomKilled?: boolean;
  /** The monitor vanished without recording the exit (host crash): the status is unknown. */
  lost?: boolean;
}

export interface ContainerStats {
  cpuSeconds: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
  pids: number;
  pidsLimit?: number;
}
