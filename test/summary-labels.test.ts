/**
 * The credential kinds the summary's auth column holds (summary-labels.ts authOf), from header
 * lists and from raw HTTP/1 header blocks alike, with the name cache the builder uses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_API_KEY, AUTH_BASIC, AUTH_BEARER, AUTH_COOKIE, AUTH_OTHER } from '../src/store/summary-format.js';
import { HeaderKinds, authOf, type Row } from '../src/store/summary-labels.js';

function row(headers: Array<[string, string]>, raw: boolean): Row {
  const request = raw
    ? { headers: [], rawHeaders: headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') }
    : { headers };
  return { request } as unknown as Row;
}

const cases: Array<[string, Array<[string, string]>, number]> = [
  ['no credentials', [['Host', 'a'], ['Content-Type', 'text/plain'], ['Connection', 'keep-alive']], 0],
  ['a bearer token, any case, spaces before it', [['authorization', '   BeArEr abc.def.ghi']], AUTH_BEARER],
  ['basic', [['Authorization', 'Basic dXNlcjpwYXNz']], AUTH_BASIC],
  ['a scheme alone, without a space after it, is another kind', [['Authorization', 'Bearer']], AUTH_OTHER],
  ['a tab after the scheme is not the space the scheme needs', [['Authorization', 'Bearer\tabc']], AUTH_OTHER],
  ['a dotted capital I (U+0130) is not an i', [['Authorization', 'BAS\u0130C abc']], AUTH_OTHER],
  ['another scheme', [['Proxy-Authorization', 'Digest username="u"']], AUTH_OTHER],
  ['cookies and API keys by name', [['Cookie', 'a=b'], ['X-Api-Key', 'k'], ['x-auth', 'y']], AUTH_COOKIE | AUTH_API_KEY],
  ['names ending in token or access-key', [['X-Session-Token', 't'], ['my-access-key', 'k'], ['apikey', 'k']], AUTH_API_KEY],
  ['words that only end like one are not credentials', [['X-Tokenizer', 'a'], ['Oauth-State', 'b'], ['Author', 'c']], 0],
  ['every kind at once', [['Authorization', 'Bearer x'], ['Proxy-Authorization', 'Basic y'], ['Cookie', 'c'], ['X-API-KEY', 'k']], AUTH_BEARER | AUTH_BASIC | AUTH_COOKIE | AUTH_API_KEY],
];

describe('authOf', () => {
  for (const [name, headers, want] of cases) {
    it(name, () => {
      const kinds = new HeaderKinds();
      for (const raw of [false, true]) {
        assert.equal(authOf(row(headers, raw)), want, `${raw ? 'raw block' : 'header list'}, uncached`);
        // Twice with one cache: the second answer comes from it.
        assert.equal(authOf(row(headers, raw), kinds), want, `${raw ? 'raw block' : 'header list'}, cached`);
        assert.equal(authOf(row(headers, raw), kinds), want, `${raw ? 'raw block' : 'header list'}, cached again`);
      }
    });
  }
});
