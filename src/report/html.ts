/**
 * The report as one self-contained HTML file: inline CSS, inline SVG for the
 * service map and the timeline, no external resource of any kind (a Content
 * Security Policy says so to the browser, and allows only this file's own style
 * and script by hash). Readable without script; a small script sorts and filters
 * tables. Prints (details opened, navigation hidden), fits a phone's width, and
 * marks failures with words and shapes as well as colour. Everything from the
 * capture is escaped.
 */
import { createHash } from 'node:crypto';
import type { CallDetail, Command, ReportModel } from './model.js';
import { esc, serviceMapSvg, timelineSvg } from './svg.js';
import { ms } from '../query/percentiles.js';
import { fmtPct, reportCaveats } from './text.js';

const CSS = `
:root{--fg:#1f2328;--muted:#57606a;--bg:#fff;--line:#d0d7de;--soft:#f6f8fa;--fail:#b3261e;--failbg:#fdecea;--ok:#4a6fa5;--warn:#7a4d00;--warnbg:#fff4d6;--accent:#0b5cad}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}
header{padding-top:16px;border-bottom:1px solid var(--line)}
h1{font-size:1.5rem;margin:.4em 0}
h2{font-size:1.2rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.2em 0 .4em;overflow-wrap:anywhere}
p,li{overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.9rem}
nav ul{list-style:none;padding:0;margin:.5em 0 1em;display:flex;flex-wrap:wrap;gap:.3em 1em}
nav a{color:var(--accent)}
.callout{border-left:4px solid var(--fail);background:var(--failbg);padding:.6em .8em;margin:1em 0}
.callout.warn{border-color:#b07d00;background:var(--warnbg)}
.callout.good{border-color:#1b6e20;background:#e8f5e9}
.table-wrap{overflow-x:auto;margin:.6em 0;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{padding:.35em .6em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
td{overflow-wrap:anywhere;min-width:4em}
td time{white-space:nowrap}
th{background:var(--soft);white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td:first-child{box-shadow:inset 4px 0 0 var(--fail)}
tr.origin{background:var(--failbg)}
th button{font:inherit;font-weight:bold;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th button::after{content:" \\2195";color:var(--muted)}
th[aria-sort=ascending] button::after{content:" \\2191"}
th[aria-sort=descending] button::after{content:" \\2193"}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:0 .4em;border-radius:3px;border:1px solid currentColor;white-space:nowrap}
.badge.fail{color:var(--fail)}
.badge.warn{color:var(--warn)}
.filter{margin:.4em 0;width:100%;max-width:24em;font:inherit;padding:.3em .5em;border:1px solid var(--line);border-radius:4px}
figure{margin:.8em 0}
figcaption{color:var(--muted);font-size:.85rem}
svg{max-width:100%;height:auto;display:block}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;fill:var(--fg)}
svg .node rect{fill:#eef3fb;stroke:#4a6fa5;stroke-width:1.2}
svg .node.external rect{fill:#fff;stroke-dasharray:4 3}
svg .node.fail rect{stroke:var(--fail);stroke-width:2}
svg .edge{fill:none;stroke:#57606a;stroke-width:1.6}
svg .edge.fail{stroke:var(--fail);stroke-width:2.4}
svg .edge.noauth{stroke-dasharray:7 5}
svg .edge.someauth{stroke-dasharray:2 3}
svg .arrowhead{fill:#57606a}
svg .arrowhead.fail{fill:var(--fail)}
svg .edge-label text{font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .edge-label.fail text{fill:var(--fail);font-weight:600}
svg .edge-label.noauth text{fill:var(--warn)}
svg .ok{fill:#9db4d6}
svg .failed{fill:var(--fail)}
svg .axis{stroke:#57606a}
svg .tick{fill:var(--muted);font-size:10px}
svg .tick.lat{fill:#6b4f00}
svg .p99{fill:none;stroke:#b07d00;stroke-width:1.5}
svg .first-failure line{stroke:var(--fail);stroke-width:2;stroke-dasharray:4 2}
svg .first-failure text{fill:var(--fail);font-weight:700}
svg .legend text{font-size:10px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;max-height:32em;overflow-y:auto}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
details{margin:.5em 0}
summary{cursor:pointer;color:var(--accent)}
.cmds code{background:var(--soft);padding:0 .25em;border-radius:3px}
.cmds li{margin:.2em 0}
footer{color:var(--muted);font-size:.85rem;padding-bottom:2em;border-top:1px solid var(--line);margin-top:2em}
@media (max-width:600px){body{font-size:14px}th,td{padding:.3em .4em}h1{font-size:1.25rem}}
@media print{nav,.filter,th button::after{display:none}a{color:inherit;text-decoration:none}pre{max-height:none}section{break-inside:auto}tr,figure,.callout{break-inside:avoid}h2,h3{break-after:avoid}.table-wrap{overflow:visible;border:0}}
`;

