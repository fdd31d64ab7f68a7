import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { decodeSchemaless, schemalessToJson, type ProtoField } from '../src/dissect/protobuf.js';
import { ProtoRegistry } from '../src/dissect/proto-registry.js';
import { repoRoot } from './support/paths.js';

const protoDir = join(repoRoot, 'test', 'fixtures-proto');
const schemalessDir = join(protoDir, 'schemaless');
const registryDir = join(protoDir, 'registry');

const kitchenRoot = protobuf.loadSync(join(schemalessDir, 'kitchen.proto'));
const Kitchen = kitchenRoot.lookupType('kitchen.Kitchen');
const NodeT = kitchenRoot.lookupType('kitchen.Node');
const WithGroup = protobuf.loadSync(join(schemalessDir, 'legacy.proto')).lookupType('legacy.WithGroup');

function enc(t: protobuf.Type, obj: Record<string, unknown>): Buffer {
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

function one(fields: ProtoField[], field: number): ProtoField {
  const found = fields.filter((f) => f.field === field);
  assert.equal(found.length, 1, `field ${field} once`);
  return found[0];
}

const KITCHEN = {
  title: 'kitchen sink — ü',
  inner: { name: 'inner', count: 42 },
  packedInts: [1, 2, 300, -1],
  unpackedInts: [7, 8, 9],
  blob: Buffer.from([0xff, 0x00, 0xfe, 0x80]),
  neg32: -5,
  zz32: -3,
  zz64: '-1234567890123',
  fx32: 4000000000,
  fx64: '9223372036854775813',
  fl: 1.5,
  db: 3.14,
  counts: { a: 1, b: -2 },
  empty: {},
  tags: ['hi', 'x', 'hello world'],
  items: [{ name: 'i1' }, { name: 'i2', count: 2 }],
  big: '18446744073709551615',
  neg64: '-9007199254740993',
  sfx32: -5,
};

test('schema-less: every wire type and the len guesses on a protobufjs-encoded message', () => {
  const buf = enc(Kitchen, KITCHEN);
  const { fields, error } = decodeSchemaless(buf);
  assert.equal(error, null);

  const title = one(fields, 1);
  assert.equal(title.wireType, 'len');
  assert.equal(title.as, 'string');
  assert.equal(title.text, 'kitchen sink — ü');

  const inner = one(fields, 2);
  assert.equal(inner.as, 'message');
  assert.deepEqual(inner.message?.map((f) => [f.field, f.wireType, f.as ?? f.scalar]), [[1, 'len', 'string'], [2, 'varint', 42]]);

  const packed = one(fields, 3);
  assert.equal(packed.as, 'packed');
  assert.deepEqual(packed.packed, ['1', '2', '300', '-1']);

  const unpacked = fields.filter((f) => f.field === 4);
  assert.deepEqual(unpacked.map((f) => [f.wireType, f.scalar]), [['varint', 7], ['varint', 8], ['varint', 9]]);

  const blob = one(fields, 5);
  assert.equal(blob.as, 'bytes', 'not UTF-8, not a message, not canonical varints');
  assert.equal(blob.bytes, Buffer.from([0xff, 0x00, 0xfe, 0x80]).toString('base64'));

  // int32 -5 is a 10-byte varint: the signed 64-bit reading leads.
  const neg32 = one(fields, 6);
  assert.equal(neg32.scalar, -5);
  assert.match(neg32.value, /^-5 \(uint64 18446744073709551611, zigzag /);
  // sint32 / sint64: the zigzag reading is there.
  assert.equal(one(fields, 7).value, '5 (zigzag -3)');
  assert.equal(one(fields, 8).value, '2469135780245 (zigzag -1234567890123)');
  // fixed32 / fixed64: unsigned, with the signed and float readings beside.
  const fx32 = one(fields, 9);
  assert.equal(fx32.wireType, 'i32');
  assert.equal(fx32.scalar, 4000000000);
  assert.match(fx32.value, /^4000000000 \(int32 -294967296, float /);
  const fx64 = one(fields, 10);
  assert.equal(fx64.wireType, 'i64');
  assert.equal(fx64.scalar, '9223372036854775813', 'beyond 2^53: a decimal string');
  // float / double: the float reading is the likelier one.
  const fl = one(fields, 11);
  assert.equal(fl.value, '1069547520 (float 1.5)');
  assert.equal(fl.scalar, 1.5);
  const db = one(fields, 12);
  assert.equal(db.value, '4614253070214989087 (double 3.14)');
  assert.equal(db.scalar, 3.14);
  // a map is repeated entry messages {1: key, 2: value}
  const entries = fields.filter((f) => f.field === 13);
  assert.equal(entries.length, 2);
  assert.ok(entries.every((e) => e.as === 'message'));
  // an empty message is an empty len field, shown as protoc --decode_raw does: ""
  assert.deepEqual(one(fields, 14), { field: 14, wireType: 'len', value: '', as: 'string', text: '' });
  // "hi" parses as the message {13: 105}; printable text wins over a scalar-only message
  assert.deepEqual(fields.filter((f) => f.field === 15).map((f) => [f.as, f.text]), [['string', 'hi'], ['string', 'x'], ['string', 'hello world']]);
  assert.equal(one(fields, 17).value, '-1 (uint64 18446744073709551615, zigzag -9223372036854775808)');
  assert.equal(one(fields, 18).scalar, '-9007199254740993');
  const sfx32 = one(fields, 19);
  assert.equal(sfx32.value, '4294967291 (int32 -5, float NaN)');

  assert.deepEqual(schemalessToJson(fields), {
    1: 'kitchen sink — ü',
    2: { 1: 'inner', 2: 42 },
    3: [1, 2, 300, -1],
    4: [7, 8, 9],
    5: '/wD+gA==',
    6: -5,
    7: 5,
    8: 2469135780245,
    9: 4000000000,
    10: '9223372036854775813',
    11: 1.5,
    12: 3.14,
    13: [{ 1: 'a', 2: 1 }, { 1: 'b', 2: -2 }],
    14: '',
    15: ['hi', 'x', 'hello world'],
    16: [{ 1: 'i1' }, { 1: 'i2', 2: 2 }],
    17: -1,
    18: '-9007199254740993',
    19: 4294967291,
  });
});

test('schema-less: empty input, empty message, a message of one packed element', () => {
  assert.deepEqual(decodeSchemaless(Buffer.alloc(0)), { fields: [], error: null });
  assert.deepEqual(schemalessToJson([]), {});
  const buf = enc(Kitchen, { packedInts: [150] });
  const { fields, error } = decodeSchemaless(buf);
  assert.equal(error, null);
  assert.deepEqual(schemalessToJson(fields), { 3: [150] });
});

test('schema-less: proto2 groups decode as nested messages', () => {
  const buf = enc(WithGroup, { a: 1, item: [{ name: 'g', n: 3 }, { n: 4 }], z: 9 });
  const { fields, error } = decodeSchemaless(buf);
  assert.equal(error, null);
  assert.deepEqual(fields.map((f) => [f.field, f.wireType, f.as ?? null]), [[1, 'varint', null], [2, 'group', 'message'], [2, 'group', 'message'], [5, 'varint', null]]);
  assert.deepEqual(schemalessToJson(fields), { 1: 1, 2: [{ 3: 'g', 4: 3 }, { 4: 4 }], 5: 9 });
  // A group beyond maxDepth is kept whole, as bytes.
  const shallow = decodeSchemaless(buf, { maxDepth: 0 });
  assert.equal(shallow.error, null);
  assert.deepEqual(shallow.fields.map((f) => f.as ?? null), [null, 'bytes', 'bytes', null]);
  assert.equal(shallow.fields[1].bytes, Buffer.from('1a016720 03'.replace(/ /g, ''), 'hex').toString('base64'));
});

test('schema-less: structural errors keep the fields decoded before them', () => {
  const cases: Array<[string, string, RegExp, number]> = [
    ['truncated varint', '089601 10ff', /truncated varint for field 2 at offset 4/, 1],
    ['truncated tag', '0801 80', /truncated tag at offset 2/, 1],
    ['length overrun', '0801 1210 61', /length 16 of field 2 overruns the buffer \(1 bytes left\) at offset 3/, 1],
    ['invalid wire type', '0801 0f', /invalid wire type 7/, 1],
    ['field number 0', '0801 0001', /field number 0/, 1],
    ['end group without start', '0801 0c', /end of group 1 without a start/, 1],
    ['unterminated group', '0801 13 1801', /unterminated group 2/, 2],
    ['truncated fixed64', '0801 0901020304', /truncated 64-bit value for field 1 \(4 of 8 bytes\)/, 1],
    ['truncated fixed32', '0801 0d0102', /truncated 32-bit value/, 1],
    ['over-long varint', '08 ffffffffffffffffffff01', /over-long varint/, 0],
  ];
  for (const [name, hex, re, n] of cases) {
    const r = decodeSchemaless(Buffer.from(hex.replace(/ /g, ''), 'hex'));
    assert.match(r.error ?? '', re, name);
    assert.equal(r.fields.length, n, name);
    if (n > 0) assert.equal(r.fields[0].field, 1, name);
  }
  // An overrun inside a nested len field is not an error: the bytes are just not a message.
  const inner = decodeSchemaless(Buffer.from('0a03 1210ff'.replace(/ /g, ''), 'hex'));
  assert.equal(inner.error, null);
  assert.equal(inner.fields[0].as, 'bytes');
});

test('schema-less: every prefix of a real message and random garbage never throw', () => {
  const buf = enc(Kitchen, KITCHEN);
  for (let i = 0; i < buf.length; i++) {
    const r = decodeSchemaless(buf.subarray(0, i));
    assert.ok(Array.isArray(r.fields));
    schemalessToJson(r.fields);
  }
  // deterministic pseudo-random garbage
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16;
  };
  let errors = 0;
  for (let n = 0; n < 3000; n++) {
    const b = Buffer.alloc(rnd() % 300);
    for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
    const r = decodeSchemaless(b, { maxFields: 500 });
    if (r.error !== null) errors++;
    JSON.stringify(schemalessToJson(r.fields));
  }
  assert.ok(errors > 2500, `most garbage is an error (${errors}/3000)`);
  // flipped bytes in a real message
  for (let n = 0; n < 2000; n++) {
    const b = Buffer.from(buf);
    b[rnd() % b.length] = rnd() & 0xff;
    b[rnd() % b.length] = rnd() & 0xff;
    decodeSchemaless(b);
  }
});

test('schema-less: nesting is guessed down to maxDepth and no further', () => {
  let obj: Record<string, unknown> = { leaf: 'bottom of the well' };
  for (let i = 0; i < 40; i++) obj = { child: obj };
  const buf = enc(NodeT, obj);
  const depthOf = (fields: ProtoField[]): { levels: number; last: ProtoField } => {
    let levels = 0;
    let f = fields[0];
    while (f.as === 'message' && f.message !== undefined) {
      levels++;
      f = f.message[0];
    }
    return { levels, last: f };
  };
  for (const maxDepth of [undefined, 3, 0]) {
    const r = decodeSchemaless(buf, maxDepth === undefined ? {} : { maxDepth });
    assert.equal(r.error, null);
    const { levels, last } = depthOf(r.fields);
    assert.equal(levels, maxDepth ?? 16);
    assert.equal(last.field, 1);
    assert.equal(last.as, 'bytes');
  }
  // The whole chain is there when the bound allows it.
  const all = depthOf(decodeSchemaless(buf, { maxDepth: 100 }).fields);
  assert.equal(all.levels, 40);
  assert.deepEqual([all.last.field, all.last.as, all.last.text], [2, 'string', 'bottom of the well']);

  // Deep groups (no length prefix to skip by) are bounded too, without recursion past maxDepth.
  const deep = Buffer.concat([Buffer.alloc(100_000, 0x0b), Buffer.alloc(100_000, 0x0c)]); // 100k nested group 1
  const g = decodeSchemaless(deep);
  assert.equal(g.error, null);
  let levels = 0;
  let f = g.fields[0];
  while (f.as === 'message' && f.message !== undefined) { levels++; f = f.message[0]; }
  assert.equal(levels, 16);
  assert.equal(f.as, 'bytes');
});

test('schema-less: maxFields bounds the output', () => {
  const buf = enc(Kitchen, { unpackedInts: Array.from({ length: 100 }, (_, i) => i) });
  const r = decodeSchemaless(buf, { maxFields: 10 });
  assert.equal(r.fields.length, 10);
  assert.match(r.error ?? '', /maxFields/);
  // nested: the budget counts fields at every level
  const nested = enc(Kitchen, { items: Array.from({ length: 50 }, (_, i) => ({ name: `n${i}`, count: i + 1 })) });
  const rn = decodeSchemaless(nested, { maxFields: 20 });
  let count = 0;
  const walk = (fs: ProtoField[]): void => { for (const f of fs) { count++; if (f.message) walk(f.message); } };
  walk(rn.fields);
  assert.ok(count <= 20, `${count} fields`);
  assert.match(rn.error ?? '', /maxFields/);
  // packed elements count too: over budget they stay bytes
  const packed = enc(Kitchen, { packedInts: Array.from({ length: 100 }, (_, i) => i + 1) });
  const rp = decodeSchemaless(packed, { maxFields: 50 });
  assert.equal(rp.error, null);
  assert.notEqual(rp.fields[0].as, 'packed');
});

test('schema-less: text, packed and bytes tie-breaks', () => {
  const len = (payload: Buffer): ProtoField => {
    const r = decodeSchemaless(Buffer.concat([Buffer.from([0x0a, payload.length]), payload]));
    assert.equal(r.error, null);
    return r.fields[0];
  };
  assert.equal(len(Buffer.from('(H')).as, 'string', '"(H" is also {5: 72}');
  assert.equal(len(Buffer.from([0x08, 0x01])).as, 'message', '{1: 1} has control characters: a message');
  assert.equal(len(Buffer.from('tab\tand\nnewline')).as, 'string');
  assert.equal(len(Buffer.from([0x01, 0x02, 0x03])).as, 'packed');
  assert.equal(len(Buffer.from([0x81, 0x00])).as, 'bytes', 'a redundant zero group is not a varint an encoder writes');
  assert.equal(len(Buffer.from([0xc3, 0x28, 0xff])).as, 'bytes', 'invalid UTF-8, not a varint sequence');
  // a 16-byte id: bytes, unless it happens to parse
  const id = Buffer.from('7f3a9c0e5b2d4e6f8a1b2c3d4e5f6a7b', 'hex');
  assert.ok(['bytes', 'packed'].includes(len(id).as ?? ''));
});

test('ProtoRegistry: loads a directory, resolves imports and well-known types, collects broken files', async () => {
  const reg = await ProtoRegistry.load([registryDir]);
  assert.deepEqual(reg.files.map((f) => f.slice(registryDir.length + 1)), ['shop/v1/common.proto', 'shop/v1/orders.proto']);
  assert.deepEqual(reg.errors.map((e) => e.file.slice(registryDir.length + 1)), ['broken.proto', 'missing_import.proto']);
  assert.match(reg.errors[0].message, /strnig/);
  assert.match(reg.errors[1].message, /nowhere\/gone\.proto/);
  assert.deepEqual(reg.services, ['shop.v1.Orders']);

  assert.deepEqual(reg.method('shop.v1.Orders', 'GetOrder'), { requestType: 'shop.v1.GetOrderRequest', responseType: 'shop.v1.Order', requestStream: false, responseStream: false });
  assert.deepEqual(reg.method('shop.v1.Orders', 'WatchOrders'), { requestType: 'shop.v1.WatchRequest', responseType: 'shop.v1.OrderEvent', requestStream: false, responseStream: true });
  assert.deepEqual(reg.method('shop.v1.Orders', 'UploadOrders'), { requestType: 'shop.v1.Order', responseType: 'shop.v1.GetOrderRequest', requestStream: true, responseStream: false });
  assert.deepEqual(reg.method('shop.v1.Orders', 'Chat'), { requestType: 'shop.v1.OrderEvent', responseType: 'shop.v1.OrderEvent', requestStream: true, responseStream: true });
  assert.equal(reg.method('shop.v1.Orders', 'Nope'), null);
  assert.equal(reg.method('shop.v1.Nope', 'GetOrder'), null);
  assert.equal(reg.method('shop.v1.Order', 'GetOrder'), null, 'a message is not a service');

  // Encode with an independent protobufjs root, decode through the registry.
  const root = new protobuf.Root();
  const pbjsDir = dirname(createRequire(import.meta.url).resolve('protobufjs'));
  root.resolvePath = (_origin, target) => [resolve(registryDir, target), join(pbjsDir, target)].find((p) => existsSync(p)) ?? null;
  root.loadSync('shop/v1/orders.proto');
  const Order = root.lookupType('shop.v1.Order');
  const order = {
    orderId: 'o-1',
    total: { currency: 'EUR', units: '12', nanos: 500000000 },
    createdAt: { seconds: '1760000000', nanos: 5 },
    itemIds: ['a', 'b'],
    signature: Buffer.from([0xff, 0x00, 0x01]),
    labels: { env: 'prod' },
    big: '18446744073709551615',
  };
  const buf = enc(Order, order);
  const d = reg.decode('shop.v1.Order', buf);
  assert.equal(d.error, null);
  assert.deepEqual(d.json, {
    orderId: 'o-1',
    total: { currency: 'EUR', units: '12', nanos: 500000000 },
    createdAt: { seconds: '1760000000', nanos: 5 },
    itemIds: ['a', 'b'],
    signature: '/wAB',
    labels: { env: 'prod' },
    big: '18446744073709551615',
  });
  assert.deepEqual(reg.decode('.shop.v1.Order', buf).json, d.json, 'a leading dot is fine');
  const ev = reg.decode('shop.v1.OrderEvent', enc(root.lookupType('shop.v1.OrderEvent'), { order: { orderId: 'x' }, kind: 'created' }));
  assert.deepEqual(ev, { json: { order: { orderId: 'x' }, kind: 'created' }, error: null });
  assert.deepEqual(reg.decode('google.protobuf.Timestamp', enc(root.lookupType('google.protobuf.Timestamp'), { seconds: 1, nanos: 2 })).json, { seconds: '1', nanos: 2 });
  assert.deepEqual(reg.decode('shop.v1.Order', Buffer.alloc(0)), { json: {}, error: null });

  // Wrong bytes
  const wrongWire = reg.decode('shop.v1.Order', Buffer.from([0x0f, 0x01]));
  assert.equal(wrongWire.json, null);
  assert.match(wrongWire.error ?? '', /wire type/);
  const truncated = reg.decode('shop.v1.Order', buf.subarray(0, buf.length - 3));
  assert.equal(truncated.json, null);
  assert.ok(truncated.error);
  const unknown = reg.decode('shop.v1.Nope', buf);
  assert.equal(unknown.json, null);
  assert.match(unknown.error ?? '', /no message type shop\.v1\.Nope/);
});

test('ProtoRegistry: a missing directory and an empty list are errors, not exceptions', async () => {
  const reg = await ProtoRegistry.load([join(protoDir, 'does-not-exist')]);
  assert.deepEqual(reg.files, []);
  assert.equal(reg.errors.length, 1);
  assert.deepEqual(reg.services, []);
  assert.equal(reg.method('a.B', 'C'), null);
  const none = await ProtoRegistry.load([]);
  assert.deepEqual([none.files, none.errors, none.services], [[], [], []]);
});

test('ProtoRegistry: the same file reached from two directories is loaded once', async () => {
  const reg = await ProtoRegistry.load([registryDir, join(registryDir, 'shop')]);
  assert.equal(reg.files.length, 2);
  assert.equal(reg.errors.length, 2);
  assert.equal(reg.method('shop.v1.Orders', 'GetOrder')?.responseType, 'shop.v1.Order');
});

test('ProtoRegistry: files that load alone but clash together each keep their own root', async () => {
  const reg = await ProtoRegistry.load([join(protoDir, 'clash', 'a'), join(protoDir, 'clash', 'b')]);
  assert.deepEqual(reg.errors, []);
  assert.equal(reg.files.length, 2);
  assert.deepEqual(reg.services, ['clash.A', 'clash.B']);
  assert.deepEqual(reg.method('clash.B', 'Put'), { requestType: 'clash.Dup', responseType: 'clash.Dup', requestStream: false, responseStream: false });
  // The first file's definition wins a look-up by name.
  assert.deepEqual(reg.decode('clash.Dup', Buffer.from('0a0178', 'hex')), { json: { a: 'x' }, error: null });
});

test('schema-less decode speed on a ~1 KB message', (t) => {
  const obj = {
    title: 'a moderately long title for a kitchen message, with some words in it',
    inner: { name: 'inner name', count: 123456 },
    packedInts: Array.from({ length: 60 }, (_, i) => i * 37),
    unpackedInts: [1, 2, 3, 4, 5],
    blob: Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 73 + 128) & 0xff)),
    neg32: -42, zz32: -7, zz64: '-99999', fx32: 7, fx64: '1760000000000000000', fl: 0.25, db: 2.718281828,
    counts: { alpha: 1, beta: 2, gamma: 3, delta: 4 },
    tags: ['kubernetes', 'grpc', 'payments', 'orders', 'eu-west-1', 'canary'],
    items: Array.from({ length: 28 }, (_, i) => ({ name: `item-${i}-${'x'.repeat(i % 7)}`, count: i * 1000 })),
  };
  const buf = enc(Kitchen, obj);
  t.diagnostic(`message size ${buf.length} bytes`);
  assert.ok(buf.length > 800 && buf.length < 1400, `${buf.length}`);
  assert.equal(decodeSchemaless(buf).error, null);
  for (let i = 0; i < 2000; i++) decodeSchemaless(buf); // warm up
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 1e9) {
    for (let i = 0; i < 500; i++) decodeSchemaless(buf);
    n += 500;
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  const mbps = (n * buf.length) / (elapsed / 1e9) / 1e6;
  const perMsg = elapsed / n / 1000;
  t.diagnostic(`schema-less decode: ${mbps.toFixed(1)} MB/s, ${perMsg.toFixed(2)} µs per message`);
  let nj = 0;
  const t1 = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - t1) < 3e8) {
    for (let i = 0; i < 200; i++) schemalessToJson(decodeSchemaless(buf).fields);
    nj += 200;
  }
  const ej = Number(process.hrtime.bigint() - t1);
  t.diagnostic(`decode + schemalessToJson: ${((nj * buf.length) / (ej / 1e9) / 1e6).toFixed(1)} MB/s`);
  assert.ok(mbps > 5, `${mbps} MB/s`);
});
