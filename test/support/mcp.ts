/** Driving `podcap mcp` with the SDK's own client, and reading its JSON answers. */
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { podcapBin } from './cli.js';

export async function stdioClient(args: string[]): Promise<Client> {
  const client = new Client({ name: 'podcap-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [podcapBin, 'mcp', ...args], stderr: 'pipe' }));
  return client;
}

/** A client of a server in this process, over the SDK's in-memory transport. */
export async function memoryClient(server: McpServer): Promise<Client> {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'podcap-test', version: '1.0.0' });
  await client.connect(b);
  return client;
}

export function textOf(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text?: string }> }).content;
  assert.equal(content[0].type, 'text');
  return content[0].text ?? '';
}

/** Every text a tool returned in a test file: checked at the end for secrets. */
export class Transcript {
  readonly texts: Array<{ tool: string; text: string }> = [];

  constructor(private readonly client: () => Client) {}

  async raw(name: string, args: Record<string, unknown> = {}): Promise<{ text: string; isError: boolean }> {
    const r = await this.client().callTool({ name, arguments: args });
    const text = textOf(r);
    this.texts.push({ tool: name, text });
    return { text, isError: r.isError === true };
  }

  /** A tool's JSON answer; fails the test on a tool error. */
  async call<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    const r = await this.raw(name, args);
    assert.equal(r.isError, false, `${name} ${JSON.stringify(args)}: ${r.text}`);
    return JSON.parse(r.text) as T;
  }

  async error(name: string, args: Record<string, unknown> = {}): Promise<string> {
    const r = await this.raw(name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail: ${r.text.slice(0, 300)}`);
    return r.text;
  }
}
