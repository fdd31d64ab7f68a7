/**
 * The cluster model: what podcap keeps of a cluster's saved objects (DESIGN.md,
 * "Kubernetes identity"). Plain data (no Maps, no classes) so it can be stored and
 * sent as JSON. Addresses are canonical (see ip.ts); times are µs since the epoch,
 * null when the manifest did not say.
 */

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string | null;
  controller: boolean;
}

export interface ContainerPort {
  container: string;
  containerPort: number;
  hostPort: number | null;
  protocol: string;
  name: string | null;
}

export interface PodRecord {
  name: string;
  namespace: string;
  uid: string | null;
  labels: Record<string, string>;
  /** Without kubectl.kubernetes.io/last-applied-configuration. */
  annotations: Record<string, string>;
  owners: OwnerRef[];
  nodeName: string | null;
  hostNetwork: boolean;
  /** status.podIPs (and status.podIP), canonical, podIP first. */
  ips: string[];
  /** status.hostIPs (and status.hostIP), canonical. */
  hostIPs: string[];
  phase: string | null;
  /** metadata.creationTimestamp. */
  created: number | null;
  /** status.startTime. */
  started: number | null;
  /** metadata.deletionTimestamp. */
  deleted: number | null;
  /** When a Succeeded/Failed pod ended: its containers' last finishedAt, else when it stopped being Ready. */
  finished: number | null;
  /** Declared ports of containers and init (sidecar) containers. */
  ports: ContainerPort[];
  /** Not loaded from a Pod object but inferred from an EndpointSlice/Endpoints targetRef. */
  inferred: boolean;
  file: string;
}

export interface ServicePort {
  name: string | null;
  port: number;
  /** Number, named port, or null when unset (defaults to port). */
  targetPort: number | string | null;
  protocol: string;
  nodePort: number | null;
}

export interface ServiceRecord {
  name: string;
  namespace: string;
  uid: string | null;
  labels: Record<string, string>;
  type: string;
  /** spec.clusterIP and spec.clusterIPs, canonical; empty for headless and ExternalName services. */
  clusterIPs: string[];
  headless: boolean;
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip and spec.loadBalancerIP. */
  loadBalancerIPs: string[];
  externalName: string | null;
  ports: ServicePort[];
  /** null when the service has no selector (its endpoints are managed by hand). */
  selector: Record<string, string> | null;
  created: number | null;
  deleted: number | null;
  file: string;
}

export interface ObjectRef {
  kind: string;
  name: string;
  namespace: string | null;
  uid: string | null;
}

export interface EndpointRecord {
  addresses: string[];
  targetRef: ObjectRef | null;
  ready: boolean | null;
  serving: boolean | null;
  terminating: boolean | null;
  nodeName: string | null;
}

export interface EndpointPortRecord {
  name: string | null;
  /** null means every port (EndpointSlice semantics). */
  port: number | null;
  protocol: string;
}

/** An EndpointSlice, or one subset of a legacy Endpoints object. */
export interface EndpointSliceRecord {
  source: 'EndpointSlice' | 'Endpoints';
  name: string;
  namespace: string;
  /** The kubernetes.io/service-name label (the object's name for Endpoints); null when absent. */
  service: string | null;
  addressType: string;
  endpoints: EndpointRecord[];
  ports: EndpointPortRecord[];
  file: string;
}

export interface NodeAddress {
  type: string;
  /** Canonical when it is an IP address, as written otherwise (Hostname). */
  address: string;
}

export interface NodeRecord {
  name: string;
  uid: string | null;
  labels: Record<string, string>;
  addresses: NodeAddress[];
  /** Every address that is an IP, canonical. */
  ips: string[];
  /** spec.podCIDRs (and spec.podCIDR), canonical network/prefix. */
  podCIDRs: string[];
  created: number | null;
  deleted: number | null;
  file: string;
}

/** A pod owner: ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicationController. */
export interface WorkloadRecord {
  kind: string;
  name: string;
  namespace: string;
  uid: string | null;
  labels: Record<string, string>;
  owners: OwnerRef[];
  created: number | null;
  file: string;
}

export interface NamespaceRecord {
  name: string;
  uid: string | null;
  labels: Record<string, string>;
  phase: string | null;
}

export interface ManifestWarning {
  file: string;
  /** 1-based, when known (YAML input). */
  line: number | null;
  message: string;
}

export interface ClusterModel {
  pods: PodRecord[];
  services: ServiceRecord[];
  endpointSlices: EndpointSliceRecord[];
  nodes: NodeRecord[];
  workloads: WorkloadRecord[];
  namespaces: NamespaceRecord[];
  /** Objects read per kind, used or not ("Pod", "ConfigMap", "Service.serving.knative.dev"). */
  kinds: Record<string, number>;
  /** Objects of kinds podcap does not use, per kind; they are skipped. */
  ignored: Record<string, number>;
  /** Objects seen again (same kind and uid, or name when no uid); the later copy is kept. */
  duplicates: number;
  warnings: ManifestWarning[];
  /** Warnings beyond the first 500, counted but not kept. */
  warningsDropped: number;
  /** Files read, in order. */
  files: string[];
}

export function emptyModel(): ClusterModel {
  return {
    pods: [], services: [], endpointSlices: [], nodes: [], workloads: [], namespaces: [],
    kinds: {}, ignored: {}, duplicates: 0, warnings: [], warningsDropped: 0, files: [],
  };
}
