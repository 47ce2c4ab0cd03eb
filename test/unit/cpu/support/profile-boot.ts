// Where a Debian boot's guest instructions go: boots the guest on this thread (in-process-guest.ts,
// host time, the default JIT threshold) to its shell prompt and prints the hart's profile counters
// (engine/cpu/layout.ts: PROFILE_*), the translator's compile time and the thread's CPU time.
// Run under `node --cpu-prof --import tsx test/unit/cpu/support/profile-boot.ts` for V8's view
// (it names the core's wasm functions). Env: PROFILE_LIMIT caps the instructions (default: to
// the prompt), PROFILE_JIT_THRESHOLD sets the threshold.
import { SHELL_PROMPT } from '../../../support/guest-console.ts';
import { InProcessGuest } from './in-process-guest.ts';

const STEP = 20_000;
const limit = Number(process.env.PROFILE_LIMIT ?? Infinity);
const threshold = process.env.PROFILE_JIT_THRESHOLD ? Number(process.env.PROFILE_JIT_THRESHOLD) : undefined;
const guest = await InProcessGuest.create({ ramBytes: 512 << 20, jitThreshold: threshold });
const cpuStart = process.cpuUsage();
let steps = 0;
while (Number(guest.cpu.instret(0)) < limit) {
  guest.step(STEP);
  if (++steps % 50 === 0 && SHELL_PROMPT.test(guest.output)) break;
}
const usage = process.cpuUsage(cpuStart);
const cpuSeconds = (usage.user + usage.system) / 1e6;
const profile = guest.cpu.profile(0);
const instructions = Number(guest.cpu.instret(0));
const attempted = profile.interpreted + profile.translated;
const share = (n: number): string => `${(100 * n / attempted).toFixed(1)}%`;
console.log(JSON.stringify({
  instructions, cpuSeconds, mips: instructions / cpuSeconds / 1e6, compileSeconds: guest.cpu.translationMs / 1000,
  ...profile, translatedShare: share(profile.translated),
  instructionsPerBlockCall: profile.translated / profile.blockCalls,
  opcodes: Object.fromEntries(profile.opcodes.map((n, major) => [`0x${major.toString(16)}`, n]).filter(([, n]) => Number(n) > 0)),
}, null, 1));
