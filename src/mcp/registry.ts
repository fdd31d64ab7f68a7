/**
 * The tool registry: a tool is a name, a description written for a model, a zod
 * input shape and a function over the ToolContext. Adding a tool is one
 * `defineTool` in a module of tools/ and one entry in tools/index.ts.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { CaptureError } from '../capture/packet.js';
import { ManifestError } from '../k8s/manifest.js';
import { CursorError } from '../query/calls.js';
import { ExportError, NotFoundError } from '../query/export.js';
import { FilterError } from '../query/filter.js';
import { AnalysisError } from '../query/stats.js';
import { SnapshotBusy, SnapshotNotFound } from '../store/workspace.js';
import type { ToolContext } from './context.js';
import { ToolError, errorResult, jsonResult } from './result.js';

export interface ToolSpec<S extends z.ZodRawShape> {
  name: string;
  title: string;
  /** What it answers, when to use it, an example: the model reads this to choose. */
  description: string;
  input: S;
  annotations?: ToolAnnotations;
  /** The result, as JSON (bounded by the caller), or a ready CallToolResult. */
  run: (args: z.infer<z.ZodObject<S>>, ctx: ToolContext) => unknown;
}

export interface Tool {
  name: string;
  title: string;
  description: string;
  input: z.ZodRawShape;
  annotations: ToolAnnotations;
  run: (args: unknown, ctx: ToolContext) => Promise<CallToolResult>;
}

function isCallToolResult(v: unknown): v is CallToolResult {
  return typeof v === 'object' && v !== null && Array.isArray((v as { content?: unknown }).content);
}

/** Errors that answer the question asked ("no such snapshot", "bad filter"): the model can act on them. */
function userError(e: unknown): string | null {
  if (e instanceof FilterError) return `bad filter: ${e.message} (filter_help lists the variables)`;
  if (e instanceof ToolError || e instanceof CursorError || e instanceof SnapshotNotFound || e instanceof AnalysisError
    || e instanceof NotFoundError || e instanceof ExportError || e instanceof CaptureError || e instanceof ManifestError
    || e instanceof SnapshotBusy) return e.message;
  return null;
}

export function defineTool<S extends z.ZodRawShape>(spec: ToolSpec<S>): Tool {
  const schema = z.object(spec.input);
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    input: spec.input,
    annotations: { title: spec.title, readOnlyHint: true, openWorldHint: false, ...spec.annotations },
    run: async (args, ctx) => {
      try {
        // The SDK has validated the arguments already; parsing again gives them their type.
        const value = await spec.run(schema.parse(args ?? {}), ctx);
        return isCallToolResult(value) ? value : jsonResult(value);
      } catch (e) {
        const message = userError(e);
        if (message !== null) return errorResult(message);
        return errorResult(`internal error in ${spec.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

export function registerTools(server: McpServer, tools: readonly Tool[], ctx: ToolContext): void {
  for (const t of tools) {
    server.registerTool(t.name, { title: t.title, description: t.description, inputSchema: t.input, annotations: t.annotations },
      (args: unknown) => t.run(args, ctx));
  }
}
