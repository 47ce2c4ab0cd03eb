// images: — the OCI image store (list, inspect, pull from a registry, remove, tag).
import type { ImageSummary } from '../../containers/index.ts';
import type { HandlersOf, ServiceCore } from '../service.ts';

export function imageHandlers(core: ServiceCore): HandlersOf<'images'> {
  const store = async () => (await core.containers()).store;
  /** The summary of a stored image, after a call that made or renamed it. */
  const summary = async (name: string): Promise<ImageSummary> => {
    const { manifest: _m, config: _c, ...rest } = await (await store()).inspect(name);
    core.watcher.poke();
    return rest;
  };
  return {
    'images:list': async () => (await store()).list(),
    'images:inspect': async ({ image }) => (await store()).inspect(image),
    'images:pull': async ({ reference }, { signal, onProgress }) => {
      const registry = await (await core.containers()).registry();
      const image = await registry.pull(reference, { signal, onProgress });
      return summary(image.name);
    },
    'images:remove': async ({ image }) => {
      await (await core.containers()).removeImage(image);
      core.watcher.poke();
      return null;
    },
    'images:tag': async ({ source, target }) => summary((await (await store()).tag(source, target)).name),
  };
}
