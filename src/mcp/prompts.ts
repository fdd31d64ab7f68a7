/**
 * MCP prompts, named as Kubeshark names its own: each is the sequence of tool calls an
 * expert makes for one kind of question, for the model to follow and adapt.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

interface PromptSpec {
  name: string;
  title: string;
  description: string;
  args: Record<string, z.ZodString | z.ZodOptional<z.ZodString>>;
  steps: (a: Record<string, string | undefined>) => string[];
}

const snapshotArg = z.string().optional().describe('snapshot id or name (default: every snapshot)');
const scope = (a: Record<string, string | undefined>): string => (a.snapshot ? ` (snapshot "${a.snapshot}")` : '');

export const PROMPTS: PromptSpec[] = [
  {
    name: 'analyze_traffic',
    title: 'Analyze the traffic',
    description: 'An overview of a capture: who talks to whom, how much, how well.',
    args: { snapshot: snapshotArg },
    steps: (a) => [
      `Give an overview of the captured traffic${scope(a)} with the podcap tools:`,
      '1. list_snapshots: the time span, packets, calls by protocol, failures, and whether Kubernetes names were resolved.',
      '2. list_workloads: the workloads, services and external destinations, with their traffic.',
      '3. get_service_map with filter "!dns": the edges with calls, failures, latency and credential coverage.',
      '4. get_api_stats sorted by count, then by failures: the busiest and the failing endpoints.',
      '5. get_timeline: the traffic and failures over time; note any change.',
      'Report: the architecture in a few lines, the busiest endpoints, anything failing or slow, anything odd (external destinations, DNS failures, unrecognised traffic from list_l4_flows with l7 "unrecognised").',
    ],
  },
  {
    name: 'find_errors',
    title: 'Find errors and why they happened',
    description: 'Which calls failed, since when, and why.',
    args: { snapshot: snapshotArg, last: z.string().optional().describe('a window at the end of the capture, e.g. 1h') },
    steps: (a) => [
      `Find the failed API calls${scope(a)}${a.last ? ` in the last ${a.last} of the capture` : ''} and explain why they failed:`,
      `1. get_api_stats with filter "failed && !dns", sort "failures"${a.last ? `, last "${a.last}"` : ''}: which endpoints fail and how often (failure rate).`,
      '2. get_timeline with filter "failed && !dns": when failures began (firstFailure) and whether they stopped.',
      '3. list_api_calls with filter "failed && !dns", limit 10: the evidence field of each says why (status line and error body, grpc-message, reset, no response).',
      '4. get_api_call on one failing call of each endpoint: headers, body, gRPC status and message.',
      '5. trace_request on a failing front-door call: the origin hop is where the failure began (often a dependency several hops down).',
      '6. dns failures apart: list_api_calls with filter \'dns && dns_rcode == "NXDOMAIN" && !dns_search_expansion\'.',
      'Report per failing endpoint: how many failed, from when to when, the root cause with the evidence (call ids), and what the callers saw.',
    ],
  },
  {
    name: 'trace_request',
    title: 'Trace one request',
    description: 'Follow one request through the services and find where it went wrong.',
    args: { id: z.string().describe('the call id to trace (from list_api_calls)') },
    steps: (a) => [
      `Trace the request ${a.id ?? '<id>'} through the services:`,
      `1. get_api_call with id "${a.id ?? '<id>'}": what was asked and answered.`,
      `2. trace_request with id "${a.id ?? '<id>'}": the calls it caused, how each was tied to it (propagation header or time), and the origin of a failure.`,
      '3. get_api_call on the origin hop: its status, grpc-message or error body.',
      '4. If the origin looks like a network problem (no response, reset), get_l4_flow_summary and follow_stream on its connection.',
      'Report the path of the request hop by hop with latency, and where and why it failed.',
    ],
  },
  {
    name: 'show_topology',
    title: 'Show the topology',
    description: 'Draw the service graph with its health.',
    args: { snapshot: snapshotArg },
    steps: (a) => [
      `Show the service topology${scope(a)}:`,
      '1. get_service_map with filter "!dns" and format "mermaid".',
      '2. list_workloads for the pods behind each workload.',
      'Show the Mermaid diagram, then list the edges with failures, high p99 latency, or no credentials.',
    ],
  },
  {
    name: 'latency_analysis',
    title: 'Latency analysis',
    description: 'Which endpoints are slow, since when, and what makes them slow.',
    args: { snapshot: snapshotArg },
    steps: (a) => [
      `Analyze latency${scope(a)}:`,
      '1. get_api_stats with filter "!dns", sort "p99": the slowest endpoints (p50, p90, p99, max).',
      '2. get_timeline with the slowest endpoint\'s filter (e.g. \'path.startsWith("/api/checkout")\'): when latency rose.',
      '3. compare the windows before and during the slowdown (a and b with from/to), or halves: true.',
      '4. list_api_calls with filter "elapsed_time > N" (µs) for the slowest calls; trace_request on one to see which hop holds the time.',
      'Report the slow endpoints with numbers, when it began, and which dependency the time is spent in.',
    ],
  },
  {
    name: 'security_audit',
    title: 'Security audit',
    description: 'Unauthenticated edges, secrets in clear, unexpected external destinations.',
    args: { snapshot: snapshotArg },
    steps: (a) => [
      `Audit the traffic${scope(a)} for security problems:`,
      '1. find_unauthenticated with filter "!dns": edges with no credentials on any call, or only on some; JWT claims (iss, sub, aud, exp) and tokens used after expiry.',
      '2. Secrets in clear: every edge is cleartext on the wire (podcap reads unencrypted captures), so each credential seen was exposed. list_api_calls with filter \'"authorization" in request.headers || "cookie" in request.headers\' to see which edges carry them; query strings with tokens: \'query_string.contains("token") || query_string.contains("key=")\'.',
      '3. get_service_map and list_workloads: nodes of kind external are destinations outside the cluster; DNS lookups of external names: list_api_calls with filter \'dns && !dns_questions.exists(q, q.endsWith(".cluster.local"))\'.',
      '4. get_api_stats by edge for the volume of each finding.',
      'Report each finding with its edge, its volume, example call ids and the risk. Do not ask for reveal: redacted values are enough to judge.',
    ],
  },
  {
    name: 'compare_traffic',
    title: 'Compare traffic',
    description: 'What changed between two snapshots or two time windows.',
    args: {
      a: z.string().optional().describe('first snapshot id or name'),
      b: z.string().optional().describe('second snapshot id or name'),
    },
    steps: (a) => [
      a.a && a.b ? `Compare snapshot "${a.a}" with snapshot "${a.b}":` : 'Compare the traffic before and after the change (two snapshots, or two windows of one):',
      a.a && a.b ? `1. compare with a {"snapshot": "${a.a}"} and b {"snapshot": "${a.b}"}, filter "!dns".` : '1. list_snapshots and get_timeline to choose the sides; then compare with a and b (snapshots or from/to windows), or halves: true.',
      '2. For the endpoints with the highest score: get_api_stats on each side, and list_api_calls for failing or slow examples.',
      '3. get_service_map on each side: edges that appeared or vanished.',
      'Report what changed (new or vanished endpoints, failure rate and p95 changes) with numbers, most important first.',
    ],
  },
  {
    name: 'debug_connection',
    title: 'Debug a connection',
    description: 'Connection-level problems: resets, capture loss, traffic no dissector recognised.',
    args: {
      ip: z.string().optional().describe('an address at either end'),
      port: z.string().optional().describe('a port at either end'),
    },
    steps: (a) => [
      `Debug the connections${a.ip ? ` of ${a.ip}` : ''}${a.port ? ` on port ${a.port}` : ''}:`,
      `1. list_l4_flows${a.ip || a.port ? ` with${a.ip ? ` ip "${a.ip}"` : ''}${a.port ? ` port ${a.port}` : ''}` : ''}: state, RSTs, gaps, L7 protocols; then with reset: true and with gaps: true.`,
      '2. get_l4_flow_summary on a suspicious flow: how it ended, retransmissions, missing bytes, and the calls it carried.',
      '3. follow_stream on it: the raw exchange before a reset or around a gap.',
      '4. list_api_calls with filter \'notes.exists(n, n.contains("gap"))\' or "failed" on that connection (stream_id == N) for calls hurt by it.',
      'Report what happened on the wire, whether the capture lost data (gaps) or the peers did (RST, no response), and the calls affected.',
    ],
  },
];

export function registerPrompts(server: McpServer): void {
  for (const p of PROMPTS) {
    server.registerPrompt(p.name, { title: p.title, description: p.description, argsSchema: p.args }, (args: Record<string, string | undefined>) => ({
      description: p.description,
      messages: [{ role: 'user', content: { type: 'text', text: p.steps(args ?? {}).join('\n') } }],
    }));
  }
}
