/**
 * The user's say over dissection: which dissector a port or server address is handed
 * to (whatever its first bytes look like), and which protocols are not dissected at all.
 */
import { isIP } from 'node:net';

export const DISSECT_PROTOCOLS = ['http', 'http2', 'grpc', 'dns'] as const;
export type DissectProtocol = (typeof DISSECT_PROTOCOLS)[number];

export interface DissectionChoices {
  /** "8443" or "10.0.0.5:9000" / "[fd00::5]:9000" → protocol. */
  hints: Record<string, DissectProtocol>;
  /** false: the protocol's connections and datagrams are counted, not dissected. */
  protocols: Record<DissectProtocol, boolean>;
}

export const ALL_PROTOCOLS_ON: Record<DissectProtocol, boolean> = { http: true, http2: true, grpc: true, dns: true };

/** "8443", "10.0.0.5:9000" or "[fd00::5]:9000"; null when it is none of them. */
export function parseHintKey(key: string): { ip: string | null; port: number } | null {
  let ip: string | null = null;
  let port = key;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(key);
  if (v6) {
    ip = v6[1];
    port = v6[2];
  } else if (key.includes(':')) {
    const at = key.lastIndexOf(':');
    ip = key.slice(0, at);
    port = key.slice(at + 1);
  }
  if (ip !== null && isIP(ip) === 0) return null;
  if (!/^\d+$/.test(port)) return null;
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { ip, port: n } : null;
}

/** Hints looked up per connection: an address:port hint wins over a port hint; the server's end first. */
export class HintTable {
  private readonly byAddress = new Map<string, DissectProtocol>();
  private readonly byPort = new Map<number, DissectProtocol>();

  constructor(hints: Record<string, DissectProtocol>) {
    for (const [key, proto] of Object.entries(hints)) {
      const k = parseHintKey(key);
      if (!k) continue;
      if (k.ip === null) this.byPort.set(k.port, proto);
      else this.byAddress.set(`${k.ip.toLowerCase()}|${k.port}`, proto);
    }
  }

  get size(): number {
    return this.byAddress.size + this.byPort.size;
  }

  lookup(server: { ip: string; port: number }, client: { ip: string; port: number }): DissectProtocol | null {
    if (this.size === 0) return null;
    return this.byAddress.get(`${server.ip.toLowerCase()}|${server.port}`)
      ?? this.byAddress.get(`${client.ip.toLowerCase()}|${client.port}`)
      ?? this.byPort.get(server.port)
      ?? this.byPort.get(client.port)
      ?? null;
  }
}
