#!/usr/bin/env node
/** The podcap command: `mcp` goes to the MCP server, everything else to the CLI. */
import { runCommand, USAGE } from './cli/commands.js';
import { EXIT } from './cli/exit-codes.js';
import { serveStdio } from './mcp/server.js';
import { ProtoRegistry } from './dissect/proto-registry.js';
import { Workspace, defaultWorkspaceDir } from './store/workspace.js';
import { PODCAP_VERSION } from './version.js';
import { parseArgs } from 'node:util';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd ? EXIT.OK : EXIT.ERROR;
  }
  if (cmd === '--version' || cmd === 'version') {
    process.stdout.write(`${PODCAP_VERSION}\n`);
    return EXIT.OK;
  }
  if (cmd === 'mcp') {
    let values;
    try {
      ({ values } = parseArgs({ args: rest, options: { workspace: { type: 'string', short: 'w' }, proto: { type: 'string', multiple: true } }, strict: true }));
    } catch (e) {
      process.stderr.write(`podcap mcp: ${(e as Error).message}\nusage: podcap mcp [--workspace DIR] [--proto DIR]...\n`);
      return EXIT.ERROR;
    }
    const protos = values.proto?.length ? await ProtoRegistry.load(values.proto) : null;
    for (const e of protos?.errors ?? []) process.stderr.write(`podcap mcp: ${e.file}: ${e.message}\n`);
    const ws = await Workspace.open(values.workspace ?? defaultWorkspaceDir());
    await serveStdio(ws, { protos });
    await ws.close();
    return EXIT.OK;
  }
  return runCommand(cmd, rest, {
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`podcap: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = EXIT.ERROR;
  },
);
