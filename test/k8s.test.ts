/** Kubernetes identity: loading saved cluster objects and naming ip:port after them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManifestError, loadManifests, parseManifests, type ClusterModel } from '../src/k8s/manifest.js';
import { EXTERNAL, IdentityResolver, toEndpoint, type Identity } from '../src/k8s/identity.js';
import { canonicalIp, parseCidr } from '../src/k8s/ip.js';
import { repoRoot } from './support/paths.js';

const fx = (...p: string[]): string => join(repoRoot, 'test', 'fixtures-k8s', ...p);
const T = (iso: string): number => Date.parse(iso) * 1000;
const NOW = T('2024-06-10T12:00:00Z');

/** The model without where each object came from, to compare loads of the same objects. */
function sansFiles(m: ClusterModel): unknown {
  return JSON.parse(JSON.stringify({ ...m, files: [] }, (k, v: unknown) => (k === 'file' ? undefined : v)));
}

function brief(id: Identity): string {
  const parts: string[] = [id.kind];
  if (id.namespace) parts.push(`${id.namespace}/${id.name}`);
  else if (id.name) parts.push(id.name);
  if (id.workload) parts.push(`${id.workload.kind}/${id.workload.name}`);
  if (id.node) parts.push(`@${id.node}`);
  if (id.service) parts.push(`svc=${id.service.namespace}/${id.service.name}`);
  return parts.join(' ');
}

