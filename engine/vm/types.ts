// The VMs' data as the API carries it: Node-free, so that the renderer's `import type`s of the
// API reach no Node module. The modules that make these values re-export them.
export interface BootConfig {
  firmware: string;
  kernel: string;
  initrd: string | null;
  append: string;
}

export interface MachineSettings {
  cpus: number;
  /** MiB. */
  memory: number;
  boot: BootConfig;
}

/** What a NIC is connected to: the user-mode NAT (engine/net). Internal networks are not built yet. */
export type NicKind = 'nat';

export interface SnapshotRecord {
  id: string;
  name: string;
  description: string;
  created: string;
  parent: string | null;
  disks: string[];
  state: string | null;
  machine: MachineSettings;
}

export type VmState = 'powered-off' | 'saved' | 'running';

export interface VmSummary {
  id: string;
  name: string;
  state: VmState | 'invalid';
  cpus?: number;
  memory?: number;
  snapshots?: number;
  /** Why the VM cannot be used (a damaged vm.json), when state is "invalid". */
  problem?: string;
}

export interface VmDiskInfo {
  file: string;
  serial: string;
  readOnly: boolean;
  virtualSize: number;
  /** Bytes the current overlay occupies (the snapshots' frozen images are counted with them). */
  sizeOnDisk: number;
}

export interface VmInfo {
  id: string;
  name: string;
  folder: string;
  state: VmState;
  created: string;
  preset: string;
  cpus: number;
  memory: number;
  boot: BootConfig;
  disks: VmDiskInfo[];
  /** The VM's MAC address (its first NIC's; NIC n has this plus n). */
  mac: string;
  /** Its network cards, in order (eth0, eth1, ...). */
  nics: NicKind[];
  machineId: string;
  savedState: boolean;
  linkedClone: { vm: string; vmName: string | null; snapshot: string; snapshotName: string | null } | null;
  linkedClones: string[];
  snapshots: number;
  currentSnapshot: { id: string; name: string } | null;
  /** Everything in the VM's folder. */
  sizeOnDisk: number;
}

export interface Preset {
  id: string;
  name: string;
  description: string;
  boot: 'debian-guest' | 'files';
  cpus: number;
  /** MiB. */
  memory: number;
  diskGiB: number;
  append: string | null;
}

export interface SnapshotNode {
  id: string;
  name: string;
  description: string;
  created: string;
  /** Whether it holds the machine's state (RAM): restoring it resumes rather than boots. */
  ram: boolean;
  cpus: number;
  memory: number;
  /** Bytes its frozen images and state file occupy. */
  sizeOnDisk: number;
  /**
   * About how much deleting it gives back: its size less what its children take over in the
   * merge (negative when several children each take a copy); null when linked clones keep it.
   */
  freedByDelete: number | null;
  linkedClones: string[];
  /** The current state grew from this snapshot. */
  current: boolean;
  children: SnapshotNode[];
}

export interface SnapshotTree {
  roots: SnapshotNode[];
  /** The current state: its parent snapshot and what its overlays and saved state occupy. */
  current: { parent: string | null; sizeOnDisk: number };
}

/** A running VM's resource use: CPU seconds its harts have run (the UI takes the rate), its RAM. */
export interface VmUsage {
  cpuSeconds: number;
  memoryBytes: number;
}
