#!/usr/bin/env node
// The import-layering check `npm test` runs first: every import of main/, renderer/ and engine/
// goes down the layer list of ARCHITECTURE.md ("## Layers", the code block: one layer a line,
// top first; a layer may import itself and any layer below it). A line ending in "→ a, b" lets
// that layer's value imports reach only those engine layers (`import type` may name any layer
// below: it is erased from the build). Nothing under engine/ imports Electron; the renderer imports
// no Node modules (it runs sandboxed). A file under main/, renderer/ or engine/ in no layer is an
// error too: a new layer is added to the list first.
// usage: node test/layers.mjs [ROOT]  (exit status 1 and one line per offending import)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHECKED = ['main', 'renderer', 'engine'];
const SKIPPED = new Set(['node_modules', 'dist', 'build']);

/** The layers of ROOT/ARCHITECTURE.md, top first: [{ name, only? }]. */
export function readLayers(root) {
  const text = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
  const section = /^## Layers\s*$([\s\S]*?)^## /m.exec(text + '\n## ');
  const block = section && /^```[^\n]*\n([\s\S]*?)^```/m.exec(section[1]);
  if (!block) throw new Error('ARCHITECTURE.md: no code block under "## Layers"');
  const layers = [];
  for (const line of block[1].split('\n')) {
    if (!line.trim() || /^\s/.test(line)) continue; // a description's continuation line
    const name = line.split(/\s+/)[0];
    const arrow = /→\s*(.+)$/.exec(line);
    layers.push({ name, only: arrow ? arrow[1].split(',').map((s) => s.trim()) : undefined });
  }
  if (layers.length === 0) throw new Error('ARCHITECTURE.md: the "## Layers" block lists no layer');
  return layers;
}

function* sourceFiles(root, folder) {
  let entries;
  try {
    entries = readdirSync(join(root, folder), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = posix.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED.has(entry.name)) yield* sourceFiles(root, path);
    } else if (/\.(ts|tsx|mjs|js)$/.test(entry.name)) {
      yield path;
    }
  }
}

/** import/export ... from 'x', import 'x', import('x'): each with its line and whether it is type-only. */
function importsOf(text) {
  const found = [];
  const lineAt = (index) => text.slice(0, index).split('\n').length;
  const commented = (index) => /^\s*(\/\/|\*|\/\*)/.test(text.slice(text.lastIndexOf('\n', index) + 1, index));
  const add = (match, specifier, typeOnly) => {
    if (commented(match.index)) return;
    found.push({ specifier, line: lineAt(match.index + match[0].lastIndexOf(specifier)), typeOnly });
  };
  for (const m of text.matchAll(/\b(import|export)\s+(type\s+)?([\w*${}\s,]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
    const names = m[3].replace(/[{}]/g, '').split(',').map((s) => s.trim()).filter(Boolean);
    const typeOnly = Boolean(m[2]) || (m[3].includes('{') && !/^\w/.test(m[3].trim()) && names.length > 0 && names.every((n) => n.startsWith('type ')));
    add(m, m[4], typeOnly);
  }
  for (const m of text.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) add(m, m[1], false);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m, m[1], false);
  return found;
}

/** Every import that breaks the layering of the tree at `root`: "file:line: why" lines. */
export function checkLayers(root) {
  const layers = readLayers(root);
  const index = new Map(layers.map((layer, i) => [layer.name, i]));
  // Longest name first: engine/vm before engine.
  const byLength = [...layers].sort((a, b) => b.name.length - a.name.length);
  const layerOf = (path) => byLength.find((l) => path === l.name || path.startsWith(`${l.name}/`));
  const problems = [];
  for (const folder of CHECKED) {
    for (const file of sourceFiles(root, folder)) {
      const from = layerOf(file);
      if (!from) {
        problems.push(`${file}:1: is in no layer of ARCHITECTURE.md's list`);
        continue;
      }
      for (const { specifier, line, typeOnly } of importsOf(readFileSync(join(root, file), 'utf8'))) {
        const where = `${file}:${line}`;
        if (!specifier.startsWith('.')) {
          if (from.name.startsWith('engine/') && /^electron(\/|$)/.test(specifier)) problems.push(`${where}: ${from.name} imports Electron (${specifier})`);
          if (from.name === 'renderer' && !typeOnly && (specifier.startsWith('node:') || specifier === 'electron')) {
            problems.push(`${where}: renderer imports ${specifier}: the sandboxed UI has no Node`);
          }
          continue;
        }
        const target = relative(root, resolve(root, dirname(file), specifier)).split(sep).join('/');
        const to = layerOf(target);
        if (!to || to === from) continue; // a file of no layer (package.json, assets/) or the layer itself
        if (index.get(to.name) < index.get(from.name)) {
          problems.push(`${where}: ${from.name} imports ${to.name} (${specifier}), a layer above it`);
        } else if (from.only && !typeOnly && to.name.startsWith('engine/') && !from.only.includes(to.name)) {
          problems.push(`${where}: ${from.name} reaches the engine only through ${from.only.join(', ')}, not ${to.name} (${specifier})`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = checkLayers(root);
  for (const problem of problems) console.error(problem);
  if (problems.length) {
    console.error(`layers: ${problems.length} import(s) against the layer list of ARCHITECTURE.md`);
    process.exit(1);
  }
  console.log(`layers: every import of ${CHECKED.join('/, ')}/ goes down the ${readLayers(root).length} layers of ARCHITECTURE.md`);
}