/** Sorting (click a column header) and filtering (type in the box above a table); the page reads the same without it. */
const SCRIPT = `
(function(){
  function key(td){var v=td?td.getAttribute('data-sort'):null;if(v!==null)return v;return td?td.textContent.trim():'';}
  function num(s){var n=parseFloat(s.replace(/[,%]|ms$/g,''));return isNaN(n)?null:n;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var ths=table.querySelectorAll('thead th');
    ths.forEach(function(th,i){
      var b=document.createElement('button');b.type='button';b.textContent=th.textContent;th.textContent='';th.appendChild(b);
      b.addEventListener('click',function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        ths.forEach(function(o){o.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);var nx=num(x),ny=num(y);
          var c=(nx!==null&&ny!==null)?nx-ny:x.localeCompare(y);return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.querySelectorAll('input.filter').forEach(function(input){
    var table=document.getElementById(input.getAttribute('data-table'));input.hidden=false;
    input.addEventListener('input',function(){var q=input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows,function(r){r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;});});
  });
  window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.setAttribute('data-was',d.open?'1':'0');d.open=true;});});
  window.addEventListener('afterprint',function(){document.querySelectorAll('details[data-was]').forEach(function(d){d.open=d.getAttribute('data-was')==='1';d.removeAttribute('data-was');});});
})();
`;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64');

interface Column {
  title: string;
  num?: boolean;
}

interface Row {
  cells: string[];
  /** Sort values where the shown text does not sort (times, "-"). */
  sort?: Array<string | null>;
  cls?: string;
}

let tableSeq = 0;

/** A table; cells are HTML already escaped by the caller. */
function table(cols: Column[], rows: Row[], opts: { caption: string; filter?: boolean; id?: string }): string {
  const id = opts.id ?? `t${++tableSeq}`;
  const head = `<thead><tr>${cols.map((c) => `<th scope="col"${c.num ? ' class="num"' : ''}>${esc(c.title)}</th>`).join('')}</tr></thead>`;
  const body = rows.map((r) => `<tr${r.cls ? ` class="${r.cls}"` : ''}>${r.cells.map((c, i) => {
    const s = r.sort?.[i];
    return `<td${cols[i]?.num ? ' class="num"' : ''}${s != null ? ` data-sort="${esc(s)}"` : ''}>${c}</td>`;
  }).join('')}</tr>`).join('\n');
  const filter = opts.filter && rows.length > 8
    ? `<input class="filter" type="search" hidden data-table="${id}" placeholder="Filter these rows" aria-label="Filter the rows of: ${esc(opts.caption)}">`
    : '';
  return `${filter}<div class="table-wrap"><table id="${id}" class="sortable"><caption class="visually-hidden">${esc(opts.caption)}</caption>${head}<tbody>\n${body}\n</tbody></table></div>`;
}

function commands(list: Command[]): string {
  return `<details class="cmds"><summary>Reproduce with the CLI</summary><ul>${list.map((c) => `<li>${esc(c.title)}: <code>${esc(c.line)}</code></li>`).join('')}</ul></details>`;
}

function headersPre(line: string, h: Array<[string, string]>): string {
  return `<pre>${esc([line, ...h.map(([n, v]) => `${n}: ${v}`)].join('\n'))}</pre>`;
}

