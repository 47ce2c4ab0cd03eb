// Serving the built renderer, shared by `hangar serve` (HTTP) and the desktop app (hangar://):
// which file a URL path names (never one outside the renderer), its type, and the
// Content-Security-Policy it is sent with.
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export const contentType = (path: string) => CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';

/** Scripts only from the app itself; `connect` says where the page may open connections. */
export function contentSecurityPolicy(connect: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // xterm.js sizes its rows with a <style> element of its own.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The file under root that a URL's (still encoded) path names: / is index.html. Undefined for
 * a path that is not valid percent-encoding or that would leave root once decoded.
 */
export function fileUnder(root: string, encodedPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(encodedPath);
  } catch {
    return undefined;
  }
  const base = resolve(root);
  const file = resolve(join(base, path === '/' ? 'index.html' : path));
  return file.startsWith(base + sep) ? file : undefined;
}
