// Figures as people read them.

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

export interface UsageSample { at: number; cpuSeconds: number }

/** A machine's resource use as shown: CPU from two samples, memory (and its limit); processes for containers. */
export interface Usage {
  cpuPercent?: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
  pids?: number;
}

/** "CPU 3.2% · 512 MiB" (the CPU part once two samples are in). */
export function formatUsage(usage: Usage): string {
  const cpu = usage.cpuPercent === undefined ? '' : `CPU ${usage.cpuPercent.toFixed(usage.cpuPercent < 10 ? 1 : 0)}% · `;
  return `${cpu}${formatBytes(usage.memoryBytes)}${usage.memoryLimitBytes ? ` / ${formatBytes(usage.memoryLimitBytes)}` : ''}`;
}

/** CPU use between two samples, as a percentage of one CPU; undefined before the second sample. */
export function cpuPercent(previous: UsageSample | undefined, current: UsageSample): number | undefined {
  if (!previous || current.at <= previous.at) return undefined;
  return Math.max(0, ((current.cpuSeconds - previous.cpuSeconds) / ((current.at - previous.at) / 1000)) * 100);
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export const shortId = (id: string) => id.slice(0, 12);

export const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
