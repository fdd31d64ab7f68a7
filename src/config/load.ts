/**
 * Finding and reading podcap.yaml: parsed to a YAML document (so every error can name
 * its line), checked against the schema, and merged over the defaults with the origin
 * of every value kept ("default", "FILE:LINE", "flag --x").
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { LineCounter, Node, Pair } from 'yaml';
import type { core } from 'zod';
import { configSchema, type ConfigFile } from './schema.js';
import { DEFAULT_SETTINGS, type Settings } from './settings.js';

type YamlLib = typeof import('yaml');
let yamlLib: YamlLib | null = null;
/** yaml, loaded the first time a file is read (~35 ms; most commands find no podcap.yaml). */
function yaml(): YamlLib {
  return (yamlLib ??= createRequire(import.meta.url)('yaml') as YamlLib);
}

export const CONFIG_FILE_NAME = 'podcap.yaml';

/** A podcap.yaml that cannot be used: the message reads "FILE:LINE: key: what was expected". */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly line: number | null, readonly key: string | null, readonly problem: string) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${problem}`);
    this.name = 'ConfigError';
  }
}

/** The configuration in force, where it was read from, and where each value came from. */
export interface LoadedConfig {
  settings: Settings;
  /** The file read, or null when none was found (defaults only). */
  file: string | null;
  /** Dotted setting name → "default", "FILE:LINE" or "flag --NAME". */
  origins: Record<string, string>;
}

type PathSeg = string | number;

function keyText(path: readonly PathSeg[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s;
}

/** The pair under a map whose key reads as `seg` (keys like 8443 are numbers in YAML, strings in the schema). */
function findPair(node: unknown, seg: PathSeg): Pair<Node, Node> | null {
  if (!yaml().isMap(node)) return null;
  for (const it of node.items) {
    if (yaml().isPair(it) && yaml().isScalar(it.key) && String(it.key.value) === String(seg)) return it as Pair<Node, Node>;
  }
  return null;
}

/** The node at a path, and the key node naming it (for errors about a key rather than its value). */
function locate(root: unknown, path: readonly PathSeg[]): { value: Node | null; key: Node | null } {
  let node: unknown = root;
  let key: Node | null = null;
  for (const seg of path) {
    if (yaml().isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      key = null;
      continue;
    }
    const pair = findPair(node, seg);
    if (!pair) return { value: (node as Node) ?? null, key };
    key = pair.key;
    node = pair.value;
  }
  return { value: (node as Node) ?? null, key };
}

function lineOf(lc: LineCounter, node: Node | null): number | null {
  return node?.range ? lc.linePos(node.range[0]).line : null;
}

/** The first problem of a failed check, as a ConfigError on the line it is about. */
function issueError(file: string, doc: ReturnType<YamlLib['parseDocument']>, lc: LineCounter, issue: core.$ZodIssue): ConfigError {
  const path = issue.path as PathSeg[];
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as unknown as { keys: string[] }).keys;
    const at = locate(doc.contents, [...path, keys[0]]);
    const allowed = allowedKeys(path);
    return new ConfigError(file, lineOf(lc, at.key), keyText([...path, keys[0]]),
      `unknown setting${allowed ? ` (expected one of: ${allowed.join(', ')})` : ''}`);
  }
  const at = locate(doc.contents, path);
  // An error about a record key (a hint's port) points at the key; others at the value.
  const node = issue.code === 'custom' && at.key && yaml().isScalar(at.key) && /as the key/.test(issue.message) ? at.key : at.value ?? at.key;
  return new ConfigError(file, lineOf(lc, node), path.length ? keyText(path) : null, issue.message);
}

/** The keys a section accepts, for the message about one it does not. */
function allowedKeys(path: readonly PathSeg[]): string[] | null {
  let shape: unknown = configSchema();
  for (const seg of path) {
    let s = shape as { unwrap?: () => unknown; shape?: Record<string, unknown> };
    while (s && typeof s.unwrap === 'function' && !s.shape) s = s.unwrap() as typeof s;
    if (!s?.shape || typeof seg !== 'string') return null;
    shape = s.shape[seg];
  }
  let s = shape as { unwrap?: () => unknown; shape?: Record<string, unknown> };
  while (s && typeof s.unwrap === 'function' && !s.shape) s = s.unwrap() as typeof s;
  return s?.shape ? Object.keys(s.shape) : null;
}

/** A syntax error's line names the key written on it, when one is. */
function keyOnLine(text: string, line: number): string | null {
  const src = text.split(/\r?\n/)[line - 1] ?? '';
  const m = /^\s*(?:-\s+)?("[^"]*"|'[^']*'|[^\s:#][^:#]*?)\s*:(\s|$)/.exec(src);
  return m ? m[1].replace(/^["']|["']$/g, '') : null;
}

/** Check a file's text; throws ConfigError naming the file, line and key of the first problem. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const { LineCounter: Lines, parseDocument } = yaml();
  const lc = new Lines();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? (typeof e.pos?.[0] === 'number' ? lc.linePos(e.pos[0]).line : null);
    throw new ConfigError(file, line, line !== null ? keyOnLine(text, line) : null, `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, lineOf(lc, doc.contents as Node | null), null, 'expected a mapping of settings (workspace:, hints:, protocols:, ...)');
  }
  const checked = configSchema().safeParse(raw);
  if (!checked.success) throw issueError(file, doc, lc, checked.error.issues[0]);
  return merge(checked.data, file, doc, lc);
}

