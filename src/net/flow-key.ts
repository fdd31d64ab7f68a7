/**
 * How UDP flows and TCP connections are found from a packet: first by their port pair, a number
 * (a Map lookup on it costs a fraction of building and hashing a string of both ends for every
 * packet), then by both ends compared; the string of both ends only where one port pair is shared
 * by many pairs of hosts.
 */
import type { DecodedPacket } from './decode.js';

/** Both ports as one number, the same whichever way the packet went. */
export function portPair(p: DecodedPacket): number {
  return p.srcPort < p.dstPort ? p.srcPort * 65536 + p.dstPort : p.dstPort * 65536 + p.srcPort;
}

/** Both ends as a string, the same whichever way the packet went. */
export function endsKey(aIp: string, aPort: number, bIp: string, bPort: number): string {
  const forward = aIp < bIp || (aIp === bIp && aPort < bPort);
  return forward ? `${aIp}|${aPort}|${bIp}|${bPort}` : `${bIp}|${bPort}|${aIp}|${aPort}`;
}

/** Whether a packet went between these two ends, either way. */
export function between(a: { ip: string; port: number }, b: { ip: string; port: number }, p: DecodedPacket): boolean {
  return (a.port === p.srcPort && b.port === p.dstPort && a.ip === p.srcIp && b.ip === p.dstIp)
    || (a.port === p.dstPort && b.port === p.srcPort && a.ip === p.dstIp && b.ip === p.srcIp);
}

/** How many flows of one port pair are scanned; past it, they are found by endsKey. */
export const BUCKET_SCAN = 8;
