// Figures as people read them.

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

export interface UsageSample { at: number; cpuSeconds: number }

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
