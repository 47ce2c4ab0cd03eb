// The OCI runtime bundle's config.json (runtime spec 1.0): what the container runs (from the
// image config, overridden by the caller), its namespaces, mounts, and cgroup limits. The
// defaults follow `runc spec` and Docker's (capabilities, masked paths).
import { existsSync } from 'node:fs';
import { readFileInside } from './confined.ts';
import { InvalidImageError } from './errors.ts';
import type { ExecConfig } from './oci.ts';

export interface BindMount {
  source: string;
  destination: string;
  readOnly?: boolean;
}

/** What a container is created with; everything optional falls back to the image config. */
export interface ContainerSpec {
  /** Replaces the image's Cmd. */
  command?: string[];
  /** Replaces the image's Entrypoint (and then the image's Cmd is dropped, as Docker does). */
  entrypoint?: string[];
  /** K=V entries added to (or replacing those of) the image's Env. */
  env?: string[];
  workdir?: string;
  /** user, uid, user:group or uid:gid, resolved in the image's /etc/passwd and /etc/group. */
  user?: string;
  hostname?: string;
  /** Runs the process in a pseudo-terminal. */
  tty?: boolean;
  /** Bytes of memory (swap disabled alongside). */
  memory?: number;
  /** CPU time as a number of CPUs (0.5 = half a CPU). */
  cpus?: number;
  /** Most processes the container may hold. */
  pids?: number;
  readOnly?: boolean;
  mounts?: BindMount[];
  network?: 'none' | 'host';
}

export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
}

const HOST_NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Env lists merged by key, later entries winning. */
export function mergeEnv(...lists: (string[] | undefined)[]): string[] {
  const byKey = new Map<string, string>();
  for (const entry of lists.flatMap((l) => l ?? [])) {
    const eq = entry.indexOf('=');
    byKey.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  }
  if (!byKey.has('PATH')) byKey.set('PATH', DEFAULT_PATH);
  return [...byKey.values()];
}

/** Bounds what is read of the image's passwd and group files. */
const MAX_ACCOUNTS_FILE = 4 << 20;

/** The lines of an image's passwd or group file (none when it has none), split into fields. */
async function readLines(rootfs: string, path: string): Promise<string[][]> {
  // The image's own file, as the container sees it: a symlink out of the root, to a FIFO or a device is refused.
  const data = await readFileInside(rootfs, path, MAX_ACCOUNTS_FILE, 'the image');
  const text = data?.toString('utf8') ?? '';
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** Resolves Docker's user forms against the root filesystem's passwd and group files. */
export async function resolveUser(rootfs: string, user: string | undefined): Promise<{ uid: number; gid: number; additionalGids: number[] }> {
  if (!user) return { uid: 0, gid: 0, additionalGids: [] };
  const [userPart, groupPart] = user.split(':', 2) as [string, string | undefined];
  const passwd = await readLines(rootfs, 'etc/passwd');
  const groups = await readLines(rootfs, 'etc/group');
  const numeric = (text: string) => /^\d+$/.test(text) ? Number(text) : undefined;
  let uid = numeric(userPart);
  let gid: number | undefined;
  const entry = passwd.find((p) => (uid === undefined ? p[0] === userPart : Number(p[2]) === uid));
  if (uid === undefined) {
    if (!entry) throw new InvalidImageError(`user "${userPart}" is not in the image's /etc/passwd`);
    uid = Number(entry[2]);
  }
  gid = entry ? Number(entry[3]) : 0;
  if (groupPart !== undefined) {
    gid = numeric(groupPart) ?? Number(groups.find((g) => g[0] === groupPart)?.[2] ?? NaN);
    if (Number.isNaN(gid)) throw new InvalidImageError(`group "${groupPart}" is not in the image's /etc/group`);
  }
  const name = entry?.[0];
  const additionalGids = name ? groups.filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2])) : [];
  return { uid, gid, additionalGids };
}

/** The process a container runs: image defaults, overridden by the spec. */
export async function planProcess(rootfs: string, image: ExecConfig, spec: ContainerSpec): Promise<ProcessPlan> {
  const entrypoint = spec.entrypoint ?? image.Entrypoint ?? [];
  const command = spec.command?.length ? spec.command : spec.entrypoint ? [] : image.Cmd ?? [];
  const args = [...entrypoint, ...command];
  if (args.length === 0) throw new InvalidImageError('no command: the image has no Entrypoint or Cmd, and none was given');
  const env = mergeEnv(image.Env, spec.tty ? ['TERM=xterm'] : [], spec.env);
  const cwd = spec.workdir ?? (image.WorkingDir || '/');
  if (!cwd.startsWith('/')) throw new InvalidImageError(`working directory "${cwd}" must be absolute`);
  return { args, env, cwd, ...(await resolveUser(rootfs, spec.user ?? image.User)) };
}

/** config.json for runc. */
export function runtimeConfig(id: string, plan: ProcessPlan, spec: ContainerSpec, hostname: string): object {
  const caps = CAPABILITIES;
  const namespaces = ['pid', 'ipc', 'uts', 'mount', ...(spec.network === 'host' ? [] : ['network'])].map((type) => ({ type }));
  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (spec.memory !== undefined) resources.memory = { limit: spec.memory, swap: spec.memory };
  if (spec.cpus !== undefined) resources.cpu = { quota: Math.round(spec.cpus * 100_000), period: 100_000 };
  if (spec.pids !== undefined) resources.pids = { limit: spec.pids };
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: spec.tty ?? false,
      user: { uid: plan.uid, gid: plan.gid, additionalGids: plan.additionalGids },
      args: plan.args,
      env: plan.env,
      cwd: plan.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: spec.readOnly ?? false },
    hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      // With the host's network, also its name resolution (as Docker does).
      ...(spec.network === 'host' ? HOST_NETWORK_FILES.filter((f) => existsSync(f)) : []).map((f) => ({
        destination: f, type: 'bind', source: f, options: ['rbind', 'ro'],
      })),
      ...(spec.mounts ?? []).map((m) => ({
        destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readOnly ? 'ro' : 'rw'],
      })),
    ],
    linux: {
      cgroupsPath: `/hangar/${id}`,
      resources,
      namespaces,
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
