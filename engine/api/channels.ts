// THE service API: one map of channels named `domain:verb`, each with the schema of its one
// argument (a record) and the type of its result. Every transport (in-process, Electron IPC,
// WebSocket) carries exactly this map; the IPC handler table and the preload are generated
// from it. Errors cross as values ({ ok: false, error: { code, message } }), events (state
// changes, progress, terminal output) as the ApiEvent stream.
//
// Long calls take an `operation` id chosen by the caller: their progress events carry it, and
// `operations:cancel` with it as `id` aborts the call (which then ends with the error code 'cancelled').
//
// Pure: no Node modules (the preload and the renderer bundle this file). A new domain is a block
// added here and a handler table in the service (engine/api/domains); transports, preload and
// IPC table follow by themselves.
import type { ContainerInfo, ContainerStats, ImageDetails, ImageSummary, SnapshotInfo } from '../containers/types.ts';
import type { ErrorCode } from '../common/errors.ts';
import type { Progress } from '../common/operation.ts';
import type { Preferences } from './preferences.ts';
import type { Preset, SnapshotRecord, SnapshotTree, VmInfo, VmSummary, VmUsage } from '../vm/types.ts';
import { CONTAINER_CPUS, CONTAINER_MEMORY_BYTES, CONTAINER_NAME, CONTAINER_PIDS, KERNEL_APPEND_MAX, SNAPSHOT_DESCRIPTION_MAX, SNAPSHOT_NAME, VM_CPUS, VM_MEMORY_MIB, VM_NAME, type NameRule, type Range } from '../common/limits.ts';
import { preferencesChangeSchema } from './preferences.ts';
import { array, boolean, bytes, integer, number, object, oneOf, optional, string, type Infer, type Schema } from './schema.ts';

/** What a client checks its input with before a call (pure: the renderer bundles them). */
export * from '../common/limits.ts';
export { splitWords } from '../containers/containerfile.ts';

/** A phantom carrying a channel's result type (no value at run time). */
export interface Returns<T> { readonly __result?: T }
const returns = <T>(): Returns<T> => ({});

interface ChannelSpec<A extends Schema<unknown>, R> {
  args: A;
  result: Returns<R>;
}
const channel = <A extends Schema<unknown>, R>(args: A, result: Returns<R>): ChannelSpec<A, R> => ({ args, result });

