// deploy.manifests.*: asserts the properties of one rendered overlay that
// the release process and the security model rely on (lib/checks.mjs).
//
//   node deploy/tests/manifests_test.mjs --overlay deploy/k8s/overlays/prod \
//       --migrations migrations [--high-availability] [--external-secrets FILE]

import assert from "node:assert/strict";
import path from "node:path";
import { parseArgs } from "node:util";
import { test } from "node:test";

import * as checks from "./lib/checks.mjs";
import { readYamlFile, renderKustomization } from "./lib/env.mjs";
import { Render } from "./lib/render.mjs";

const { values } = parseArgs({
  options: {
    overlay: { type: "string" },
    migrations: { type: "string" },
    "high-availability": { type: "boolean", default: false },
    "external-secrets": { type: "string" },
  },
});
if (!values.overlay || !values.migrations) {
  console.error("usage: manifests_test.mjs --overlay DIR --migrations DIR [--high-availability] [--external-secrets FILE]");
  process.exit(2);
}

const render = new Render(await renderKustomization(values.overlay));
const externalSecrets = values["external-secrets"] ? await readYamlFile(values["external-secrets"]) : [];
const newest = {
  user: checks.newestMigration(path.join(values.migrations, "user")),
  post: checks.newestMigration(path.join(values.migrations, "post")),
};

const cases = {
  "every container runs non-root, read-only, without privileges": () => checks.checkPodSecurity(render),
  "no pod mounts a service account token; ServiceAccounts exist": () => checks.checkServiceAccounts(render),
  "every container has CPU and memory requests and limits": () => checks.checkResources(render),
  "probes are exec `<service> probe` (Health/Check over mTLS) on the real listening ports": () => checks.checkProbes(render),
  "one image tag; init containers run the migration Job's image": () => checks.checkImages(render),
  "init containers wait for the newest migrations; Job name carries them": () =>
    checks.checkSchemaVersions(render, newest),
  "migration Job: up --target all, Helm and Argo CD hooks, deadline": () => checks.checkMigrationJob(render),
  "termination: preStop + drain delay + grace fit the grace period; drain outlasts probes and connection age": () => checks.checkGracefulTermination(render),
  "post-service and reconcile dial the headless user-service by FQDN": () => checks.checkUserServiceAddress(render),
  "CronJobs: Forbid, deadlines, history; reconcile runs post-service's config": () => checks.checkCronJobs(render),
  "each Service / PDB / controller selector matches one workload's pods": () => checks.checkSelectors(render),
  "every *_FILE setting lies on a mounted volume": () => checks.checkFileSettings(render),
  "mTLS: TRANSPORT_SECURITY=mtls, never insecure; TLS files and policy from the right Secret / ConfigMap, no subPath": () =>
    checks.checkTransportSecurity(render, externalSecrets),
  "authorization policies: A43 JSON, principals of this namespace, internal methods for post-service only": () =>
    checks.checkAuthzPolicies(render),
  "certificates (cert-manager or rendered): SPIFFE id of the workload, DNS names, usages": () =>
    checks.checkCertificates(render),
  "metrics port = METRICS_ADDRESS's, in the scrape annotations and one Service": () => checks.checkMetrics(render),
  "PodDisruptionBudgets (and replicas + HPA when highly available)": () =>
    checks.checkAvailability(render, { highAvailability: values["high-availability"] }),
  "ConfigMap and Secret references resolve": () => checks.checkReferences(render, externalSecrets),
  "namespace with the restricted Pod Security Standard": () => checks.checkNamespace(render),
  "NetworkPolicies allow exactly the intended flows": () => checks.checkNetworkPolicies(render),
  "behind PgBouncer: transaction pooling, statements off, direct LISTEN and migrate": () =>
    checks.checkPooler(render),
};

for (const [name, run] of Object.entries(cases)) {
  test(`${values.overlay}: ${name}`, () => {
    assert.deepEqual(run(), []);
  });
}
