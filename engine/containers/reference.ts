// Image references as Docker and the distribution spec write them:
// [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]. Local names keep the form the user gave
// (`busybox:latest`, `localhost:5000/tools/sh:1`); a missing tag means `latest`.
import { InvalidImageError } from './errors.ts';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9a-fA-F:]+\]|[A-Za-z0-9-]+)(?::\d{1,5})?$/;

export const DEFAULT_TAG = 'latest';

export interface ImageReference {
  /** Host[:port] when the first component names one (has a dot or a port, or is localhost). */
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseReference(text: string): ImageReference {
  const bad = (why: string) => new InvalidImageError(`image reference "${text}": ${why}`);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw bad('the digest must be sha256: and 64 hex digits');
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  let registry: string | undefined;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) {
    registry = parts.shift()!;
    if (!REGISTRY.test(registry)) throw bad(`"${registry}" is not a registry host`);
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) {
    throw bad('the repository must be lowercase letters, digits and separators (. _ -), in components joined by /');
  }
  return { registry, repository: parts.join('/'), tag, digest };
}

/** The repository name with its registry, without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
}

/** The name an image is kept under in the store: NAME:TAG (default tag), or NAME@DIGEST. */
export function storeName(ref: ImageReference): string {
  if (ref.digest && !ref.tag) return `${repositoryName(ref)}@${ref.digest}`;
  return `${repositoryName(ref)}:${ref.tag ?? DEFAULT_TAG}`;
}

/** Normalises user input to the store's naming (`busybox` → `busybox:latest`). */
export function normalizeName(text: string): string {
  return storeName(parseReference(text));
}
