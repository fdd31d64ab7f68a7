/** Reports rendered from a model an attacker wrote: every string of it replaced, numbers and booleans kept. */
export function poison(v: unknown, hostile: (s: string, path: string) => string, path = ''): unknown {
  if (typeof v === 'string') return hostile(v, path);
  if (Array.isArray(v)) return v.map((x, i) => poison(x, hostile, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x, hostile, `${path}.${k}`)]));
  return v;
}