function callHtml(c: CallDetail, i: number): string {
  const out: string[] = [];
  out.push(`<article class="call" id="call-${i + 1}"><h3>${i + 1}. ${esc(`${c.from} → ${c.to}: ${c.what}`)}</h3>`);
  out.push(`<p><span class="badge fail">${esc(c.status)}</span> after ${esc(ms(c.elapsedMs))} at ${esc(c.time)}, call <code>${esc(c.id)}</code>.${c.evidence ? ` Why: ${esc(c.evidence)}` : ''}</p>`);
  if (c.notes.length) out.push(`<p>Notes: ${esc(c.notes.join('; '))}</p>`);
  out.push(`<details${i === 0 ? ' open' : ''}><summary>Request and response</summary>`);
  out.push(headersPre(c.request.line, c.request.headers));
  if (c.request.body) out.push(`<pre>${esc(c.request.body)}</pre>`);
  if (c.request.bodyNote) out.push(`<p>Request body: ${esc(c.request.bodyNote)}</p>`);
  for (const m of c.messages) out.push(`<p>gRPC message from the ${esc(m.from)}${m.type ? ` (${esc(m.type)})` : ''}:</p><pre>${esc(m.json)}</pre>`);
  if (c.response) {
    out.push(headersPre(c.response.line, c.response.headers));
    if (c.response.body) out.push(`<pre>${esc(c.response.body)}</pre>`);
    if (c.response.bodyNote) out.push(`<p>Response body: ${esc(c.response.bodyNote)}</p>`);
    if (c.response.trailers.length) out.push('<p>Trailers:</p>', headersPre('', c.response.trailers).replace('<pre>\n', '<pre>'));
  } else out.push('<p>No response was captured.</p>');
  out.push('</details>', commands(c.commands), '</article>');
  return out.join('\n');
}

const n = (v: number): string => String(v);

/** A time in a table: the clock time when the report spans one UTC day (the date is in the capture paragraph), the full ISO time on hover and for machines. */
function timeCell(iso: string, oneDay: boolean): string {
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso)) return esc(iso);
  return `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(oneDay ? iso.slice(11, 23) : iso.replace('T', ' ').replace('Z', ''))}</time>`;
}

