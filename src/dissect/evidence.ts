/**
 * Why a call failed, in one line an analyst (or a model) can quote: the status
 * line, the error body's start, grpc-message, the DNS rcode, a reset, or the
 * missing response, whichever the capture shows.
 */
import { isTextual } from './body.js';
import type { DissectedTransaction } from './record.js';
import { messageHeader } from './header-block.js';

const EXCERPT = 200;

function bodyExcerpt(body: Buffer | null, contentType: string | null): string | null {
  if (!body || body.length === 0) return null;
  const head = body.subarray(0, EXCERPT * 4);
  if (!isTextual(head, contentType)) return `${body.length} bytes of ${contentType ?? 'binary data'}`;
  const text = head.toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text;
}

export function failureEvidence(t: DissectedTransaction): string | null {
  const r = t.record;
  if (!r.failed) return null;
  const parts: string[] = [];
  if (r.grpc) {
    parts.push(`gRPC ${r.grpc.statusName} (${r.status})${r.grpc.message ? `: ${r.grpc.message}` : ''}`);
  } else if (r.dns) {
    const q = r.dns.questions[0];
    parts.push(r.dns.rcode ? `DNS ${r.dns.rcode} for ${q ? `${q.type} ${q.name}` : 'the query'}` : `DNS query ${q ? `${q.type} ${q.name}` : ''} got no answer`.trim());
  } else if (r.response) {
    parts.push(`${r.response.version} ${r.response.status}${r.response.statusText ? ` ${r.response.statusText}` : ''}`);
    const excerpt = bodyExcerpt(t.responseBody, messageHeader(r.response, 'content-type'));
    if (excerpt) parts.push(excerpt);
  }
  if (r.http2?.resetCode) parts.push(`stream reset by the ${r.http2.resetBy}: ${r.http2.resetCode}`);
  if (!r.response && !r.dns && !r.grpc) {
    const end = r.notes.find((n) => /reset|missing|ended|not finished|no response/.test(n));
    parts.push(end ?? 'no response');
  }
  return parts.join(' — ');
}
