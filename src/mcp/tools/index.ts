/**
 * Every tool the server offers, in the order tools/list shows them. To add one:
 * write it with defineTool (registry.ts) in the module of its topic, or a new one,
 * and add it to this list.
 */
import type { Tool } from '../registry.js';
import { ANALYSIS_TOOLS } from './analyses.js';
import { CALL_TOOLS } from './calls.js';
import { DERIVE_TOOLS } from './derive.js';
import { DISSECTION_TOOLS } from './dissection.js';
import { FILTER_TOOLS } from './filter.js';
import { FLOW_TOOLS } from './flows.js';
import { PACKET_TOOLS } from './packets.js';
import { SNAPSHOT_TOOLS } from './snapshots.js';

export const TOOLS: readonly Tool[] = [
  ...SNAPSHOT_TOOLS,
  ...DERIVE_TOOLS,
  ...CALL_TOOLS,
  ...ANALYSIS_TOOLS,
  ...FLOW_TOOLS,
  ...PACKET_TOOLS,
  ...FILTER_TOOLS,
  ...DISSECTION_TOOLS,
];
