/** Command-line options parsed strictly, a mistake reported as a usage error (exit 1) with the command's help. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(args: string[], options: O, positionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --workspace and --config: every command but `mcp` takes them (config-context.ts reads them). */
export const WORKSPACE_OPTIONS = { workspace: { type: 'string', short: 'w' }, config: { type: 'string', short: 'c' } } as const;

/** The command's one FILTER argument ('' when none); two or more are a filter the shell split. */
export function oneFilter(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`one filter expected; quote it as a single argument (got ${positionals.length} arguments)`);
  return positionals[0] ?? '';
}
