// The VM library on disk: definitions (vm.json), the library of VM folders, snapshots, clones and
// saved-state files. See README.md beside this file.
export {
  VmLibrary, defaultVmsRoot,
  type CreateVmOptions, type ModifyVmOptions, type CloneOptions, type VmSummary, type VmInfo, type VmDiskInfo, type RunningVm,
} from './library.ts';
export { VmFolder, RUNNING, type VmState } from './folder.ts';
export { type VmConfig, type SnapshotRecord, type MachineSettings, type BootConfig, MAX_CPUS, MIN_MEMORY_MIB, MAX_MEMORY_MIB } from './config.ts';
export { takeSnapshot, restoreSnapshot, type TakeOptions, type RestoreOptions, type SnapshotTree, type SnapshotNode } from './snapshots.ts';
export { listPresets, loadPreset, type Preset } from './presets.ts';
export {
  VmError, VmArgumentError, VmNotFoundError, VmConflictError, VmStateError, VmConfigError,
} from './errors.ts';