const none = object({});
/** The schemas of names and numbers that engine/common/limits.ts rules. */
const named = (rule: NameRule) => string({ min: 1, max: rule.max, pattern: rule.pattern, patternHint: `a name of ${rule.rule}` });
const inRange = ({ min, max, whole }: Range, scale = 1) => (whole ? integer : number)({ min: min * scale, max: max * scale });
const MiB = 1024 * 1024;
/** Caller-chosen id of a long call, for its progress events and for cancelling it. */
const operationId = string({ min: 1, max: 64, pattern: /^[A-Za-z0-9_.-]+$/, patternHint: 'an operation id (letters, digits, _ . -)' });
const containerRef = string({ min: 1, max: 256 });
const imageRef = string({ min: 1, max: 512 });
const terminalId = string({ min: 1, max: 64 });
const terminalSize = { cols: integer({ min: 2, max: 1000 }), rows: integer({ min: 2, max: 1000 }) };
const envEntry = string({ min: 2, max: 32768, pattern: /^[^=\s]+=/s, patternHint: 'KEY=VALUE' });
const vmRef = string({ min: 1, max: 128 });
const vmName = named(VM_NAME);
const vmCpus = inRange(VM_CPUS);
/** Bytes, a whole number of MiB (the service checks that). */
const vmMemory = inRange(VM_MEMORY_MIB, MiB);
const snapshotRef = string({ min: 1, max: 128 });
const snapshotName = named(SNAPSHOT_NAME);
const hostPath = string({ min: 1, max: 4096 });
const guestPath = string({ min: 1, max: 4096, pattern: /^\//, patternHint: 'an absolute path in the guest' });
const signalName = string({ min: 1, max: 16, pattern: /^(SIG)?[A-Z0-9]+$|^\d+$/, patternHint: 'a signal name or number' });

export interface AppInfo {
  version: string;
  platform: string;
  /** What this engine can do now, and why not when it cannot. */
  features: Record<'containers' | 'vms', { available: boolean; reason?: string }>;
}

export interface ExecResult { exitCode: number; output: Uint8Array }

/**
 * A VM's state as the engine that owns the library sees it: the on-disk states (powered-off,
 * saved) and those of a machine it runs; 'invalid' for a VM whose vm.json cannot be used.
 */
export type VmRunState = 'powered-off' | 'saved' | 'starting' | 'running' | 'paused' | 'saving' | 'stopping' | 'invalid';

export interface VmListEntry extends Omit<VmSummary, 'state'> {
  state: VmRunState;
}

export interface VmDetails extends Omit<VmInfo, 'state'> {
  state: VmRunState;
}

export interface VmExecResult { exitCode: number; stdout: Uint8Array; stderr: Uint8Array }

export interface TerminalOpened {
  terminal: string;
  /** console: the container's own process (its terminal); shell: a shell started in it. */
  kind: 'console' | 'shell';
  /** What the console showed most recently, so a new view starts with the screen as it was. */
  backlog: Uint8Array;
}

export const channels = {
  'app:info': channel(none, returns<AppInfo>()),

  'preferences:get': channel(none, returns<Preferences>()),
  'preferences:set': channel(preferencesChangeSchema, returns<Preferences>()),

  /** `id`, not `operation`: a field named operation makes a call a long one (see the service). */
  'operations:cancel': channel(object({ id: operationId }), returns<{ cancelled: boolean }>()),

  'images:list': channel(none, returns<ImageSummary[]>()),
  'images:inspect': channel(object({ image: imageRef }), returns<ImageDetails>()),
  'images:pull': channel(object({ reference: imageRef, operation: optional(operationId) }), returns<ImageSummary>()),
  'images:remove': channel(object({ image: imageRef }), returns<null>()),
  'images:tag': channel(object({ source: imageRef, target: imageRef }), returns<ImageSummary>()),

  'containers:list': channel(none, returns<ContainerInfo[]>()),
  'containers:inspect': channel(object({ container: containerRef }), returns<ContainerInfo>()),
  'containers:create': channel(object({
    image: imageRef,
    name: optional(named(CONTAINER_NAME)),
    command: optional(array(string({ max: 32768 }), { max: 256 })),
    entrypoint: optional(array(string({ max: 32768 }), { max: 256 })),
    env: optional(array(envEntry, { max: 512 })),
    workdir: optional(string({ min: 1, max: 1024, pattern: /^\//, patternHint: 'an absolute path' })),
    user: optional(string({ min: 1, max: 256 })),
    hostname: optional(string({ min: 1, max: 253 })),
    /** Runs the process in a pseudo-terminal (a console to type in). */
    tty: optional(boolean()),
    /** Bytes. */
    memory: optional(inRange(CONTAINER_MEMORY_BYTES)),
    cpus: optional(inRange(CONTAINER_CPUS)),
    pids: optional(inRange(CONTAINER_PIDS)),
    readOnly: optional(boolean()),
    network: optional(oneOf(['none', 'host'] as const)),
    operation: optional(operationId),
  }), returns<ContainerInfo>()),
  /** A container with a terminal starts attached to one of this size (80×24 by default). */
  'containers:start': channel(object({ container: containerRef, cols: optional(terminalSize.cols), rows: optional(terminalSize.rows) }), returns<ContainerInfo>()),
  'containers:stop': channel(object({ container: containerRef, timeoutSeconds: optional(number({ min: 0, max: 3600 })) }), returns<ContainerInfo>()),
  'containers:kill': channel(object({ container: containerRef, signal: optional(signalName) }), returns<ContainerInfo>()),
  'containers:pause': channel(object({ container: containerRef }), returns<ContainerInfo>()),
  'containers:resume': channel(object({ container: containerRef }), returns<ContainerInfo>()),
  'containers:remove': channel(object({ container: containerRef, force: optional(boolean()) }), returns<null>()),
  'containers:logs': channel(object({ container: containerRef }), returns<Uint8Array>()),
  'containers:stats': channel(object({ container: containerRef }), returns<ContainerStats>()),
  'containers:exec': channel(object({ container: containerRef, command: array(string({ max: 32768 }), { max: 256 }), env: optional(array(envEntry, { max: 512 })) }), returns<ExecResult>()),
  'containers:snapshots': channel(object({ container: containerRef }), returns<SnapshotInfo[]>()),
  'containers:snapshot': channel(object({ container: containerRef }), returns<SnapshotInfo>()),
  'containers:restore': channel(object({ container: containerRef, snapshot: string({ min: 1, max: 64 }) }), returns<null>()),
  'containers:commit': channel(object({ container: containerRef, snapshot: string({ min: 1, max: 64 }), image: imageRef }), returns<ImageSummary>()),

  'vms:presets': channel(none, returns<Preset[]>()),
  'vms:list': channel(none, returns<VmListEntry[]>()),
  'vms:inspect': channel(object({ vm: vmRef }), returns<VmDetails>()),
  /** preset: an id from vms:presets; kernel/initrd/firmware: host files for the "custom" preset. memory, diskSize: bytes. */
  'vms:create': channel(object({
    name: vmName,
    preset: optional(string({ min: 1, max: 64 })),
    kernel: optional(hostPath),
    initrd: optional(hostPath),
    firmware: optional(hostPath),
    append: optional(string({ max: KERNEL_APPEND_MAX })),
    disk: optional(hostPath),
    cpus: optional(vmCpus),
    memory: optional(vmMemory),
    diskSize: optional(integer({ min: 1 << 20 })),
    /** Network cards (default one NAT NIC; [] for none). */
    nics: optional(array(oneOf(['nat'] as const), { max: 5 })),
    operation: optional(operationId),
  }), returns<VmDetails>()),
  /** Powered off only. memory: bytes. */
  'vms:modify': channel(object({ vm: vmRef, name: optional(vmName), cpus: optional(vmCpus), memory: optional(vmMemory), append: optional(string({ max: KERNEL_APPEND_MAX })) }), returns<VmDetails>()),
  'vms:remove': channel(object({ vm: vmRef, operation: optional(operationId) }), returns<null>()),
  /** Boots a powered-off VM, or resumes a saved one from its state (the guest's clock is then set to the host's). */
  'vms:start': channel(object({ vm: vmRef, operation: optional(operationId) }), returns<VmDetails>()),
  /** Asks the guest to power off (its agent), forcing it after timeoutSeconds (default 30); force: at once. */
  'vms:stop': channel(object({ vm: vmRef, force: optional(boolean()), timeoutSeconds: optional(number({ min: 0, max: 3600 })) }), returns<VmDetails>()),
  'vms:pause': channel(object({ vm: vmRef }), returns<VmDetails>()),
  'vms:resume': channel(object({ vm: vmRef }), returns<VmDetails>()),
  /** Suspends to disk: the machine's state is written and the machine stops; vms:start resumes it. */
  'vms:save': channel(object({ vm: vmRef, operation: optional(operationId) }), returns<VmDetails>()),
  'vms:discardState': channel(object({ vm: vmRef }), returns<VmDetails>()),
  'vms:snapshots': channel(object({ vm: vmRef }), returns<SnapshotTree>()),
  /** ram: keep the machine's memory (default true; a powered-off VM has none to keep). */
  'vms:snapshot': channel(object({ vm: vmRef, name: snapshotName, description: optional(string({ max: SNAPSHOT_DESCRIPTION_MAX })), ram: optional(boolean()), operation: optional(operationId) }), returns<SnapshotRecord>()),
  /** saveCurrentAs: first take a snapshot of the current state under this name (else it is discarded). */
  'vms:restoreSnapshot': channel(object({ vm: vmRef, snapshot: snapshotRef, saveCurrentAs: optional(snapshotName), operation: optional(operationId) }), returns<VmDetails>()),
  'vms:deleteSnapshot': channel(object({ vm: vmRef, snapshot: snapshotRef, operation: optional(operationId) }), returns<null>()),
  'vms:clone': channel(object({ vm: vmRef, name: vmName, linked: optional(boolean()), snapshot: optional(snapshotRef), operation: optional(operationId) }), returns<VmDetails>()),
  /** Runs a command in the running guest through its agent. */
  'vms:exec': channel(object({ vm: vmRef, command: array(string({ max: 32768 }), { max: 256 }), stdin: optional(bytes(64 << 20)), timeoutSeconds: optional(number({ min: 0, max: 86400 })) }), returns<VmExecResult>()),
  'vms:readFile': channel(object({ vm: vmRef, path: guestPath }), returns<Uint8Array>()),
  'vms:writeFile': channel(object({ vm: vmRef, path: guestPath, data: bytes(256 << 20), mode: optional(integer({ min: 0, max: 0o7777 })) }), returns<null>()),
  /** The running VM's serial console as a terminal (terminals:write/resize/close, terminal:data events). */
  'vms:console': channel(object({ vm: vmRef, ...terminalSize }), returns<TerminalOpened>()),

  /** A console (the container's own terminal, when this engine started it) or else a shell in the running container. */
  'terminals:open': channel(object({ container: containerRef, ...terminalSize }), returns<TerminalOpened>()),
  /** Resolves once the console has taken the text: a paused VM's as it reads again (until then at most 4 MiB wait; more is refused, invalid-state). */
  'terminals:write': channel(object({ terminal: terminalId, data: string({ max: 1 << 20 }) }), returns<null>()),
  'terminals:resize': channel(object({ terminal: terminalId, ...terminalSize }), returns<null>()),
  'terminals:close': channel(object({ terminal: terminalId }), returns<null>()),
} as const;

export type ChannelMap = typeof channels;
export type Channel = keyof ChannelMap;
export type ArgsOf<C extends Channel> = Infer<ChannelMap[C]['args']>;
export type ResultOf<C extends Channel> = ChannelMap[C]['result'] extends Returns<infer R> ? R : never;

export const channelNames = Object.keys(channels) as Channel[];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.hasOwn(channels, name);
}

/** The domains (the part before the colon), in order: the preload exposes one object per domain. */
export const domains = [...new Set(channelNames.map((c) => c.split(':')[0]!))];

/** The engine's error codes (engine/common/errors.ts): what a client branches on. */
export type { ErrorCode };

/** A refused or failed call: the code, the engine's message (shown as is), plain details. */
export interface ApiError { code: ErrorCode; message: string; details?: Record<string, unknown> }
export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Everything the engine tells its clients without being asked. */
export type ApiEvent =
  | { type: 'containers:changed'; containers: ContainerInfo[] }
  /** Resource use of the running containers, by id. */
  | { type: 'containers:usage'; usage: Record<string, ContainerStats> }
  | { type: 'images:changed'; images: ImageSummary[] }
  | { type: 'vms:changed'; vms: VmListEntry[] }
  /** Every few seconds while VMs run in the engine: by VM id. */
  | { type: 'vms:usage'; usage: Record<string, VmUsage> }
  | { type: 'preferences:changed'; preferences: Preferences }
  | { type: 'operation:progress'; operation: string; progress: Progress }
  | { type: 'terminal:data'; terminal: string; data: Uint8Array }
  | { type: 'terminal:exit'; terminal: string; exitCode: number }
  /** A command from the desktop shell's native menu, for the window it was given in. */
  | { type: 'app:command'; command: AppCommand };

export type AppCommand = 'new-vm' | 'new-container' | 'preferences' | 'start' | 'stop' | 'pause-resume' | 'delete' | 'take-snapshot' | 'restore-snapshot';

export type { ContainerInfo, ContainerStats, ImageDetails, ImageSummary, Progress, SnapshotInfo, Preferences, VmUsage };