describe('k8s manifests', () => {
  it('reads a kubectl -A -o yaml List: kinds counted, unknown kinds ignored', async () => {
    const m = await loadManifests([fx('cluster.yaml')]);
    assert.equal(m.pods.length, 6);
    assert.equal(m.services.length, 5);
    assert.equal(m.nodes.length, 2);
    assert.equal(m.workloads.length, 8);
    assert.equal(m.endpointSlices.length, 5, '4 EndpointSlices and the one subset of the db Endpoints');
    assert.deepEqual(m.kinds, {
      Pod: 6, Service: 5, EndpointSlice: 4, Endpoints: 1, Node: 2, Deployment: 2, ReplicaSet: 2, StatefulSet: 1,
      DaemonSet: 1, Job: 1, CronJob: 1, ConfigMap: 1, 'Service.serving.knative.dev': 1,
    });
    assert.deepEqual(m.ignored, { ConfigMap: 1, 'Service.serving.knative.dev': 1 });
    assert.deepEqual(m.warnings, []);
    assert.deepEqual(m.files, [fx('cluster.yaml')]);

    const api = m.pods.find((p) => p.name === 'api-5f6d8c7b9-qk4wz')!;
    assert.deepEqual(api.ips, ['10.244.1.8', 'fd00:10:244:1::8'], 'podIPs canonical, podIP first');
    assert.deepEqual(api.ports, [{ container: 'api', containerPort: 8443, hostPort: null, protocol: 'TCP', name: 'https' }]);
    const report = m.pods.find((p) => p.name.startsWith('report-'))!;
    assert.equal(report.phase, 'Succeeded');
    assert.equal(report.finished, T('2024-06-10T10:04:30Z'));
    const ing = m.services.find((s) => s.name === 'ingress-nginx-controller')!;
    assert.deepEqual(ing.loadBalancerIPs, ['203.0.113.50']);
    assert.deepEqual(ing.ports.map((p) => [p.port, p.targetPort, p.nodePort]), [[80, 'http', 30080], [443, 'https', 30443]]);
    const apiSvc = m.services.find((s) => s.name === 'api')!;
    assert.deepEqual(apiSvc.clusterIPs, ['10.96.0.50', 'fd00:10:96::32']);
    assert.equal(m.services.find((s) => s.name === 'db')!.headless, true);
    const nodeA = m.nodes.find((n) => n.name === 'node-a')!;
    assert.deepEqual(nodeA.ips, ['192.168.1.10', '2001:db8::a', '203.0.113.10']);
    assert.deepEqual(nodeA.podCIDRs, ['10.244.1.0/24', 'fd00:10:244:1::/64']);
    const frontendSvc = m.services.find((s) => s.name === 'frontend')!;
    assert.deepEqual(frontendSvc.selector, { app: 'frontend' });
  });

  it('reads the same objects from JSON as from YAML', async () => {
    const y = await loadManifests([fx('cluster.yaml')]);
    const j = await loadManifests([fx('cluster.json')]);
    assert.deepEqual(sansFiles(j), sansFiles(y));
  });

  it('reads a multi-document stream: empty documents skipped, a document without kind is a warning with its line', async () => {
    const m = await loadManifests([fx('multi.yaml')]);
    assert.equal(m.pods.length, 2);
    assert.deepEqual(m.namespaces, [{ name: 'jobs', uid: '6a000000-0000-4000-8000-000000000001', labels: { 'kubernetes.io/metadata.name': 'jobs' }, phase: 'Active' }]);
    assert.deepEqual(m.ignored, { Secret: 1 });
    assert.equal(m.warnings.length, 1);
    assert.equal(m.warnings[0].file, fx('multi.yaml'));
    assert.equal(m.warnings[0].line, 63);
    assert.match(m.warnings[0].message, /not a Kubernetes object \(no kind\)/);
  });

  it('detects gzip by magic, whatever the name', async () => {
    const m = await loadManifests([fx('compressed.txt')]);
    assert.deepEqual(m.kinds, { ReplicationController: 1, Pod: 1 });
    const r = new IdentityResolver(m);
    assert.equal(brief(r.resolve('10.244.2.60', 80, NOW)), 'pod old/legacy-web-k8s2d ReplicationController/legacy-web @node-b');
  });

  it('reads a directory recursively in name order, skipping dot-files: PodList items, concatenated JSON values', async () => {
    const m = await loadManifests([fx('dir')]);
    assert.deepEqual(m.files, [fx('dir', '10-nodes.yaml'), fx('dir', '20-pods.json'), fx('dir', '40-stream.json'), fx('dir', 'sub', '30-svc.yml')]);
    assert.deepEqual(m.kinds, { Node: 1, Pod: 1, ReplicaSet: 1, Deployment: 1, Service: 1 });
    assert.deepEqual(m.warnings, []);
    const r = new IdentityResolver(m);
    // No EndpointSlice saved for checkout: its selector and named targetPort say which pod and port.
    assert.equal(brief(r.resolve('10.244.3.21', 9090, NOW)), 'pod shop/checkout-77c9d5f8b4-h2kqs Deployment/checkout @node-c svc=shop/checkout');
    assert.equal(brief(r.resolve('10.96.33.3', 9090, NOW)), 'service shop/checkout svc=shop/checkout');
    assert.equal(brief(r.resolve('192.168.1.12', 10250, NOW)), 'node node-c @node-c');
  });

  it('loads several inputs into one model; the same object twice is counted once', async () => {
    const m = await loadManifests([fx('cluster.yaml'), fx('cluster.json'), fx('multi.yaml'), fx('compressed.txt'), fx('dir')]);
    assert.equal(m.duplicates, 26, 'every named object of cluster.yaml again in cluster.json');
    assert.equal(m.pods.length, 6 + 2 + 1 + 1);
    assert.equal(m.nodes.length, 3);
    assert.equal(m.files.length, 8);
  });

  it('names the file and line of broken YAML and JSON', async () => {
    await assert.rejects(loadManifests([fx('broken.yaml')]), (e: unknown) => {
      assert.ok(e instanceof ManifestError);
      assert.equal(e.file, fx('broken.yaml'));
      assert.equal(e.line, 8);
      assert.equal(e.column, 13);
      assert.match(e.message, /broken\.yaml at line 8, column 13: invalid YAML: Nested mappings/);
      return true;
    });
    await assert.rejects(loadManifests([fx('broken.json')]), (e: unknown) => {
      assert.ok(e instanceof ManifestError);
      assert.equal(e.line, 9);
      assert.equal(e.column, 17);
      assert.match(e.message, /broken\.json at line 9, column 17: invalid JSON: Expected ',' or '}' after property value$/);
      return true;
    });
    // A bad file inside a directory aborts too, naming the file.
    await assert.rejects(loadManifests([fx()]), (e: unknown) => e instanceof ManifestError && e.file.endsWith('broken.json'));
    // Cut short, as a dump interrupted: the error is at the end.
    assert.throws(() => parseManifests([{ name: 'cut.json', data: '{\n  "kind": "List",\n  "items": [\n    {"kind": "Pod"' }]),
      /^ManifestError: cut\.json at line 4, column 19: invalid JSON: /);
    // Hand-edited JSON with a trailing comma still reads (as the YAML it also is).
    assert.equal(parseManifests([{ name: 'comma.json', data: '{"kind": "Namespace", "metadata": {"name": "a",},}' }]).namespaces.length, 1);
    await assert.rejects(loadManifests([fx('no-such-file.yaml')]), (e: unknown) => e instanceof ManifestError && /ENOENT/.test(e.message));
  });

  it('rejects a binary file given by name, skips one met in a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podcap-k8s-'));
    try {
      mkdirSync(join(dir, 'd'));
      writeFileSync(join(dir, 'd', 'capture.pcap'), Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0]));
      writeFileSync(join(dir, 'd', 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n');
      await assert.rejects(loadManifests([join(dir, 'd', 'capture.pcap')]), ManifestError);
      const m = await loadManifests([join(dir, 'd')]);
      assert.equal(m.namespaces.length, 1);
      assert.equal(m.warnings.length, 1);
      assert.match(m.warnings[0].message, /not a text file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads UTF-16 (PowerShell redirects), scalars and arrays as warnings, objects without a name as warnings', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('kind: Namespace\nmetadata:\n  name: ps\n', 'utf16le')]);
    assert.equal(parseManifests([{ name: 'ps.yaml', data: utf16 }]).namespaces[0].name, 'ps');
    const m = parseManifests([{ name: 'odd.yaml', data: 'just a line of text\n---\n- 1\n- 2\n---\nkind: Pod\nmetadata: {}\n---\nkind: List\nitems:\n- metadata: {name: x}\n' }]);
    assert.equal(m.pods.length, 0);
    assert.deepEqual(m.warnings.map((w) => [w.line, w.message]), [
      [1, 'document is not a Kubernetes object (a string), skipped'],
      [3, 'item [0] is not a Kubernetes object (a number), skipped'],
      [4, 'item [1] is not a Kubernetes object (a number), skipped'],
      [6, 'document: Pod without metadata.name, skipped'],
      [11, 'item items[0] is not a Kubernetes object (no kind), skipped'],
    ]);
  });
});

