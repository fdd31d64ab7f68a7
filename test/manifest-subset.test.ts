/**
 * The manifest subset a bundle carries (report/manifest-subset.ts) reads the snapshot's manifests
 * as the import read them (k8s/manifest.ts): a directory of files, UTF-16 with a BOM, a JSON
 * array, typed Lists; and finds addresses however the manifest wrote them (IPv6 not canonical).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityResolver } from '../src/k8s/identity.js';
import { parseManifests } from '../src/k8s/manifest.js';
import { manifestSubset } from '../src/report/manifest-subset.js';
import type { SnapshotMeta } from '../src/store/snapshot.js';

const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'pay', namespace: 'shop' } };
const replicaSet = {
  apiVersion: 'apps/v1', kind: 'ReplicaSet',
  metadata: { name: 'pay-7d9f', namespace: 'shop', ownerReferences: [{ kind: 'Deployment', name: 'pay' }] },
};
const pod = {
  kind: 'Pod',
  metadata: { name: 'pay-7d9f-x1', namespace: 'shop', labels: { app: 'pay' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'pay-7d9f' }] },
  spec: { nodeName: 'node-a' },
  status: { podIP: 'FD00:0000::0005', podIPs: [{ ip: 'FD00:0000::0005' }] },
};
const other = { kind: 'Pod', metadata: { name: 'cart-1', namespace: 'shop', labels: { app: 'cart' } }, status: { podIP: '10.1.0.9' } };
const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'pay', namespace: 'shop' }, spec: { selector: { app: 'pay' }, clusterIP: '10.96.0.7' } };

function utf16(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}

describe('manifest subset', () => {
  it('reads a directory of manifests in every form the import reads, and names addresses written in any form', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podcap-subset-'));
    try {
      // A JSON array in UTF-16 (what PowerShell's redirection writes), a typed List in YAML, a plain object.
      writeFileSync(join(dir, 'a-pods.json'), utf16(JSON.stringify([pod, other])));
      writeFileSync(join(dir, 'b-owners.yaml'), `apiVersion: apps/v1\nkind: ReplicaSetList\nitems:\n  - ${JSON.stringify({ metadata: replicaSet.metadata })}\n---\n${JSON.stringify(deployment)}\n`);
      writeFileSync(join(dir, 'c-svc.json'), JSON.stringify(service));
      const snap = { kubernetes: { files: [dir] }, skipped: [] } as unknown as SnapshotMeta;
      const sub = await manifestSubset(snap, new Set(['fd00::5']));
      assert.deepEqual(sub.notes, []);
      assert.deepEqual(sub.kept, { Pod: 1, ReplicaSet: 1, Deployment: 1, Service: 1 });
      // What it writes is a manifest the import reads, naming the pod to its workload again.
      const id = new IdentityResolver(parseManifests([{ name: 'subset.yaml', data: sub.yaml! }])).resolve('fd00::5', 8080, 0);
      assert.deepEqual([id.kind, id.name, id.workload], ['pod', 'pay-7d9f-x1', { kind: 'Deployment', name: 'pay' }]);
      const none = await manifestSubset(snap, new Set(['192.0.2.1']));
      assert.equal(none.yaml, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file it could not read again', async () => {
    const snap = { kubernetes: { files: ['/nonexistent/cluster.yaml'] }, skipped: [] } as unknown as SnapshotMeta;
    const sub = await manifestSubset(snap, new Set(['10.0.0.1']));
    assert.equal(sub.yaml, null);
    assert.match(sub.notes[0], /^\/nonexistent\/cluster\.yaml: not read again/);
  });
});