function merge(cfg: ConfigFile, file: string, doc: ReturnType<YamlLib['parseDocument']>, lc: LineCounter): LoadedConfig {
  const s: Settings = structuredClone(DEFAULT_SETTINGS);
  const origins: Record<string, string> = {};
  const here = dirname(file);
  const at = (path: PathSeg[]): string => {
    const n = locate(doc.contents, path);
    return `${file}:${lineOf(lc, n.key ?? n.value) ?? '?'}`;
  };
  const set = <K extends keyof Settings>(key: K, value: Settings[K]): void => {
    s[key] = value;
    origins[key] = at([key]);
  };
  if (cfg.workspace !== undefined) set('workspace', resolve(here, cfg.workspace.replace(/^~(?=\/|$)/, process.env.HOME ?? '~')));
  if (cfg.hints !== undefined) set('hints', cfg.hints);
  if (cfg.protoDirs !== undefined) set('protoDirs', cfg.protoDirs.map((d) => (isAbsolute(d) ? d : resolve(here, d))));
  // Sections: each key of the section has its own origin.
  const section = <K extends 'protocols' | 'redaction' | 'failed' | 'dns' | 'bodies' | 'tcp'>(key: K, given: Partial<Settings[K]> | undefined): void => {
    if (!given) return;
    for (const [k, v] of Object.entries(given)) {
      if (v === undefined) continue;
      (s[key] as Record<string, unknown>)[k] = v;
      origins[`${key}.${k}`] = at([key, k]);
    }
  };
  section('protocols', cfg.protocols);
  section('redaction', cfg.redaction);
  section('failed', cfg.failed);
  section('dns', cfg.dns);
  section('bodies', cfg.bodies);
  section('tcp', cfg.tcp);
  return { settings: s, file, origins };
}

export function defaultConfig(): LoadedConfig {
  return { settings: structuredClone(DEFAULT_SETTINGS), file: null, origins: {} };
}

export function readConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, null, null, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(text, file);
}

export interface ConfigLookup {
  /** --config FILE: wins over any file found. */
  explicit?: string | null;
  /** Where ./podcap.yaml is looked for (default: the working directory). */
  cwd?: string;
  /** The workspace directory in force without a config (flag, $PODCAP_WORKSPACE or ~/.podcap). */
  workspaceDir: string;
}

/** The file in force: --config FILE; else ./podcap.yaml; else WORKSPACE/podcap.yaml; else none. */
export function findConfigFile(l: ConfigLookup): string | null {
  if (l.explicit) return resolve(l.explicit);
  const local = join(resolve(l.cwd ?? process.cwd()), CONFIG_FILE_NAME);
  if (existsSync(local)) return local;
  const inWorkspace = join(resolve(l.workspaceDir), CONFIG_FILE_NAME);
  return existsSync(inWorkspace) ? inWorkspace : null;
}

export function loadConfig(l: ConfigLookup): LoadedConfig {
  const file = findConfigFile(l);
  return file ? readConfigFile(file) : defaultConfig();
}

/**
 * A configuration that can be reloaded (the MCP server's): a reload that fails keeps
 * the one in force and returns the error.
 */
export class ConfigHolder {
  constructor(private current: LoadedConfig) {}

  get config(): LoadedConfig {
    return this.current;
  }

  reload(l: ConfigLookup): ConfigError | null {
    try {
      this.current = loadConfig(l);
      return null;
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
  }
}
