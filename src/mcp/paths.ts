/**
 * The filesystem a model may reach: import only from under the roots the server was
 * started with, export only under its output root. Paths are resolved through every
 * symbolic link before they are judged, so `../`, absolute paths and links that lead
 * elsewhere are all refused the same way.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ToolError } from './result.js';

/** A root as the server holds it: absolute, links resolved, an existing directory. */
export async function realRoot(dir: string, what: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(resolve(dir));
  } catch (e) {
    throw new Error(`${what} ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!(await stat(real)).isDirectory()) throw new Error(`${what} ${dir}: not a directory`);
  return real;
}

export function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** An input path for import: relative ones are taken from the first root; it must exist under a root. */
export async function importPath(p: string, roots: string[]): Promise<string> {
  if (roots.length === 0) {
    throw new ToolError('import_snapshot is disabled: the server was started without --root DIR (the directories captures may be imported from)');
  }
  const abs = isAbsolute(p) ? p : resolve(roots[0], p);
  let real: string;
  try {
    real = await realpath(abs);
  } catch (e) {
    throw new ToolError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!roots.some((r) => within(r, real))) {
    throw new ToolError(`${p} is outside the directories this server may import from (${roots.join(', ')}); refused`);
  }
  return real;
}

/** Whether a path found while listing (a file inside a directory given) still lies under a root, links resolved. */
export async function stillInside(p: string, roots: string[]): Promise<boolean> {
  try {
    const real = await realpath(p);
    return roots.some((r) => within(r, real));
  } catch {
    return false;
  }
}

/** Where export_pcap may write `name`: a new or regular file under the output root, not through a link. */
export async function outputPath(name: string, root: string | null): Promise<string> {
  if (root === null) {
    throw new ToolError('export_pcap is disabled: the server was started without --output-root DIR (where exported captures go)');
  }
  if (isAbsolute(name) && !within(root, resolve(name))) throw new ToolError(`${name} is outside the output root ${root}; give a file name relative to it`);
  const target = resolve(root, name);
  if (!within(root, target) || target === root) throw new ToolError(`${name} is outside the output root ${root}; give a file name relative to it`);
  let parent: string;
  try {
    parent = await realpath(dirname(target));
  } catch {
    throw new ToolError(`${name}: its directory does not exist under the output root ${root}`);
  }
  if (!within(root, parent)) throw new ToolError(`${name} leads outside the output root ${root} (through a link); refused`);
  const final = resolve(parent, basename(target));
  try {
    const st = await lstat(final);
    if (st.isSymbolicLink()) throw new ToolError(`${name} is a symbolic link; export_pcap does not write through links`);
    if (!st.isFile()) throw new ToolError(`${name} exists and is not a regular file`);
  } catch (e) {
    if (e instanceof ToolError) throw e;
  }
  return final;
}
