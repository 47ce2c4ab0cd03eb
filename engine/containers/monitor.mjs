// The container monitor: one small process per running container, detached from the engine so
// that containers outlive it (the role conmon plays for Podman). It runs `runc run --keep` in
// the foreground, keeps the container's output in a bounded log (LOG, rotated once to LOG.1),
// mirrors it to its own stdout while someone listens, and when the container ends deletes the
// runc container, unmounts its root, and records how it ended (exit status, OOM kill) in
// exit.json — the last thing it writes, so a monitor that is gone has either written it or died.
//
// Plain JavaScript on purpose: it starts for every container; Node starts it in about 25 ms,
// the TypeScript loader would add some 120 ms to every container start.
//
// Argument: one JSON object { dir, runcRoot, id, logLimit, tty, cols, rows, cgroup, unmount }.
// With tty, runc runs in a pseudo-terminal (node-pty): stdin goes to it, and fd 3 carries
// "resize COLS ROWS" lines.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const job = JSON.parse(process.argv[2]);
const bundle = join(job.dir, 'bundle');
const logPath = join(job.dir, 'log');
const runcArgs = ['--root', job.runcRoot, 'run', '--keep', '--pid-file', join(job.dir, 'pid'), '--bundle', bundle, job.id];

// Nobody may be listening any more (the engine exited): output then only goes to the log.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

let logFd = openSync(logPath, 'a');
let logSize = statSync(logPath).size;
function log(data) {
  const chunk = data.length > job.logLimit ? data.subarray(data.length - job.logLimit) : data;
  if (logSize + chunk.length > job.logLimit) {
    closeSync(logFd);
    renameSync(logPath, `${logPath}.1`);
    logFd = openSync(logPath, 'a');
    logSize = 0;
  }
  writeSync(logFd, chunk);
  logSize += chunk.length;
}

function oomKills() {
  const v1 = `/sys/fs/cgroup/memory${job.cgroup}/memory.oom_control`;
  const v2 = `/sys/fs/cgroup${job.cgroup}/memory.events`;
  for (const path of [v1, v2]) {
    if (!existsSync(path)) continue;
    const match = /^oom_kill (\d+)$/m.exec(readFileSync(path, 'utf8'));
    if (match) return Number(match[1]);
  }
  return 0;
}

const finished = (child) => new Promise((resolve) => child.once('close', resolve).once('error', resolve));

let finishing = false;
async function finish(exitCode) {
  if (finishing) return; // a failed spawn reports both 'error' and 'close'
  finishing = true;
  const oomKilled = oomKills() > 0;
  // Independent cleanups, run side by side: the container's cgroups and state, its root mount.
  await Promise.all([
    finished(spawn('runc', ['--root', job.runcRoot, 'delete', '--force', job.id], { stdio: 'ignore' })),
    job.unmount && finished(spawn('umount', [job.unmount], { stdio: 'ignore' })),
  ]);
  writeFileSync(join(job.dir, 'exit.json'), JSON.stringify({ exitCode, oomKilled, finishedAt: new Date().toISOString() }));
  closeSync(logFd);
  process.exit(exitCode);
}

// A signal to the monitor is not a signal to the container: `hangar ct stop` goes through runc.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});

if (job.tty) {
  const pty = await import('node-pty');
  const term = pty.spawn('runc', runcArgs, { name: 'xterm', cols: job.cols, rows: job.rows, cwd: job.dir, env: process.env });
  term.onData((data) => { const chunk = Buffer.from(data); log(chunk); process.stdout.write(chunk); });
  process.stdin.on('data', (data) => term.write(data.toString()));
  process.stdin.on('error', () => {});
  // A socket, not an fs stream: a blocking read on a pipe in the thread pool would hold up exit.
  const control = new Socket({ fd: 3, readable: true, writable: false });
  control.on('error', () => {});
  createInterface({ input: control }).on('line', (line) => {
    const [verb, cols, rows] = line.split(' ');
    if (verb === 'resize' && Number(cols) > 0 && Number(rows) > 0) term.resize(Number(cols), Number(rows));
  });
  term.onExit(({ exitCode }) => void finish(exitCode));
} else {
  const runc = spawn('runc', runcArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  runc.on('error', (err) => { log(Buffer.from(`hangar monitor: cannot run runc: ${err.message}\n`)); void finish(127); });
  runc.stdout.on('data', (chunk) => { log(chunk); process.stdout.write(chunk); });
  runc.stderr.on('data', (chunk) => { log(chunk); process.stderr.write(chunk); });
  runc.on('close', (code, signal) => void finish(code ?? 128 + constants.signals[signal]));
}
