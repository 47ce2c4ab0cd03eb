// vms: — the VM library (engine/vm) and the VMs this engine runs (engine/vm/runners.ts). Sizes
// cross the API in bytes (the library counts memory in MiB). A VM started here hands its serial
// console to the terminal hub, so vms:console is a view like a container's console.
import { HangarError } from '../../common/errors.ts';
import type { HandlersOf, ServiceCore } from '../service.ts';
import { sessionSink } from './terminals.ts';
import { listPresets } from '../../vm/index.ts';

const MiB = 1024 * 1024;

function mebibytes(bytes: number | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  if (bytes % MiB !== 0) throw new HangarError('invalid-argument', `memory ${bytes}: must be a whole number of MiB`);
  return bytes / MiB;
}

export function vmHandlers(core: ServiceCore): HandlersOf<'vms'> {
  const vms = core.vms;
  const library = vms.library;
  /** The VM's details after a call that changed the library; everyone else hears of it by event. */
  const changed = async (vm: string) => {
    vms.emit('changed');
    return vms.info(vm);
  };
  return {
    'vms:presets': async () => listPresets(),
    'vms:list': async () => vms.list(),
    'vms:inspect': async ({ vm }) => vms.info(vm),
    'vms:create': async ({ operation: _operation, memory, ...options }, { signal, onProgress }) => {
      const info = await library.create({ ...options, memory: mebibytes(memory) }, { signal, onProgress });
      return changed(info.id);
    },
    'vms:modify': async ({ vm, memory, ...changes }) => changed((await library.modify(vm, { ...changes, memory: mebibytes(memory) })).id),
    'vms:remove': async ({ vm }) => {
      await library.remove(vm);
      vms.emit('changed');
      return null;
    },
    'vms:start': async ({ vm }, { signal, onProgress }) => vms.info((await vms.start(vm, { signal, onProgress })).id),
    'vms:stop': async ({ vm, force, timeoutSeconds }) => {
      const runner = await vms.runner(vm);
      await runner.stop({ force, timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000 });
      return vms.info(runner.id);
    },
    'vms:pause': async ({ vm }) => {
      const runner = await vms.runner(vm);
      await runner.pause();
      return vms.info(runner.id);
    },
    'vms:resume': async ({ vm }) => {
      const runner = await vms.runner(vm);
      await runner.resume();
      return vms.info(runner.id);
    },
    'vms:save': async ({ vm }, { signal, onProgress }) => {
      const runner = await vms.runner(vm);
      await runner.save({ signal, onProgress });
      return vms.info(runner.id);
    },
    'vms:discardState': async ({ vm }) => {
      await library.discardSavedState(vm);
      return changed(vm);
    },
    'vms:snapshots': async ({ vm }) => library.snapshots(vm),
    'vms:snapshot': async ({ vm, name, description, ram }, { signal, onProgress }) => vms.snapshot(vm, name, { description, noRam: ram === false }, { signal, onProgress }),
    'vms:restoreSnapshot': async ({ vm, snapshot, saveCurrentAs }, { signal, onProgress }) => {
      await vms.restoreSnapshot(vm, snapshot, { saveCurrentAs }, { signal, onProgress });
      return vms.info(vm);
    },
    'vms:deleteSnapshot': async ({ vm, snapshot }, { signal, onProgress }) => {
      await library.deleteSnapshot(vm, snapshot, { signal, onProgress });
      vms.emit('changed');
      return null;
    },
    'vms:clone': async ({ vm, name, linked, snapshot }, { signal, onProgress }) => vms.clone(vm, name, { linked, snapshot }, { signal, onProgress })
      .then((info) => vms.info(info.id)),
    'vms:exec': async ({ vm, command, stdin, timeoutSeconds }, { signal }) => {
      if (command.length === 0) throw new HangarError('invalid-argument', 'vms:exec: command: a program to run is required');
      const runner = await vms.runner(vm);
      return runner.exec(command, { stdin, signal, timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000 });
    },
    'vms:readFile': async ({ vm, path }, { signal }) => (await vms.runner(vm)).readFile(path, { signal }),
    'vms:writeFile': async ({ vm, path, data, mode }, { signal }) => {
      await (await vms.runner(vm)).writeFile(path, data, { mode, signal });
      return null;
    },
    'vms:console': async ({ vm, cols, rows }, { session }) => {
      const runner = await vms.runner(vm);
      return core.terminals.openConsole(session, sessionSink(session), runner.id, { cols, rows });
    },
  };
}
