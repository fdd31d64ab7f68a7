/**
 * Naming the two ends of every transaction: the Kubernetes identity of each
 * ip:port at the transaction's time (pod, service, node, else external), and the
 * name DNS gave an address earlier in the capture (the name the client asked for),
 * which is what names external endpoints.
 */
import type { TransactionRecord } from '../dissect/record.js';
import { EXTERNAL, toEndpoint, type IdentityResolver } from './identity.js';

type Enrichable = Omit<TransactionRecord, 'id' | 'snapshot'>;

export interface ResolutionReport {
  /** Endpoints (two per transaction) by what they resolved to. */
  endpoints: Record<'pod' | 'service' | 'node' | 'external', number>;
  /** External endpoints that a DNS answer in the capture named. */
  namedByDns: number;
  /** Addresses no manifest object claims, private (RFC 1918, ULA: likely in the cluster) and public, most seen first. */
  unknownPrivate: Array<{ ip: string; endpoints: number }>;
  unknownPublic: Array<{ ip: string; endpoints: number }>;
  /** Total distinct unresolved private addresses (the list above is cut at 20). */
  unknownPrivateCount: number;
  unknownPublicCount: number;
  /** No manifest given: every address is external unless DNS named it. */
  manifest: boolean;
}

const TOP = 20;

/** RFC 1918, CGNAT, link-local, loopback and IPv6 unique-local/link-local: addresses a cluster uses internally. */
export function isPrivateAddress(ip: string): boolean {
  if (ip.includes(':')) {
    const l = ip.toLowerCase();
    return l.startsWith('fc') || l.startsWith('fd') || l.startsWith('fe80') || l === '::1';
  }
  const [a, b] = ip.split('.').map(Number);
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254);
}

export class Enricher {
  /** Address → the name the client asked DNS for, from A/AAAA answers seen so far. */
  private readonly dnsNames = new Map<string, string>();
  private readonly unknown = new Map<string, number>();
  private readonly counts: ResolutionReport['endpoints'] = { pod: 0, service: 0, node: 0, external: 0 };
  private namedByDns = 0;

  constructor(private readonly resolver: IdentityResolver | null) {}

  apply(rec: Enrichable): void {
    if (rec.dns) this.learn(rec);
    rec.src = this.endpoint(rec.src.ip, rec.src.port, rec.timestamp);
    rec.dst = this.endpoint(rec.dst.ip, rec.dst.port, rec.timestamp);
  }

  /** A/AAAA answers: the addresses a name resolved to carry that name from now on. */
  private learn(rec: Enrichable): void {
    const d = rec.dns!;
    const asked = d.questions[0]?.name;
    if (!asked) return;
    for (const a of d.answers) {
      if ((a.type === 'A' || a.type === 'AAAA') && a.data) {
        // Bound the map: a capture of a resolver's traffic could name millions of addresses.
        if (this.dnsNames.size >= 1_000_000 && !this.dnsNames.has(a.data)) continue;
        this.dnsNames.set(a.data, asked.replace(/\.$/, ''));
      }
    }
  }

  private endpoint(ip: string, port: number, ts: number): TransactionRecord['src'] {
    const id = this.resolver ? this.resolver.resolve(ip, port, ts) : EXTERNAL;
    const dns = this.dnsNames.get(ip) ?? null;
    this.counts[id.kind]++;
    if (id.kind === 'external') {
      if (dns) this.namedByDns++;
      else this.unknown.set(ip, (this.unknown.get(ip) ?? 0) + 1);
    }
    return toEndpoint(ip, port, id, dns);
  }

  report(): ResolutionReport {
    const all = [...this.unknown.entries()].sort((a, b) => b[1] - a[1]);
    const priv = all.filter(([ip]) => isPrivateAddress(ip));
    const pub = all.filter(([ip]) => !isPrivateAddress(ip));
    return {
      endpoints: { ...this.counts },
      namedByDns: this.namedByDns,
      unknownPrivate: priv.slice(0, TOP).map(([ip, endpoints]) => ({ ip, endpoints })),
      unknownPublic: pub.slice(0, TOP).map(([ip, endpoints]) => ({ ip, endpoints })),
      unknownPrivateCount: priv.length,
      unknownPublicCount: pub.length,
      manifest: this.resolver !== null,
    };
  }
}
