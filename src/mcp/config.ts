/**
 * The MCP server's podcap.yaml: read when it starts (a malformed one stops it), reloaded on
 * SIGHUP. A reload that fails leaves the configuration in force untouched and says why
 * (file, line, key).
 */
import { ConfigHolder, type ConfigError, type ConfigLookup, type LoadedConfig } from '../config/load.js';
import { redactionRules } from '../config/redaction.js';
import { Redactor } from '../query/redact.js';
import type { ToolContext } from './context.js';

/** What the tools take from a configuration: the redaction rules and the settings. */
export function applyConfig(ctx: ToolContext, config: LoadedConfig): void {
  ctx.redactor = new Redactor([redactionRules(config.settings)]);
  ctx.settings = () => config.settings;
}

/** Reload and apply; on error nothing changes and the error is returned. */
export function reloadConfig(ctx: ToolContext, holder: ConfigHolder, lookup: ConfigLookup): ConfigError | null {
  const err = holder.reload(lookup);
  if (!err) applyConfig(ctx, holder.config);
  return err;
}
