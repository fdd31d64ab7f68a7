/**
 * What counts as a failed HTTP call beyond the dissectors' own rule (5xx, reset, no
 * response): a team may count 4xx too, for its namespace or one service. Decided on the
 * server's identity, so it runs after the addresses are named.
 */
import { failureEvidence } from './evidence.js';
import type { DissectedTransaction, TransactionRecord } from './record.js';

export type HttpFailureClass = '5xx' | '4xx';

export interface FailureSettings {
  http: HttpFailureClass;
  rules: Array<{ namespace?: string; service?: string; http: HttpFailureClass }>;
}

export class FailurePolicy {
  constructor(private readonly s: FailureSettings) {}

  /** Nothing to do when 4xx counts nowhere: the dissectors' rule stands. */
  get trivial(): boolean {
    return this.s.http === '5xx' && this.s.rules.every((r) => r.http === '5xx');
  }

  /** The class in force for calls to this server: the most specific rule (namespace and service, service, namespace), else the default. */
  classFor(dst: TransactionRecord['dst']): HttpFailureClass {
    const ns = dst.service?.namespace ?? dst.namespace;
    const svc = dst.service?.name ?? (dst.kind === 'service' ? dst.name : null);
    let best: { score: number; http: HttpFailureClass } | null = null;
    for (const r of this.s.rules) {
      if (r.namespace !== undefined && r.namespace !== ns) continue;
      if (r.service !== undefined && r.service !== svc && r.service !== dst.workload?.name) continue;
      const score = (r.namespace !== undefined ? 1 : 0) + (r.service !== undefined ? 2 : 0);
      if (!best || score > best.score) best = { score, http: r.http };
    }
    return best?.http ?? this.s.http;
  }

  /** Sets `failed` (and its evidence) on an HTTP 4xx call the policy counts; returns the change in failed calls (-1, 0, +1). */
  apply(t: DissectedTransaction): number {
    const r = t.record;
    if (this.trivial || (r.protocol !== 'http' && r.protocol !== 'http2') || !r.response) return 0;
    const status = r.response.status;
    if (status < 400 || status >= 500) return 0;
    // Only a 4xx the dissector left unfailed changes (a reset 4xx stays failed whatever the class).
    if (r.failed || this.classFor(r.dst) !== '4xx') return 0;
    r.failed = true;
    r.evidence = failureEvidence(t);
    return 1;
  }
}
