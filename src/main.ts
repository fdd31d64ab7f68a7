#!/usr/bin/env node
/** The podcap command: `mcp` goes to the MCP server, everything else to the CLI. */
import { runCommand, USAGE } from './cli/commands.js';
import { EXIT } from './cli/exit-codes.js';
import { PODCAP_VERSION } from './version.js';

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
    // Loaded only here: the MCP SDK and its schemas cost every other command ~0.1 s of start-up.
    const { runMcp } = await import('./mcp/command.js');
    return runMcp(rest, (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  }
  return runCommand(cmd, rest, {
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  });
}

// A reader that went away (`podcap calls | head`) ends the output: no crash, no stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? EXIT.OK);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`podcap: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = EXIT.ERROR;
  },
);
