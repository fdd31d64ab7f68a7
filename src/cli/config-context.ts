/**
 * The configuration a CLI command runs with: podcap.yaml found (or --config FILE), and the
 * workspace, from --workspace, else the file's `workspace:`, else $PODCAP_WORKSPACE or ~/.podcap.
 */
import { defaultWorkspaceDir } from '../store/workspace.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { hasRedactionRules, redactionRules } from '../config/redaction.js';
import { Redactor } from '../query/redact.js';

export interface CliContext {
  config: LoadedConfig;
  workspace: string;
  /** Where the workspace came from: "flag --workspace", "FILE:LINE", "$PODCAP_WORKSPACE" or "default". */
  workspaceOrigin: string;
}

/** Throws ConfigError (exit 2) when the file in force is malformed: nothing is done with a half-read configuration. */
export function cliContext(values: { workspace?: unknown; config?: unknown }): CliContext {
  const flag = typeof values.workspace === 'string' ? values.workspace : null;
  const config = loadConfig({ explicit: typeof values.config === 'string' ? values.config : null, workspaceDir: flag ?? defaultWorkspaceDir() });
  if (flag) return { config, workspace: flag, workspaceOrigin: 'flag --workspace' };
  if (config.settings.workspace) return { config, workspace: config.settings.workspace, workspaceOrigin: config.origins.workspace ?? 'podcap.yaml' };
  return { config, workspace: defaultWorkspaceDir(), workspaceOrigin: process.env.PODCAP_WORKSPACE ? '$PODCAP_WORKSPACE' : 'default' };
}

/**
 * The CLI's redaction: none (the user's own view of their capture) unless podcap.yaml declares
 * redaction rules; then the same Redactor as MCP and reports (defaults plus the file's rules),
 * which --reveal sets aside.
 */
export function cliRedactor(ctx: CliContext, reveal: boolean): Redactor | null {
  if (reveal || !hasRedactionRules(ctx.config.settings)) return null;
  return configuredRedactor(ctx);
}

/** The defaults and podcap.yaml's rules: what reports (and MCP) always redact with. */
export function configuredRedactor(ctx: CliContext): Redactor {
  return new Redactor([redactionRules(ctx.config.settings)]);
}
