// The same boot as profile-boot.ts, but as Hangar runs it (MachineHost: a vCPU thread and the
// device thread): wall time to the shell prompt, the vCPU's busy time (MachineHost.cpuSeconds),
// the CPU time of the process and of each of its threads, with the hart's profile counters.
import { readdirSync, readFileSync } from 'node:fs';
import { ensureDebianGuest } from '../../../../engine/guests/debian.ts';
import { bootToShell } from '../../../support/guest-machine.ts';

const guest = await ensureDebianGuest({});
const began = performance.now();
const cpuStart = process.cpuUsage();
const { machine } = await bootToShell({
  harts: 1, ramBytes: 512 << 20, firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: guest.initrd, bootargs: guest.bootargs,
}, 300_000);
const wall = (performance.now() - began) / 1000;
const usage = process.cpuUsage(cpuStart);
const [profile] = machine.hartProfiles();
// CPU seconds of each thread of this process that used more than 0.2 s (proc(5): utime, stime in ticks)
const threads = readdirSync('/proc/self/task').map((tid) => {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { thread: `${tid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100 };
}).filter((t) => t.cpuSeconds > 0.2);
await machine.kill();
console.log(JSON.stringify({ wall, vcpuBusySeconds: machine.cpuSeconds(), processCpuSeconds: (usage.user + usage.system) / 1e6, threads, ...profile, opcodes: undefined }, null, 1));
