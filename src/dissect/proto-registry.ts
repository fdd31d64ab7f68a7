/**
 * Decoding gRPC messages with the user's .proto files, through protobufjs.
 *
 * Imports resolve as protoc's -I does: relative to each loaded directory in
 * turn, then (leniently) to the importing file's own directory, then to
 * protobufjs's bundled google/protobuf/*.proto. protobufjs itself answers the
 * well-known types it carries in memory (any, duration, empty, field_mask,
 * struct, timestamp, wrappers) before asking us, so those need no file.
 *
 * Loading: all files at once into one Root first (the common case, and the
 * cheapest). When that fails, each file is loaded alone into its own Root to
 * learn which ones are broken (a file that imports a broken one is broken
 * too), and the good ones are loaded together again; if they still clash (the
 * same type defined in two files, say two copies of one package), each good
 * file keeps its own Root and look-ups try them in file order.
 */

import { existsSync, promises as fsp, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import protobuf from 'protobufjs';

export interface GrpcMethodTypes {
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** Where protobufjs keeps its google/protobuf/*.proto (descriptor, api, type, ...). */
const bundledDir: string | null = (() => {
  try {
    return dirname(createRequire(import.meta.url).resolve('protobufjs'));
  } catch {
    return null;
  }
})();

const CONVERSION: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  json: true,
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function walk(dir: string, out: string[], errors: Array<{ file: string; message: string }>): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    errors.push({ file: dir, message: message(e) });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const ent of entries) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await walk(p, out, errors);
    else if (ent.name.endsWith('.proto') && (ent.isFile() || ent.isSymbolicLink())) out.push(p);
  }
}

function makeRoot(includeDirs: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string | null => {
    if (origin === '' || isAbsolute(target)) return target;
    const candidates = includeDirs.map((d) => join(d, target));
    candidates.push(join(dirname(origin), target));
    if (bundledDir !== null) candidates.push(join(bundledDir, target));
    for (const c of candidates) {
      try {
        if (existsSync(c) && statSync(c).isFile()) return resolve(c);
      } catch {
        // unreadable: try the next one
      }
    }
    // Throwing here makes loadSync fail with a message that names the import
    // (returning null would skip it silently and fail later on its types).
    throw new Error(`import "${target}" from ${origin} not found (looked in ${[...new Set([...includeDirs, dirname(origin)])].join(', ')})`);
  };
  return root;
}

function loadRoot(files: string[], includeDirs: string[]): protobuf.Root {
  return makeRoot(includeDirs).loadSync(files, { keepCase: false });
}

function collectServices(ns: protobuf.NamespaceBase, out: Set<string>): void {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Service) out.add(obj.fullName.replace(/^\./, ''));
    if (obj instanceof protobuf.Namespace) collectServices(obj, out);
  }
}

function absolute(name: string): string {
  const n = name.replace(/^\/+/, '');
  return n.startsWith('.') ? n : '.' + n;
}

export class ProtoRegistry {
  /** The .proto files found under the directories that loaded without error. */
  readonly files: string[];
  readonly errors: Array<{ file: string; message: string }>;
  /** Fully-qualified service names (package.Service), sorted. */
  readonly services: string[];
  private readonly roots: protobuf.Root[];
  private readonly types = new Map<string, protobuf.Type | null>();

  private constructor(files: string[], errors: Array<{ file: string; message: string }>, roots: protobuf.Root[]) {
    this.files = files;
    this.errors = errors;
    this.roots = roots;
    const services = new Set<string>();
    for (const r of roots) collectServices(r, services);
    this.services = [...services].sort();
  }

  /** An empty registry: every look-up misses. */
  static empty(): ProtoRegistry {
    return new ProtoRegistry([], [], []);
  }

  /** Load every .proto under dir (recursively), resolving imports relative to dir and to protobufjs's bundled google/protobuf/*.proto well-known types. Errors per file are collected, not thrown (a broken .proto must not stop the others). */
  static async load(dirs: string[]): Promise<ProtoRegistry> {
    const errors: Array<{ file: string; message: string }> = [];
    const includeDirs = [...new Set(dirs.map((d) => resolve(d)))];
    const found: string[] = [];
    for (const d of includeDirs) await walk(d, found, errors);
    const files = [...new Set(found)];
    if (files.length === 0) return new ProtoRegistry([], errors, []);

    try {
      return new ProtoRegistry(files, errors, [loadRoot(files, includeDirs)]);
    } catch {
      // Some file is broken: find out which, one by one.
    }
    const good: string[] = [];
    const alone: protobuf.Root[] = [];
    for (const f of files) {
      try {
        alone.push(loadRoot([f], includeDirs));
        good.push(f);
      } catch (e) {
        errors.push({ file: f, message: message(e) });
      }
    }
    if (good.length === 0) return new ProtoRegistry([], errors, []);
    try {
      return new ProtoRegistry(good, errors, [loadRoot(good, includeDirs)]);
    } catch {
      return new ProtoRegistry(good, errors, alone);
    }
  }

  private lookup<T extends protobuf.ReflectionObject>(name: string, kind: new (...args: never[]) => T): T | null {
    const abs = absolute(name);
    for (const r of this.roots) {
      try {
        const found = r.lookup(abs, [kind as unknown as object]);
        if (found instanceof kind) return found;
      } catch {
        // keep looking
      }
    }
    return null;
  }

  private type(typeName: string): protobuf.Type | null {
    let t = this.types.get(typeName);
    if (t === undefined) {
      t = this.lookup(typeName, protobuf.Type);
      this.types.set(typeName, t);
    }
    return t;
  }

  /** The request and response message types of a gRPC method, from `/package.Service/Method`'s service and method names. */
  method(service: string, method: string): GrpcMethodTypes | null {
    const svc = this.lookup(service, protobuf.Service);
    if (svc === null) return null;
    let m: protobuf.Method | undefined = Object.prototype.hasOwnProperty.call(svc.methods, method) ? svc.methods[method] : undefined;
    if (m === undefined) {
      const lower = method.toLowerCase();
      m = svc.methodsArray.find((x) => x.name.toLowerCase() === lower);
    }
    if (m === undefined) return null;
    try {
      m.resolve();
    } catch {
      return null;
    }
    const req = m.resolvedRequestType;
    const res = m.resolvedResponseType;
    return {
      requestType: (req?.fullName ?? m.requestType).replace(/^\./, ''),
      responseType: (res?.fullName ?? m.responseType).replace(/^\./, ''),
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
    };
  }

  /** Decode to JSON with field names (protobufjs toObject with longs as strings, enums as names, bytes as base64, defaults omitted); null + error text when it does not parse. */
  decode(typeName: string, buf: Buffer): { json: unknown; error: string | null } {
    const t = this.type(typeName);
    if (t === null) return { json: null, error: `no message type ${typeName.replace(/^\./, '')} in the loaded .proto files` };
    try {
      const msg = t.decode(buf);
      return { json: t.toObject(msg, CONVERSION), error: null };
    } catch (e) {
      return { json: null, error: message(e) };
    }
  }
}