describe('k8s identity', async () => {
  const model = await loadManifests([fx('cluster.yaml'), fx('multi.yaml')]);
  const r = new IdentityResolver(model);
  const at = (ip: string, port: number, ts = NOW): string => brief(r.resolve(ip, port, ts));

  it('follows owner chains to the workload', () => {
    assert.equal(at('10.244.1.5', 8080), 'pod shop/frontend-7d9f8b6c5d-x2x7k Deployment/frontend @node-a svc=shop/frontend');
    assert.equal(at('10.244.2.7', 5432), 'pod shop/db-0 StatefulSet/db @node-b svc=shop/db');
    assert.equal(at('192.168.1.10', 9100), 'pod monitoring/node-exporter-4xk2p DaemonSet/node-exporter @node-a');
    assert.equal(at('10.244.2.9', 8080, T('2024-06-10T10:02:00Z')), 'pod shop/report-28633800-q7v2n CronJob/report @node-b');
    // Its ReplicaSet was not saved: the pod-template-hash label names the Deployment.
    assert.equal(at('10.244.2.9', 6379, T('2024-06-10T10:30:00Z')), 'pod shop/cache-6b7f9d4c8-mz5pl Deployment/cache @node-b');
    const id = r.resolve('10.244.1.5', 8080, NOW);
    assert.deepEqual(id.labels, { app: 'frontend', 'pod-template-hash': '7d9f8b6c5d' });
    assert.ok(Object.isFrozen(id));
    assert.deepEqual(toEndpoint('10.244.1.5', 8080, id), {
      ip: '10.244.1.5', port: 8080, name: 'frontend-7d9f8b6c5d-x2x7k', namespace: 'shop', kind: 'pod',
      workload: { kind: 'Deployment', name: 'frontend' }, labels: { app: 'frontend', 'pod-template-hash': '7d9f8b6c5d' }, node: 'node-a',
      service: id.service, dns: null,
    });
  });

  it('names a ClusterIP after its service on any port, and the pod behind it after the service on its endpoint port', () => {
    assert.equal(at('10.96.12.34', 80), 'service shop/frontend svc=shop/frontend');
    assert.equal(at('10.96.12.34', 8081), 'service shop/frontend svc=shop/frontend');
    assert.equal(at('10.96.0.1', 443), 'service default/kubernetes svc=default/kubernetes');
    // EndpointSlice port 8080; the pod as a client on an ephemeral port has no service.
    assert.equal(at('10.244.1.5', 43210), 'pod shop/frontend-7d9f8b6c5d-x2x7k Deployment/frontend @node-a');
    // Legacy Endpoints for the headless db service (no ClusterIP).
    assert.equal(at('10.244.2.7', 5432), 'pod shop/db-0 StatefulSet/db @node-b svc=shop/db');
    assert.equal(r.servicesByIp.get('10.96.12.34')?.[0].name, 'frontend');
    assert.equal([...r.servicesByIp.values()].flat().some((s) => s.name === 'db'), false);
    // Load balancer ingress IP and node ports.
    assert.equal(at('203.0.113.50', 443), 'service ingress-nginx/ingress-nginx-controller svc=ingress-nginx/ingress-nginx-controller');
    assert.equal(at('192.168.1.11', 30080), 'service ingress-nginx/ingress-nginx-controller svc=ingress-nginx/ingress-nginx-controller');
  });

  it('gives an address reused by two pods to the one alive at the time', () => {
    // A Job pod that finished at 10:04:30, then a cache pod from 10:10.
    const job = 'pod shop/report-28633800-q7v2n CronJob/report @node-b';
    const cache = 'pod shop/cache-6b7f9d4c8-mz5pl Deployment/cache @node-b';
    assert.equal(at('10.244.2.9', 6379, T('2024-06-10T10:00:30Z')), job);
    assert.equal(at('10.244.2.9', 6379, T('2024-06-10T10:04:29Z')), job);
    assert.equal(at('10.244.2.9', 6379, T('2024-06-10T10:10:05Z')), cache);
    assert.equal(at('10.244.2.9', 6379, T('2024-06-11T00:00:00Z')), cache);
    // Before either: the nearest.
    assert.equal(at('10.244.2.9', 6379, T('2024-06-10T09:59:00Z')), job);
    // A pod deleted at 09:30 and the one created after it (multi.yaml).
    assert.equal(at('10.244.2.40', 80, T('2024-06-10T09:00:00Z')), 'pod jobs/worker-old-7c4bd @node-b');
    assert.equal(at('10.244.2.40', 80, T('2024-06-10T09:45:00Z')), 'pod jobs/worker-new-p9x2m @node-b');
    assert.deepEqual(r.podsByIp.get('10.244.2.40')?.map((p) => p.name).sort(), ['worker-new-p9x2m', 'worker-old-7c4bd']);
  });

  it('tells a host-network pod from its node by port', () => {
    assert.equal(at('192.168.1.10', 9100), 'pod monitoring/node-exporter-4xk2p DaemonSet/node-exporter @node-a');
    assert.equal(at('192.168.1.10', 22), 'node node-a @node-a');
    assert.equal(at('192.168.1.10', 6443), 'node node-a @node-a');
    assert.equal(at('203.0.113.10', 9100), 'node node-a @node-a', 'the pod declares its port on the address it holds');
    assert.equal(r.resolve('192.168.1.10', 22, NOW).labels['topology.kubernetes.io/zone'], 'eu-west-1a');
  });

  it('compares IPv6 addresses in canonical form', () => {
    assert.equal(at('fd00:10:244:1::8', 8443), 'pod shop/api-5f6d8c7b9-qk4wz Deployment/api @node-a svc=shop/api');
    assert.equal(at('10.244.1.8', 8443), 'pod shop/api-5f6d8c7b9-qk4wz Deployment/api @node-a svc=shop/api');
    assert.equal(at('fd00:10:96::32', 443), 'service shop/api svc=shop/api');
    assert.equal(at('2001:db8::a', 10250), 'node node-a @node-a');
    assert.equal(canonicalIp('FD00:10:244:1:0:0:0:8'), 'fd00:10:244:1::8');
    assert.equal(canonicalIp('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
    assert.equal(canonicalIp('0:0:0:0:0:ffff:0a00:0001'), '::ffff:10.0.0.1');
    assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(canonicalIp('::'), '::');
    assert.equal(canonicalIp('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
    assert.equal(canonicalIp('1:0:0:4:0:0:0:8'), '1:0:0:4::8');
    assert.equal(canonicalIp('node-a'), null);
    assert.equal(parseCidr('FD00:10:244:1:0:0:0:0/64')?.text, 'fd00:10:244:1::/64');
    assert.equal(parseCidr('10.244.1.7/24')?.text, '10.244.1.0/24');
  });

  it('leaves unknown addresses external, with the node whose pod CIDR holds them', () => {
    assert.equal(r.resolve('8.8.8.8', 53, NOW), EXTERNAL);
    assert.equal(at('10.244.1.200', 8080), 'external @node-a');
    assert.equal(at('fd00:10:244:1::99', 80), 'external @node-a');
    assert.equal(at('10.244.9.1', 80), 'external');
  });

  it('summarises what it loaded', () => {
    const s = r.summary();
    assert.deepEqual(s, {
      pods: 8, podsWithIp: 8, hostNetworkPods: 1, inferredPods: 0, services: 5, nodes: 2, inferredNodes: 0,
      workloads: 6, workloadsByKind: { Deployment: 3, StatefulSet: 1, DaemonSet: 1, CronJob: 1 },
      namespaces: 1, endpointSlices: 5, sharedPodIps: 2, ignored: { ConfigMap: 1, 'Service.serving.knative.dev': 1, Secret: 1 }, warnings: 1,
    });
  });
});

describe('k8s identity rules from small manifests', () => {
  const load = (yamlText: string): IdentityResolver => new IdentityResolver(parseManifests([{ name: 'inline.yaml', data: yamlText }]));

  it('prefers a port match when two services share an address, else the first by name', () => {
    const r = load(`
kind: List
apiVersion: v1
items:
- {apiVersion: v1, kind: Service, metadata: {name: web, namespace: a}, spec: {type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{port: 80}]}, status: {loadBalancer: {ingress: [{ip: 198.51.100.7}]}}}
- {apiVersion: v1, kind: Service, metadata: {name: dns, namespace: a}, spec: {type: LoadBalancer, clusterIP: 10.96.0.11, ports: [{port: 53, protocol: UDP}]}, status: {loadBalancer: {ingress: [{ip: 198.51.100.7}]}}}
`);
    assert.equal(r.resolve('198.51.100.7', 80, NOW).name, 'web');
    assert.equal(r.resolve('198.51.100.7', 53, NOW).name, 'dns');
    assert.equal(r.resolve('198.51.100.7', 8080, NOW).name, 'dns');
  });

  it('names a load balancer IP that is also a node address after the service on its ports only', () => {
    const r = load(`
apiVersion: v1
kind: Node
metadata: {name: k3s-1}
status: {addresses: [{type: InternalIP, address: 192.168.5.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: kube-system}
spec: {type: LoadBalancer, clusterIP: 10.43.0.20, ports: [{port: 443, targetPort: websecure}]}
status: {loadBalancer: {ingress: [{ip: 192.168.5.2}]}}
`);
    assert.equal(r.resolve('192.168.5.2', 443, NOW).name, 'traefik');
    assert.equal(brief(r.resolve('192.168.5.2', 22, NOW)), 'node k3s-1 @k3s-1');
  });

  it('picks among pods alive at once: not over, then Running, then the newest', () => {
    const pod = (name: string, created: string, phase: string): string =>
      `- {apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: x, uid: ${name}, creationTimestamp: "${created}"}, spec: {nodeName: n1}, status: {phase: ${phase}, podIP: 10.1.0.5}}`;
    const r = load(['kind: List', 'items:', pod('done', '2024-01-01T00:00:00Z', 'Succeeded'), pod('pending', '2024-01-01T00:02:00Z', 'Pending'),
      pod('old', '2024-01-01T00:00:30Z', 'Running'), pod('new', '2024-01-01T00:01:00Z', 'Running')].join('\n'));
    assert.equal(r.resolve('10.1.0.5', 80, T('2024-01-01T00:05:00Z')).name, 'new');
    assert.equal(r.resolve('10.1.0.5', 80, T('2024-01-01T00:00:45Z')).name, 'old');
    assert.equal(r.resolve('10.1.0.5', 80, T('2024-01-01T00:00:10Z')).name, 'done');
    assert.equal(r.summary().inferredNodes, 0);
  });

  it('knows pods from endpoint targetRefs and nodes from pods when their objects were not saved', () => {
    const r = load(`
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: search-x1, namespace: shop, labels: {kubernetes.io/service-name: search}}
addressType: IPv4
endpoints:
- addresses: [10.244.7.3]
  nodeName: node-z
  targetRef: {kind: Pod, name: search-0, namespace: shop, uid: u-search-0}
ports: [{name: http, port: 9200, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: agent-1, namespace: ops, ownerReferences: [{kind: DaemonSet, name: agent, controller: true}]}
spec: {hostNetwork: true, nodeName: node-z, containers: [{name: a, ports: [{containerPort: 8125, protocol: UDP}]}]}
status: {phase: Running, podIP: 192.168.9.9, hostIP: 192.168.9.9}
`);
    assert.equal(brief(r.resolve('10.244.7.3', 9200, NOW)), 'pod shop/search-0 @node-z svc=shop/search');
    assert.equal(brief(r.resolve('192.168.9.9', 8125, NOW)), 'pod ops/agent-1 DaemonSet/agent @node-z');
    assert.equal(brief(r.resolve('192.168.9.9', 22, NOW)), 'node node-z @node-z');
    const s = r.summary();
    assert.equal(s.inferredPods, 1);
    assert.equal(s.inferredNodes, 1);
  });

  it('names a node address on a pod\'s hostPort after the pod; a bare Job is the workload', () => {
    const r = load(`
apiVersion: v1
kind: Pod
metadata: {name: ingress-abcde, namespace: ingress, ownerReferences: [{kind: DaemonSet, name: ingress, controller: true}]}
spec: {nodeName: w1, containers: [{name: nginx, ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 443}]}]}
status: {phase: Running, podIP: 10.5.0.4, hostIP: 192.168.7.1}
---
apiVersion: v1
kind: Pod
metadata: {name: migrate-x1, namespace: db, ownerReferences: [{kind: Job, name: migrate, controller: true}]}
spec: {nodeName: w1}
status: {phase: Running, podIP: 10.5.0.5, hostIP: 192.168.7.1}
`);
    assert.equal(brief(r.resolve('192.168.7.1', 8080, NOW)), 'pod ingress/ingress-abcde DaemonSet/ingress @w1');
    assert.equal(brief(r.resolve('192.168.7.1', 80, NOW)), 'node w1 @w1');
    assert.equal(brief(r.resolve('10.5.0.4', 80, NOW)), 'pod ingress/ingress-abcde DaemonSet/ingress @w1');
    assert.equal(brief(r.resolve('10.5.0.5', 5432, NOW)), 'pod db/migrate-x1 Job/migrate @w1');
  });

  it('gives a pod in several services on one port the first by name', () => {
    const slice = (svc: string): string => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-s, namespace: a, labels: {kubernetes.io/service-name: ${svc}}}
endpoints: [{addresses: [10.2.0.1], targetRef: {kind: Pod, name: p, namespace: a}}]
ports: [{port: 8080}]`;
    const r = load(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
status: {podIP: 10.2.0.1, phase: Running}
${slice('zeta')}
${slice('alpha')}
${slice('mid')}`);
    assert.equal(r.resolve('10.2.0.1', 8080, NOW).service?.name, 'alpha');
    assert.equal(r.resolve('10.2.0.1', 9999, NOW).service, null);
  });
});

describe('k8s identity speed', () => {
  it('resolves 1M lookups on 5,000 pods and 1,000 services', (t) => {
    const items: unknown[] = [];
    for (let n = 0; n < 50; n++) {
      items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n}`, uid: `n${n}` }, spec: { podCIDR: `10.${100 + (n >> 8)}.${n & 255}.0/24` }, status: { addresses: [{ type: 'InternalIP', address: `192.168.${n >> 8}.${n & 255}` }] } });
    }
    for (let i = 0; i < 5000; i++) {
      const n = i % 50;
      const app = `app-${i % 1000}`;
      items.push({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${app}-5f6d8c7b9-${i}`, namespace: `ns-${i % 20}`, uid: `p${i}`, labels: { app, 'pod-template-hash': '5f6d8c7b9' }, creationTimestamp: '2024-06-01T00:00:00Z', ownerReferences: [{ kind: 'ReplicaSet', name: `${app}-5f6d8c7b9`, controller: true }] },
        spec: { nodeName: `node-${n}`, containers: [{ name: 'c', ports: [{ containerPort: 8080 }] }] },
        // Every 100th address is held twice, at different times.
        status: { phase: i % 100 === 0 ? 'Succeeded' : 'Running', podIP: `10.${100 + (n >> 8)}.${n & 255}.${1 + Math.floor(i / 50) - (i % 100 === 50 ? 1 : 0)}`, hostIP: `192.168.0.${n}` },
      });
    }
    for (let s = 0; s < 1000; s++) {
      items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `app-${s}`, namespace: `ns-${s % 20}` }, spec: { clusterIP: `10.96.${s >> 8}.${s & 255}`, selector: { app: `app-${s}` }, ports: [{ port: 80, targetPort: 8080 }] } });
    }
    const text = stringify({ apiVersion: 'v1', kind: 'List', items });
    let t0 = process.hrtime.bigint();
    const model = parseManifests([{ name: 'big.yaml', data: text }]);
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    t0 = process.hrtime.bigint();
    const r = new IdentityResolver(model);
    const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(model.pods.length, 5000);
    assert.equal(model.services.length, 1000);

    // A mix of kinds: pods (every 100th address held twice), pods on ephemeral ports, services, nodes, external.
    const quads: Array<[number, number, number, number, number]> = [];
    for (let q = 0; q < 4096; q++) {
      const k = q % 8;
      const n = q % 50;
      if (k < 4) quads.push([10, 100 + (n >> 8), n & 255, 1 + (q % 100), k === 0 ? 8080 : 40000 + q]);
      else if (k < 6) quads.push([10, 96, (q % 1000) >> 8, q & 255, 80]);
      else if (k === 6) quads.push([192, 168, 0, n, 10250]);
      else quads.push([172, 217, q & 255, (q >> 8) & 255, 443]);
    }
    const strings = quads.map(([a, b, c, d, port]) => [`${a}.${b}.${c}.${d}`, port] as const);
    const ts = T('2024-06-10T12:00:00Z');
    const N = 1_000_000;
    let pod = 0;
    let svc = 0;
    let node = 0;
    let ext = 0;
    // Addresses already hashed (as when the caller keeps its strings), after a warm-up.
    for (let i = 0; i < 100_000; i++) r.resolve(strings[i & 4095][0], strings[i & 4095][1], ts);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const q = strings[i & 4095];
      switch (r.resolve(q[0], q[1], ts + i).kind) {
        case 'pod': pod++; break;
        case 'service': svc++; break;
        case 'node': node++; break;
        default: ext++;
      }
    }
    const ns = Number(process.hrtime.bigint() - t0) / N;
    // Fresh strings per lookup, as ipv4ToString makes them from packet bytes.
    t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const q = quads[i & 4095];
      r.resolve(`${q[0]}.${q[1]}.${q[2]}.${q[3]}`, q[4], ts + i);
    }
    const nsFresh = Number(process.hrtime.bigint() - t0) / N;
    t0 = process.hrtime.bigint();
    let len = 0;
    for (let i = 0; i < N; i++) {
      const q = quads[i & 4095];
      len += `${q[0]}.${q[1]}.${q[2]}.${q[3]}`.length;
    }
    const nsString = Number(process.hrtime.bigint() - t0) / N;
    assert.ok(len > 0);
    const kinds = JSON.stringify({ pod, service: svc, node, external: ext });
    assert.ok(pod > N / 3 && svc > N / 5 && node > N / 10 && ext > N / 10, kinds);
    t.diagnostic(`YAML of ${items.length} objects (${(text.length / 1e6).toFixed(1)} MB) loaded in ${loadMs.toFixed(0)} ms, resolver built in ${buildMs.toFixed(0)} ms`);
    t.diagnostic(`resolve(): ${ns.toFixed(0)} ns/lookup over ${N} lookups (${kinds}; ${r.summary().sharedPodIps} shared pod IPs)`);
    t.diagnostic(`resolve() with a fresh address string each time: ${nsFresh.toFixed(0)} ns/lookup (building the string alone: ${nsString.toFixed(0)} ns)`);
  });
});
