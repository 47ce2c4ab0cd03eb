// Which toolbar actions a library item's state allows. The engine refuses a wrong call anyway;
// this keeps the buttons honest about it.
import type { ContainerInfo } from '../../../engine/api/channels.ts';

export type Action = 'start' | 'pause' | 'resume' | 'stop' | 'delete' | 'snapshot' | 'restore' | 'terminal';

const CONTAINER_ACTIONS: Record<ContainerInfo['status'], Action[]> = {
  created: ['start', 'delete', 'snapshot', 'restore'],
  running: ['pause', 'stop', 'delete', 'snapshot', 'terminal'],
  paused: ['resume', 'stop', 'delete', 'snapshot'],
  exited: ['start', 'delete', 'snapshot', 'restore'],
};

export function containerActions(status: ContainerInfo['status']): ReadonlySet<Action> {
  return new Set(CONTAINER_ACTIONS[status]);
}

/** Splits a command line into words: spaces separate, quotes ('…' or "…") group, \ escapes. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}