export function renderHtml(m: ReportModel): string {
  tableSeq = 0;
  const s: string[] = [];
  const cap = m.capture;
  const oneDay = cap.start !== null && cap.end !== null && cap.start.slice(0, 10) === cap.end.slice(0, 10);
  const day = oneDay ? ` (UTC, ${cap.start!.slice(0, 10)})` : ' (UTC)';
  const f = m.failures;
  const t = m.timeline;
  const a = m.auth;
  const d = m.dns;

  // At a glance: what a reader on the ticket needs first.
  const glance: string[] = [];
  const top = f.groups[0];
  if (top) glance.push(`<li><strong>Failing:</strong> ${esc(top.endpoint)} — ${esc(top.cause)}, ${top.failures} of ${top.endpointCalls} calls, from ${esc(top.firstSeen)} to ${esc(top.lastSeen)}${top.origin ? ' (failures began here)' : ''}.</li>`);
  if (t.firstFailure) glance.push(`<li><strong>First failure:</strong> ${esc(t.firstFailure.time)} (${esc(t.firstFailure.protocol)}).</li>`);
  for (const u of a.unauthenticated) glance.push(`<li><strong>No credentials:</strong> ${esc(u.source)} → ${esc(u.destination)} (${esc(u.protocol)}, ${u.calls} calls).</li>`);
  if (d.failures.length) glance.push(`<li><strong>DNS:</strong> ${d.failures.length} name${d.failures.length === 1 ? '' : 's'} failed to resolve (${d.failures.slice(0, 3).map((x) => esc(x.name)).join(', ')}).</li>`);

  s.push('<header>', `<h1>${esc(m.title)}</h1>`);
  s.push(`<p class="meta">Written by podcap ${esc(m.podcapVersion)} at ${esc(m.generatedAt)}. ${m.redacted ? 'Credentials (Authorization, cookies, API keys, tokens) are redacted.' : '<strong>Credentials are shown as captured (--reveal).</strong>'}</p>`);
  s.push('<nav aria-label="Sections"><ul><li><a href="#capture">Capture</a></li><li><a href="#failures">Failures</a></li><li><a href="#slowest">Slowest</a></li>'
    + '<li><a href="#map">Service map</a></li><li><a href="#timeline">Timeline</a></li><li><a href="#auth">Authentication</a></li><li><a href="#dns">DNS</a></li><li><a href="#calls">Failed calls</a></li></ul></nav>');
  s.push('</header>', '<main>');
  if (glance.length) s.push(`<section aria-labelledby="glance-h" class="callout"><h2 id="glance-h" class="visually-hidden">At a glance</h2><ul>${glance.join('')}</ul></section>`);
  for (const c of reportCaveats(m)) s.push(`<p class="callout warn">${esc(c)}</p>`);

  s.push('<section id="capture" aria-labelledby="capture-h"><h2 id="capture-h">Capture</h2>', `<p>${esc(cap.paragraph)}</p>`);
  s.push(table([{ title: 'File' }, { title: 'Format' }, { title: 'Packets', num: true }, { title: 'Bytes', num: true }, { title: 'First packet' }, { title: 'Last packet' }],
    cap.files.map((x) => ({ cells: [esc(x.path), esc(x.format), n(x.packets), n(x.bytes), esc(x.first ?? '-'), esc(x.last ?? '-')] })), { caption: 'Capture files' }));
  if (cap.undecoded.length) {
    s.push('<details><summary>What was not decoded, and why</summary>', table([{ title: 'What' }, { title: 'Count', num: true }, { title: 'Why' }],
      cap.undecoded.map((u) => ({ cells: [esc(u.what), n(u.count), esc(u.reason)] })), { caption: 'What was not decoded' }), '</details>');
  }
  s.push(commands(cap.commands), '</section>');

  s.push('<section id="failures" aria-labelledby="failures-h"><h2 id="failures-h">Failures</h2>');
  if (f.total === 0) s.push('<p class="callout good">No call failed.</p>');
  else {
    s.push(`<p>${f.total} failed calls${f.dns ? ` (${f.dns} of them DNS queries: see <a href="#dns">DNS</a>)` : ''}, in ${f.totalGroups} groups by endpoint and cause. `
      + 'Where failures began (found by <code>podcap trace</code>) comes first, then the most failures.</p>');
    if (f.groups.length) {
      s.push(table([{ title: 'Endpoint' }, { title: 'Cause' }, { title: 'Failed', num: true }, { title: 'Of calls', num: true }, { title: 'Fail %', num: true },
        { title: `First seen${day}` }, { title: 'Last seen' }, { title: 'Evidence' }],
      f.groups.map((g) => ({
        sort: [null, null, null, null, null, g.firstSeen, g.lastSeen, null],
        cls: `fail${g.origin ? ' origin' : ''}`,
        cells: [
          `${g.origin ? '<span class="badge fail">failures began here</span> ' : ''}<span class="endpoint">${esc(g.endpoint)}</span><br><small>called by ${esc(g.clients.join(', '))}</small>`,
          `${esc(g.cause)}${g.causedBy ? `<br><small>caused by ${esc(g.causedBy)}</small>` : ''}`,
          n(g.failures), n(g.endpointCalls), fmtPct(g.endpointFailureRate), timeCell(g.firstSeen, oneDay), timeCell(g.lastSeen, oneDay),
          g.evidence.map(esc).join('<br>'),
        ],
      })), { caption: 'Failures by endpoint and cause', filter: true, id: 'failures-table' }));
    }
  }
  s.push(commands([...f.commands, ...f.groups.slice(0, 5).map((g) => ({ title: `${g.endpoint}: ${g.cause}`, line: g.command }))]), '</section>');

  s.push('<section id="slowest" aria-labelledby="slowest-h"><h2 id="slowest-h">Slowest endpoints</h2>');
  if (m.slowest.rows.length === 0) s.push('<p>No call had a response.</p>');
  else {
    s.push(`<p>By p99 latency (request start to response end, nearest-rank) of the ${m.slowest.totalEndpoints} endpoints${m.slowest.dnsApart ? ' (DNS names are in the DNS section)' : ''}.</p>`);
    const msCell = (v: number | null): { text: string; sort: string } => ({ text: esc(ms(v)), sort: v === null ? '-1' : String(v) });
    s.push(table([{ title: 'Endpoint' }, { title: 'Protocol' }, { title: 'Calls', num: true }, { title: 'Failed', num: true }, { title: 'p50', num: true },
      { title: 'p90', num: true }, { title: 'p99', num: true }, { title: 'Max', num: true }],
    m.slowest.rows.map((r) => {
      const v = [r.p50, r.p90, r.p99, r.max].map(msCell);
      return { cells: [esc(r.label), esc(r.protocols.join(', ')), n(r.calls), n(r.failures), ...v.map((x) => x.text)], sort: [null, null, null, null, ...v.map((x) => x.sort)] };
    }), { caption: 'Slowest endpoints' }));
  }
  s.push(commands(m.slowest.commands), '</section>');

  s.push('<section id="map" aria-labelledby="map-h"><h2 id="map-h">Service map</h2>');
  if (m.map.edges.length === 0) s.push('<p>No calls.</p>');
  else {
    s.push(`<figure>${serviceMapSvg(m.map)}<figcaption>Who calls whom. Red edges and nodes failed (the count is on the edge); dashed edges carried no credentials; dashed boxes are outside the cluster manifest. The table below says the same in words.</figcaption></figure>`);
    s.push(table([{ title: 'Source' }, { title: 'Destination' }, { title: 'Protocol' }, { title: 'Calls', num: true }, { title: 'Failed', num: true },
      { title: 'p50', num: true }, { title: 'p99', num: true }, { title: 'Credentials' }],
    m.map.edges.map((e) => ({
      cls: e.failures ? 'fail' : undefined,
      cells: [esc(e.source), esc(e.destination), esc(e.protocol), n(e.calls), e.failures ? `<span class="badge fail">${e.failures}</span>` : '0', esc(ms(e.latencyMs.p50)), esc(ms(e.latencyMs.p99)),
        e.credentials === 'n/a' ? 'n/a (DNS)' : e.credentials === 'none' ? `<span class="badge warn">none</span> (0/${e.calls})` : `${esc(e.credentials)} (${e.authenticatedCalls}/${e.calls})`],
      sort: [null, null, null, null, String(e.failures), String(e.latencyMs.p50 ?? -1), String(e.latencyMs.p99 ?? -1), null],
    })), { caption: 'Service map edges', id: 'map-table' }));
  }
  s.push(commands(m.map.commands), '</section>');

  s.push('<section id="timeline" aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>');
  if (t.buckets.length === 0) s.push('<p>No calls.</p>');
  else {
    s.push(t.firstFailure
      ? `<p class="callout" id="first-failure"><strong>First failure: ${esc(t.firstFailure.time)}</strong> (${esc(t.firstFailure.protocol)}), marked on the chart and in the table.</p>`
      : '<p class="callout good">No failures in this window.</p>');
    s.push(`<figure>${timelineSvg(t)}<figcaption>Calls per ${esc(t.bucket)} (failed in red, below), p99 latency as the line; the dashed red line is the first failure.</figcaption></figure>`);
    s.push('<details><summary>The timeline as a table</summary>', table([{ title: 'Time (UTC)' }, { title: 'Calls', num: true }, { title: 'Failed', num: true }, { title: 'p50', num: true }, { title: 'p99', num: true }, { title: '' }],
      t.buckets.map((b, i) => ({
        cls: i === t.firstFailingBucket ? 'fail origin' : b.failures ? 'fail' : undefined,
        cells: [esc(b.start.slice(11, 23)), n(b.calls), n(b.failures), esc(ms(b.p50)), esc(ms(b.p99)), i === t.firstFailingBucket ? '<strong>◀ first failure</strong>' : ''],
        sort: [b.start, null, null, String(b.p50 ?? -1), String(b.p99 ?? -1), null],
      })), { caption: 'Timeline buckets' }), '</details>');
  }
  s.push(commands(t.commands), '</section>');

  s.push('<section id="auth" aria-labelledby="auth-h"><h2 id="auth-h">Authentication</h2>');
  if (a.unauthenticated.length) {
    s.push(`<div class="callout warn" id="unauthenticated"><p><strong>${a.unauthenticated.length} edge${a.unauthenticated.length === 1 ? '' : 's'} carried no credentials on any call:</strong></p><ul>`
      + a.unauthenticated.map((u) => `<li class="unauth-edge">${esc(u.source)} → ${esc(u.destination)} (${esc(u.protocol)}, ${u.calls} calls)</li>`).join('') + '</ul></div>');
  } else if (a.edges.length) s.push('<p class="callout good">Every edge carried credentials on at least one call (DNS aside).</p>');
  if (a.edges.length) {
    s.push(table([{ title: 'Credentials' }, { title: 'Source' }, { title: 'Destination' }, { title: 'Protocol' }, { title: 'Calls', num: true }, { title: 'With', num: true }, { title: 'Without', num: true }, { title: 'Kinds' }],
      a.edges.map((e) => ({
        cells: [e.credentials === 'none' ? '<span class="badge warn">none</span>' : esc(e.credentials === 'n/a' ? 'n/a (DNS)' : e.credentials), esc(e.source), esc(e.destination), esc(e.protocol),
          n(e.calls), n(e.withCredentials), n(e.without), esc(e.kinds)],
      })), { caption: 'Credentials per edge' }));
  }
  if (a.tokens.length) {
    s.push('<p>Bearer tokens by fingerprint (claims decoded without verifying signatures):</p>', table([{ title: 'Edge' }, { title: 'Token' }, { title: 'Type' }, { title: 'iss' }, { title: 'sub' }, { title: 'aud' }, { title: 'Expires' }, { title: 'Seen', num: true }],
      a.tokens.map((k) => ({ cells: [esc(k.edge), `<code>${esc(k.fingerprint)}</code>`, esc(k.type), esc(k.iss ?? '-'), esc(k.sub ?? '-'), esc(k.aud ?? '-'), `${esc(k.expires ?? '-')}${k.usedAfterExpiry ? ' <span class="badge warn">used after expiry</span>' : ''}`, n(k.seen)] })),
      { caption: 'Bearer tokens' }));
  }
  s.push(`<p class="meta">${esc(a.transportNote)}.</p>`, commands(a.commands), '</section>');

  s.push('<section id="dns" aria-labelledby="dns-h"><h2 id="dns-h">DNS</h2>');
  s.push(`<p>${d.queries} DNS queries, ${d.failedQueries} failed. ${d.searchPath.nxdomain} NXDOMAIN answers were expected steps of Kubernetes search-path expansion (the name then resolved under another suffix) and are not failures.</p>`);
  if (d.failures.length) {
    s.push('<p><strong>Lookups that failed for real:</strong></p>', table([{ title: 'Name asked for' }, { title: 'Client' }, { title: 'Queries', num: true }, { title: 'Answers' }, { title: `First seen${day}` }, { title: 'Last seen' }, { title: 'Evidence' }],
      d.failures.map((x) => ({ cls: 'fail', cells: [esc(x.name), esc(x.client), n(x.queries), esc(x.rcodes), timeCell(x.firstSeen, oneDay), timeCell(x.lastSeen, oneDay), esc(x.evidence)], sort: [null, null, null, null, x.firstSeen, x.lastSeen, null] })), { caption: 'DNS lookups that failed' }));
  } else s.push('<p class="callout good">No DNS lookup failed.</p>');
  if (d.searchPath.bases.length) {
    s.push('<details><summary>Search-path expansion (expected NXDOMAIN)</summary>', table([{ title: 'Name asked for' }, { title: 'NXDOMAIN on the way', num: true }, { title: 'Resolved as' }],
      d.searchPath.bases.map((b) => ({ cells: [esc(b.base), n(b.nxdomain), esc(b.resolvedAs ?? '-')] })), { caption: 'Search-path expansion' }), '</details>');
  }
  s.push(commands(d.commands), '</section>');

  s.push('<section id="calls" aria-labelledby="calls-h"><h2 id="calls-h">Failed calls in full</h2>');
  if (m.calls.length === 0) s.push('<p>No failed calls.</p>');
  else s.push(`<p>The first failure of each of the top ${m.calls.length} groups${m.redacted ? ', credentials redacted' : ''}.</p>`, ...m.calls.map(callHtml));
  s.push('</section>', '</main>');
  s.push(`<footer><p>podcap ${esc(m.podcapVersion)}: an offline workbench for Kubernetes network captures. This file has no external resources; its script only sorts and filters tables.</p></footer>`);

  const css = `${CSS}.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\n`;
  const csp = `default-src 'none'; style-src 'sha256-${sha256(css)}'; script-src 'sha256-${sha256(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${esc(m.title)}</title>`,
    `<style>${css}</style>`,
    '</head>',
    '<body>',
    ...s,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
