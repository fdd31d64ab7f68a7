/** The commented podcap.yaml that `podcap config --init` writes: every setting, with its default. */
export const EXAMPLE_CONFIG = `# podcap.yaml: how podcap dissects and shows captures.
# Looked for as --config FILE, else ./podcap.yaml, else WORKSPACE/podcap.yaml (the first found is used).
# \`podcap config\` prints the settings in force and where each came from; unknown keys are errors.

# The workspace (LMDB) directory; --workspace on the command line wins over it. Relative to this file.
# workspace: ./podcap-workspace

# Dissectors by port or by server address, whatever the first bytes look like (write them without the {}):
# HTTP/2 on a port without its connection preface (captured mid-connection), DNS on a non-standard port.
# Values: http (HTTP/1.x), http2, grpc (HTTP/2 carrying gRPC), dns.
hints: {}
  # 8443: http2
  # 10.0.0.5:9000: grpc
  # "[fd00::5]:9000": grpc
  # 5353: dns

# Protocols to dissect (true) or to skip (false): a skipped protocol's connections are counted, not decoded.
protocols:
  http: true
  http2: true
  grpc: true
  dns: true

# Directories of .proto files for naming gRPC message fields (relative to this file).
# protoDirs: [./protos]

# Redaction on top of the defaults (Authorization, Cookie, Set-Cookie, API keys, tokens) in what
# podcap shows: CLI --json, MCP results and reports alike.
redaction:
  headers: []          # more header names, e.g. [x-session-id, x-customer-email]
  queryParams: []      # query parameters whose values are hidden, e.g. [token, sig]
  jsonPaths: []        # JSON body fields: a key at any depth (pin), or a path from the top ("$.card.number", "items.*.ssn")
  patterns: []         # regular expressions hidden wherever they match, e.g. ['\\b\\d{16}\\b']

# What counts as a failed call. http: 5xx (server errors only, the default) or 4xx (client errors too).
# Rules per namespace or service (of the server called) win over the default; the most specific wins.
failed:
  http: 5xx
  rules: []
  # rules:
  #   - namespace: payments
  #     http: 4xx
  #   - namespace: shop
  #     service: checkout
  #     http: 4xx

# DNS search-path recognition: NXDOMAIN answers for NAME.NS.svc.DOMAIN, NAME.svc.DOMAIN, NAME.DOMAIN
# before the name that resolves are expected, not failures. searchPath: further search suffixes of
# the pods' resolv.conf (often the node's own), e.g. [us-east-1.compute.internal].
dns:
  clusterDomain: cluster.local
  searchPath: []

# Bodies: decoded bytes kept per request or response body (the full size is still counted).
bodies:
  maxStoredBytes: 1MiB

# TCP reassembly memory: out-of-order bytes held per connection and in all before a hole is declared lost.
tcp:
  maxHeldBytesPerConnection: 4MiB
  maxHeldBytesTotal: 256MiB
`;
