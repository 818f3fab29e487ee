// A small NetworkPolicy evaluator: would the policies of a render allow a
// given connection? Covers what our policies use (pod/namespace selectors,
// ipBlock, numeric ports) with the API's semantics: a pod is isolated for a
// direction once any policy of that type selects it, and then a connection
// is allowed when some rule of some selecting policy admits both peer and
// port. Named ports in policies never match (conservative).

// Endpoints: {namespace, labels} for a pod, or {ip} for an address outside
// the cluster.

export function selectorMatches(selector, labels) {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expr.key);
    const value = labels[expr.key];
    switch (expr.operator) {
      case "In":
        if (!has || !expr.values.includes(value)) return false;
        break;
      case "NotIn":
        if (has && expr.values.includes(value)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function namespaceLabels(namespace) {
  return { "kubernetes.io/metadata.name": namespace };
}

function ipInCidr(ip, cidr) {
  const toInt = (a) => a.split(".").reduce((acc, octet) => (acc << 8) + Number(octet), 0) >>> 0;
  const [base, bits] = cidr.split("/");
  if (!base.includes(".") || !ip.includes(".")) return false;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}

// Does policy peer `peer` (of a policy in `policyNamespace`) include `endpoint`?
function peerMatches(peer, endpoint, policyNamespace) {
  if (peer.ipBlock) {
    if (endpoint.ip === undefined) return false; // pod IPs: not modelled
    if (!ipInCidr(endpoint.ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((cidr) => ipInCidr(endpoint.ip, cidr));
  }
  if (endpoint.ip !== undefined) return false; // selectors only ever match pods
  const sameNamespace = endpoint.namespace === policyNamespace;
  if (peer.namespaceSelector) {
    if (!selectorMatches(peer.namespaceSelector, namespaceLabels(endpoint.namespace))) return false;
  } else if (!sameNamespace) {
    return false;
  }
  return selectorMatches(peer.podSelector, endpoint.labels);
}

function portMatches(ports, port, protocol) {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port !== "number") return false;
    return p.endPort ? port >= p.port && port <= p.endPort : port === p.port;
  });
}

function selecting(policies, pod, type) {
  return policies.filter(
    (p) =>
      (p.metadata?.namespace ?? "") === pod.namespace &&
      selectorMatches(p.spec?.podSelector ?? {}, pod.labels) &&
      (p.spec?.policyTypes ?? ["Ingress"]).includes(type),
  );
}

// Is `pod` isolated for `type` ("Ingress" | "Egress"), i.e. default-deny?
export function isIsolated(policies, pod, type) {
  return selecting(policies, pod, type).length > 0;
}

function allowedBy(policies, pod, type, peer, port, protocol) {
  const relevant = selecting(policies, pod, type);
  if (relevant.length === 0) return true;
  const rulesKey = type === "Ingress" ? "ingress" : "egress";
  const peersKey = type === "Ingress" ? "from" : "to";
  return relevant.some((policy) =>
    (policy.spec?.[rulesKey] ?? []).some(
      (rule) =>
        portMatches(rule.ports, port, protocol) &&
        (!rule[peersKey] ||
          rule[peersKey].length === 0 ||
          rule[peersKey].some((p) => peerMatches(p, peer, policy.metadata?.namespace ?? ""))),
    ),
  );
}

// The destination side alone: does `dst`'s ingress admit `src`? (Defence
// in depth: the server side must refuse even when the client's egress is
// open.)
export function ingressAllowed(policies, src, dst, port, protocol = "TCP") {
  return allowedBy(policies, dst, "Ingress", src, port, protocol);
}

// A connection from `src` to `dst`:`port` needs egress at the source (when
// the source is a pod) and ingress at the destination (when it is a pod).
export function connectionAllowed(policies, src, dst, port, protocol = "TCP") {
  if (src.ip === undefined && !allowedBy(policies, src, "Egress", dst, port, protocol)) return false;
  if (dst.ip === undefined && !allowedBy(policies, dst, "Ingress", src, port, protocol)) return false;
  return true;
}
