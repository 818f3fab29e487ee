// deploy.checks_selftest: each check of lib/checks.mjs and the schema
// validator must FAIL on a render broken in the way it guards against, so a
// green deploy.manifests.* / deploy.schema.* means something. Starts from
// the real dev, prod, prod-cert-manager and prod-pgbouncer renders; each case breaks
// one copy.
//
//   node deploy/tests/checks_selftest.mjs --migrations migrations
//
// SELFTEST_SHOW=1 prints what each check reported on its broken render.

import assert from "node:assert/strict";
import path from "node:path";
import { parseArgs } from "node:util";
import { test } from "node:test";

import * as checks from "./lib/checks.mjs";
import { K8S_DIR, readYamlFile, renderKustomization } from "./lib/env.mjs";
import { Render } from "./lib/render.mjs";
import { SchemaValidator } from "./lib/schema.mjs";

const { values } = parseArgs({ options: { migrations: { type: "string" } } });
if (!values.migrations) {
  console.error("usage: checks_selftest.mjs --migrations DIR");
  process.exit(2);
}
const newest = {
  user: checks.newestMigration(path.join(values.migrations, "user")),
  post: checks.newestMigration(path.join(values.migrations, "post")),
};
const pristine = {
  dev: await renderKustomization(path.join(K8S_DIR, "overlays/dev")),
  prod: await renderKustomization(path.join(K8S_DIR, "overlays/prod")),
  "prod-cert-manager": await renderKustomization(path.join(K8S_DIR, "overlays/prod-cert-manager")),
  "prod-pgbouncer": await renderKustomization(path.join(K8S_DIR, "overlays/prod-pgbouncer")),
};

// The prod overlays' out-of-band Secrets, as deploy.manifests.* gets them.
const externalSecrets = await readYamlFile(path.join(K8S_DIR, "examples/secrets.example.yaml"));

// A deep copy of an overlay's objects, broken by `mutate(render)`.
function broken(overlay, mutate) {
  const render = new Render(structuredClone(pristine[overlay]));
  mutate(render);
  return render;
}
const deployment = (r, name) => r.find("Deployment", name);
const main = (r, name) => deployment(r, name).spec.template.spec.containers[0];
const wait = (r, name) => deployment(r, name).spec.template.spec.initContainers[0];
const job = (r) => r.all("Job")[0];
const cronJob = (r) => r.find("CronJob", "post-service-reconcile");
const cronPod = (r) => cronJob(r).spec.jobTemplate.spec.template.spec;
const cronMain = (r) => cronPod(r).containers[0];
const cronWait = (r) => cronPod(r).initContainers[0];
const configMap = (r, prefix) => r.all("ConfigMap").find((c) => c.metadata.name.startsWith(`${prefix}-`));

// [check, overlay, what is broken, mutation]
const cases = [
  [checks.checkPodSecurity, "dev", "init container may escalate", (r) => {
    wait(r, "user-service").securityContext.allowPrivilegeEscalation = true;
  }],
  [checks.checkPodSecurity, "dev", "Job runs as root", (r) => {
    const spec = job(r).spec.template.spec;
    spec.securityContext.runAsUser = 0;
    spec.containers[0].securityContext.runAsUser = 0;
  }],
  [checks.checkPodSecurity, "dev", "database container keeps capabilities", (r) => {
    r.find("StatefulSet", "users-db").spec.template.spec.containers[0].securityContext.capabilities = {};
  }],
  [checks.checkPodSecurity, "prod", "CronJob container may escalate", (r) => {
    cronMain(r).securityContext.allowPrivilegeEscalation = true;
  }],
  [checks.checkPodSecurity, "prod", "CronJob container with a writable root filesystem", (r) => {
    delete cronMain(r).securityContext.readOnlyRootFilesystem;
  }],
  [checks.checkPodSecurity, "dev", "CronJob pod runs as root", (r) => {
    cronPod(r).securityContext.runAsUser = 0;
    delete cronMain(r).securityContext.runAsUser;
  }],
  [checks.checkPodSecurity, "prod", "CronJob init container keeps capabilities", (r) => {
    delete cronWait(r).securityContext.capabilities;
  }],
  [checks.checkPodSecurity, "prod", "CronJob without seccomp profile", (r) => {
    delete cronPod(r).securityContext.seccompProfile;
    delete cronMain(r).securityContext.seccompProfile;
  }],
  [checks.checkServiceAccounts, "dev", "CronJob mounts a service account token", (r) => {
    cronPod(r).automountServiceAccountToken = true;
  }],
  [checks.checkServiceAccounts, "prod", "pod leaves automount to a ServiceAccount that mounts", (r) => {
    delete deployment(r, "post-service").spec.template.spec.automountServiceAccountToken;
    r.find("ServiceAccount", "post-service").automountServiceAccountToken = true;
  }],
  [checks.checkServiceAccounts, "prod", "CronJob's ServiceAccount not rendered", (r) => {
    r.objects = r.objects.filter((o) => !(o.kind === "ServiceAccount" && o.metadata.name === "post-service-reconcile"));
  }],
  [checks.checkResources, "dev", "Job without memory limit", (r) => {
    delete job(r).spec.template.spec.containers[0].resources.limits.memory;
  }],
  [checks.checkResources, "prod", "CronJob without CPU request", (r) => {
    delete cronMain(r).resources.requests.cpu;
  }],
  [checks.checkProbes, "dev", "readiness probe is the kubelet's plaintext gRPC probe", (r) => {
    main(r, "user-service").readinessProbe = { grpc: { port: 50051 }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 };
  }],
  [checks.checkProbes, "prod", "probes reduced to tcpSocket (blind to the database)", (r) => {
    main(r, "post-service").readinessProbe = { tcpSocket: { port: 50052 }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 };
  }],
  [checks.checkProbes, "dev", "liveness probe on the readiness health name", (r) => {
    main(r, "user-service").livenessProbe.exec.command = ["/usr/local/bin/user-service", "probe"];
  }],
  [checks.checkProbes, "prod", "readiness probe asks the liveness name", (r) => {
    main(r, "post-service").readinessProbe.exec.command.push("--service=liveness");
  }],
  [checks.checkProbes, "dev", "probe runs the other service's binary", (r) => {
    main(r, "post-service").livenessProbe.exec.command[0] = "/usr/local/bin/user-service";
  }],
  [checks.checkProbes, "prod", "probe binary not where the image has it", (r) => {
    main(r, "user-service").readinessProbe.exec.command[0] = "user-service";
  }],
  [checks.checkProbes, "dev", "liveness probe over HTTP", (r) => {
    main(r, "post-service").livenessProbe = { httpGet: { port: 50052, path: "/" } };
  }],
  [checks.checkProbes, "prod", "LISTEN_ADDRESS moved but probes did not", (r) => {
    r.all("ConfigMap").find((c) => c.metadata.name.startsWith("post-service-config")).data.LISTEN_ADDRESS = "0.0.0.0:6000";
  }],
  [checks.checkImages, "dev", "init container runs another tag than the Job", (r) => {
    wait(r, "post-service").image = "microblog/migrate:0.0.9";
  }],
  [checks.checkImages, "prod", "CronJob runs another release's post-service", (r) => {
    cronMain(r).image = "microblog/post-service:0.0.9";
  }],
  [checks.checkSchemaVersions, "dev", "init container waits for an old version", (r) => {
    wait(r, "user-service").args[2] = "0000";
  }],
  [checks.checkSchemaVersions, "prod", "CronJob waits for an old posts version", (r) => {
    cronWait(r).args[2] = "0002";
  }],
  [checks.checkSchemaVersions, "dev", "CronJob without wait-for-schema", (r) => {
    delete cronPod(r).initContainers;
  }],
  [checks.checkSchemaVersions, "prod", "Job name without the version", (r) => {
    job(r).metadata.name = "migrate";
  }],
  [checks.checkMigrationJob, "prod", "no Helm pre-upgrade hook", (r) => {
    job(r).metadata.annotations["helm.sh/hook"] = "pre-install";
  }],
  [checks.checkMigrationJob, "prod", "no Argo CD ordering", (r) => {
    delete job(r).metadata.annotations["argocd.argoproj.io/hook"];
    delete job(r).metadata.annotations["argocd.argoproj.io/sync-wave"];
  }],
  [checks.checkMigrationJob, "prod", "CronJob gives up waiting before the migration Job's deadline", (r) => {
    cronWait(r).args[6] = "300";
  }],
  [checks.checkGracefulTermination, "prod", "grace period shorter than the drain", (r) => {
    deployment(r, "user-service").spec.template.spec.terminationGracePeriodSeconds = 10;
  }],
  [checks.checkGracefulTermination, "prod", "no preStop delay", (r) => {
    delete main(r, "post-service").lifecycle;
  }],
  [checks.checkGracefulTermination, "prod", "grace period without room for the drain delay", (r) => {
    configMap(r, "user-service-config").data.SHUTDOWN_DRAIN_DELAY_MS = "60000";
  }],
  [checks.checkGracefulTermination, "dev", "no drain delay", (r) => {
    delete configMap(r, "post-service-config").data.SHUTDOWN_DRAIN_DELAY_MS;
  }],
  [checks.checkGracefulTermination, "prod", "drain shorter than the readiness probe needs", (r) => {
    main(r, "post-service").readinessProbe.periodSeconds = 20;
  }],
  [checks.checkGracefulTermination, "dev", "no MAX_CONNECTION_AGE_MS", (r) => {
    delete configMap(r, "user-service-config").data.MAX_CONNECTION_AGE_MS;
  }],
  [checks.checkGracefulTermination, "prod", "connections outlive the drain", (r) => {
    configMap(r, "post-service-config").data.MAX_CONNECTION_AGE_MS = "300000";
  }],
  [checks.checkGracefulTermination, "dev", "aged connections cut calls", (r) => {
    configMap(r, "user-service-config").data.MAX_CONNECTION_AGE_GRACE_MS = "1000";
  }],
  [checks.checkUserServiceAddress, "prod", "USER_SERVICE_ADDR in the wrong namespace", (r) => {
    r.all("ConfigMap").find((c) => c.metadata.name.startsWith("post-service-config")).data.USER_SERVICE_ADDR =
      "dns:///user-service-headless.default.svc.cluster.local:50051";
  }],
  [checks.checkUserServiceAddress, "dev", "CronJob dials user-service's ClusterIP Service", (r) => {
    cronMain(r).env.push({ name: "USER_SERVICE_ADDR", value: "dns:///user-service.microblog-dev.svc.cluster.local:50051" });
  }],
  [checks.checkUserServiceAddress, "prod", "headless Service made ClusterIP", (r) => {
    delete r.find("Service", "user-service-headless").spec.clusterIP;
  }],
  [checks.checkAvailability, "prod", "no HPA", (r) => {
    r.objects = r.objects.filter((o) => o.kind !== "HorizontalPodAutoscaler");
  }],
  [checks.checkAvailability, "dev", "no PodDisruptionBudget", (r) => {
    r.objects = r.objects.filter((o) => !(o.kind === "PodDisruptionBudget" && o.metadata.name === "post-service"));
  }],
  [checks.checkCronJobs, "dev", "CronJob allows concurrent runs", (r) => {
    cronJob(r).spec.concurrencyPolicy = "Allow";
  }],
  [checks.checkCronJobs, "prod", "CronJob without concurrencyPolicy (default Allow)", (r) => {
    delete cronJob(r).spec.concurrencyPolicy;
  }],
  [checks.checkCronJobs, "prod", "CronJob without startingDeadlineSeconds", (r) => {
    delete cronJob(r).spec.startingDeadlineSeconds;
  }],
  [checks.checkCronJobs, "prod", "CronJob on the controller's local time", (r) => {
    delete cronJob(r).spec.timeZone;
  }],
  [checks.checkCronJobs, "dev", "CronJob keeps no failed Jobs to read", (r) => {
    delete cronJob(r).spec.failedJobsHistoryLimit;
  }],
  [checks.checkCronJobs, "prod", "CronJob pods restart forever", (r) => {
    cronPod(r).restartPolicy = "Always";
  }],
  [checks.checkCronJobs, "prod", "CronJob without backoffLimit", (r) => {
    delete cronJob(r).spec.jobTemplate.spec.backoffLimit;
  }],
  [checks.checkCronJobs, "prod", "CronJob deadline shorter than its schema wait", (r) => {
    cronJob(r).spec.jobTemplate.spec.activeDeadlineSeconds = 600;
  }],
  [checks.checkCronJobs, "dev", "CronJob runs the server instead of reconcile", (r) => {
    delete cronMain(r).args;
  }],
  [checks.checkCronJobs, "prod", "CronJob misses post-service's configuration", (r) => {
    cronMain(r).envFrom = cronMain(r).envFrom.filter((e) => !e.configMapRef?.name.startsWith("post-service-config-"));
  }],
  [checks.checkCronJobs, "prod", "post-service patched with a setting the CronJob lacks", (r) => {
    main(r, "post-service").env.push({ name: "USER_SERVICE_TIMEOUT_MS", value: "500" });
  }],
  [checks.checkCronJobs, "dev", "no reconcile CronJob", (r) => {
    r.objects = r.objects.filter((o) => o.kind !== "CronJob");
  }],
  [checks.checkSelectors, "dev", "CronJob pods labelled as post-service", (r) => {
    cronJob(r).spec.jobTemplate.spec.template.metadata.labels["app.kubernetes.io/name"] = "post-service";
  }],
  [checks.checkSelectors, "prod", "Service selecting only part-of (every pod)", (r) => {
    r.find("Service", "post-service").spec.selector = { "app.kubernetes.io/part-of": "microblog" };
  }],
  [checks.checkFileSettings, "prod", "CronJob without the TLS client certificate mount", (r) => {
    cronMain(r).volumeMounts = cronMain(r).volumeMounts.filter((m) => m.name !== "tls");
  }],
  [checks.checkFileSettings, "dev", "TLS mount without its volume", (r) => {
    cronPod(r).volumes = cronPod(r).volumes.filter((v) => v.name !== "tls");
  }],
  [checks.checkTransportSecurity, "dev", "TRANSPORT_SECURITY=insecure in a ConfigMap", (r) => {
    configMap(r, "user-service-config").data.TRANSPORT_SECURITY = "insecure";
  }],
  [checks.checkTransportSecurity, "prod", "a container overrides TRANSPORT_SECURITY with insecure", (r) => {
    main(r, "post-service").env.push({ name: "TRANSPORT_SECURITY", value: "insecure" });
  }],
  [checks.checkTransportSecurity, "prod", "TRANSPORT_SECURITY left to the binary's default", (r) => {
    delete configMap(r, "post-service-config").data.TRANSPORT_SECURITY;
  }],
  [checks.checkTransportSecurity, "prod-cert-manager", "plain TLS (no client certificates) on user-service", (r) => {
    configMap(r, "user-service-config").data.TRANSPORT_SECURITY = "tls";
  }],
  [checks.checkTransportSecurity, "dev", "no TLS_CLIENT_CA_FILE", (r) => {
    delete configMap(r, "user-service-config").data.TLS_CLIENT_CA_FILE;
  }],
  [checks.checkTransportSecurity, "prod", "post-service mounts user-service's Secret", (r) => {
    deployment(r, "post-service").spec.template.spec.volumes.find((v) => v.name === "tls").secret.secretName = "user-service-tls";
  }],
  [checks.checkTransportSecurity, "dev", "CronJob presents post-service's certificate", (r) => {
    cronPod(r).volumes.find((v) => v.name === "tls").secret.secretName = "post-service-tls";
  }],
  [checks.checkTransportSecurity, "prod", "client CA file pointed at the certificate", (r) => {
    configMap(r, "post-service-config").data.USER_SERVICE_TLS_CA_FILE = "/etc/microblog/tls/tls.crt";
  }],
  [checks.checkTransportSecurity, "dev", "TLS Secret without ca.crt", (r) => {
    delete r.find("Secret", "user-service-tls").data["ca.crt"];
  }],
  [checks.checkTransportSecurity, "dev", "TLS Secret of type Opaque", (r) => {
    r.find("Secret", "post-service-tls").type = "Opaque";
  }],
  [checks.checkTransportSecurity, "prod", "TLS Secret made nowhere", (r) => {
    deployment(r, "user-service").spec.template.spec.volumes.find((v) => v.name === "tls").secret.secretName = "user-service-certs";
  }],
  [checks.checkTransportSecurity, "dev", "policy mounted with subPath", (r) => {
    const mount = main(r, "user-service").volumeMounts.find((m) => m.name === "authz-policy");
    mount.mountPath = "/etc/microblog/authz/policy.json";
    mount.subPath = "policy.json";
  }],
  [checks.checkTransportSecurity, "prod", "policy ConfigMap with a hash suffix (a change rolls the pods)", (r) => {
    r.find("ConfigMap", "post-service-authz-policy").metadata.name = "post-service-authz-policy-5f7k2m9t8b";
    deployment(r, "post-service").spec.template.spec.volumes.find((v) => v.name === "authz-policy").configMap.name =
      "post-service-authz-policy-5f7k2m9t8b";
  }],
  [checks.checkTransportSecurity, "dev", "AUTHZ_POLICY_FILE on no volume", (r) => {
    configMap(r, "post-service-config").data.AUTHZ_POLICY_FILE = "/etc/authz.json";
  }],
  [checks.checkTransportSecurity, "prod", "AUTHZ_POLICY_FILE names a key the ConfigMap lacks", (r) => {
    configMap(r, "user-service-config").data.AUTHZ_POLICY_FILE = "/etc/microblog/authz/user-service.json";
  }],
  [checks.checkAuthzPolicies, "dev", "dev policy names principals of namespace microblog", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    cm.data["policy.json"] = cm.data["policy.json"].replaceAll("/ns/microblog-dev/", "/ns/microblog/");
  }],
  [checks.checkAuthzPolicies, "prod", "policy not JSON", (r) => {
    r.find("ConfigMap", "post-service-authz-policy").data["policy.json"] += "}";
  }],
  [checks.checkAuthzPolicies, "prod", "policy without allow_rules", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    policy.allowRules = policy.allow_rules;
    delete policy.allow_rules;
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "dev", "policy without name", (r) => {
    const cm = r.find("ConfigMap", "post-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    delete policy.name;
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "prod", "BatchGetUsers open to every caller", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    policy.allow_rules.find((rule) => rule.name === "public").request.paths.push("/microblog.user.v1.UserService/BatchGetUsers");
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "dev", "a wildcard opens ListUserEvents", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    policy.allow_rules.find((rule) => rule.name === "public").request.paths.push("/microblog.user.v1.UserService/*");
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "prod", "the reconcile CronJob's identity left out", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    const rule = policy.allow_rules.find((x) => x.name === "internal-post-service");
    rule.source.principals = rule.source.principals.filter((p) => !p.endsWith("/sa/post-service-reconcile"));
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "prod", "user-service's own identity admitted to the internal methods", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    policy.allow_rules.find((x) => x.name === "internal-post-service").source.principals.push("spiffe://microblog/ns/microblog/sa/user-service");
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "dev", "privileged rule without principals (everyone privileged)", (r) => {
    const cm = r.find("ConfigMap", "post-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    delete policy.allow_rules.find((x) => x.name.startsWith("privileged")).source;
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "prod", "principal of another trust domain", (r) => {
    const cm = r.find("ConfigMap", "post-service-authz-policy");
    cm.data["policy.json"] = cm.data["policy.json"].replace("spiffe://microblog/", "spiffe://example.org/");
  }],
  [checks.checkAuthzPolicies, "dev", "health closed to the pod's own probe", (r) => {
    const cm = r.find("ConfigMap", "post-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    const rule = policy.allow_rules.find((x) => x.name === "public");
    rule.request.paths = rule.request.paths.filter((p) => !p.startsWith("/grpc.health"));
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkAuthzPolicies, "prod", "a deny rule shuts post-service out", (r) => {
    const cm = r.find("ConfigMap", "user-service-authz-policy");
    const policy = JSON.parse(cm.data["policy.json"]);
    policy.deny_rules = [{ name: "oops", source: { principals: ["spiffe://microblog/ns/microblog/sa/post-service"] } }];
    cm.data["policy.json"] = JSON.stringify(policy);
  }],
  [checks.checkCertificates, "prod-cert-manager", "Certificate without the SPIFFE URI", (r) => {
    delete r.find("Certificate", "user-service").spec.uris;
  }],
  [checks.checkCertificates, "prod-cert-manager", "CronJob's Certificate carries post-service's identity", (r) => {
    r.find("Certificate", "post-service-reconcile").spec.uris = ["spiffe://microblog/ns/microblog/sa/post-service"];
  }],
  [checks.checkCertificates, "prod-cert-manager", "Certificate for another namespace", (r) => {
    const cert = r.find("Certificate", "microblog-admin");
    cert.spec.uris = cert.spec.uris.map((u) => u.replace("/ns/microblog/", "/ns/microblog-dev/"));
  }],
  [checks.checkCertificates, "prod-cert-manager", "no headless DNS name (post-service's dial fails)", (r) => {
    const cert = r.find("Certificate", "user-service");
    cert.spec.dnsNames = cert.spec.dnsNames.filter((n) => !n.includes("-headless."));
  }],
  [checks.checkCertificates, "prod-cert-manager", "no 127.0.0.1 for the probe", (r) => {
    delete r.find("Certificate", "post-service").spec.ipAddresses;
  }],
  [checks.checkCertificates, "prod-cert-manager", "server certificate without client auth", (r) => {
    r.find("Certificate", "post-service").spec.usages = ["server auth"];
  }],
  [checks.checkCertificates, "dev", "user-service-tls holds post-service's certificate", (r) => {
    r.find("Secret", "user-service-tls").data["tls.crt"] = r.find("Secret", "post-service-tls").data["tls.crt"];
  }],
  [checks.checkCertificates, "dev", "tls.key of another certificate", (r) => {
    r.find("Secret", "post-service-tls").data["tls.key"] = r.find("Secret", "user-service-tls").data["tls.key"];
  }],
  [checks.checkCertificates, "dev", "ca.crt that did not sign the certificate", (r) => {
    const secret = r.find("Secret", "post-service-reconcile-tls");
    secret.data["ca.crt"] = secret.data["tls.crt"];
  }],
  [checks.checkMetrics, "dev", "no metrics container port", (r) => {
    main(r, "user-service").ports = main(r, "user-service").ports.filter((p) => p.name !== "metrics");
  }],
  [checks.checkMetrics, "prod", "METRICS_ADDRESS moved, the container port did not", (r) => {
    configMap(r, "post-service-config").data.METRICS_ADDRESS = "0.0.0.0:9100";
  }],
  [checks.checkMetrics, "prod-cert-manager", "METRICS_ADDRESS left to the binary's default", (r) => {
    delete configMap(r, "user-service-config").data.METRICS_ADDRESS;
  }],
  [checks.checkMetrics, "dev", "METRICS_ADDRESS on loopback", (r) => {
    configMap(r, "user-service-config").data.METRICS_ADDRESS = "127.0.0.1:9464";
  }],
  [checks.checkMetrics, "prod", "prometheus.io/port names the gRPC port", (r) => {
    deployment(r, "post-service").spec.template.metadata.annotations["prometheus.io/port"] = "50052";
  }],
  [checks.checkMetrics, "dev", "no prometheus.io/scrape annotation", (r) => {
    delete deployment(r, "user-service").spec.template.metadata.annotations["prometheus.io/scrape"];
  }],
  [checks.checkMetrics, "prod", "prometheus.io/path not /metrics", (r) => {
    deployment(r, "user-service").spec.template.metadata.annotations["prometheus.io/path"] = "/";
  }],
  [checks.checkMetrics, "dev", "Service without the metrics port", (r) => {
    const svc = r.find("Service", "post-service");
    svc.spec.ports = svc.spec.ports.filter((p) => p.name !== "metrics");
  }],
  [checks.checkMetrics, "prod", "Service metrics port targets the gRPC port", (r) => {
    r.find("Service", "user-service").spec.ports.find((p) => p.name === "metrics").targetPort = "grpc";
  }],
  [checks.checkMetrics, "prod", "headless Service exposes metrics too (every pod two targets)", (r) => {
    r.find("Service", "user-service-headless").spec.ports.push({ name: "metrics", port: 9464, targetPort: "metrics", protocol: "TCP" });
  }],
  [checks.checkMetrics, "dev", "Service annotated for scraping as well as the pods", (r) => {
    r.find("Service", "post-service").metadata.annotations = { "prometheus.io/scrape": "true" };
  }],
  [checks.checkMetrics, "prod", "reconcile CronJob asks to be scraped", (r) => {
    cronJob(r).spec.jobTemplate.spec.template.metadata.annotations = { "prometheus.io/scrape": "true" };
  }],
  [checks.checkReferences, "dev", "Secret key missing", (r) => {
    delete r.find("Secret", "migrate-db").stringData["post-url"];
  }],
  [checks.checkReferences, "dev", "an optional key made required", (r) => {
    const env = r.find("Deployment", "user-service").spec.template.spec.containers[0].env;
    delete env.find((e) => e.name === "USER_DATABASE_READ_URL").valueFrom.secretKeyRef.optional;
  }],
  [checks.checkNamespace, "prod", "Namespace without Pod Security enforcement", (r) => {
    delete r.find("Namespace", "microblog").metadata.labels;
  }],
  [checks.checkNetworkPolicies, "dev", "no default deny", (r) => {
    r.objects = r.objects.filter((o) => o.metadata?.name !== "default-deny-all");
  }],
  [checks.checkNetworkPolicies, "dev", "user-service open to every pod", (r) => {
    delete r.find("NetworkPolicy", "user-service-ingress").spec.ingress[0].from;
  }],
  [checks.checkNetworkPolicies, "dev", "users-db open to post-service", (r) => {
    r.find("NetworkPolicy", "users-db-ingress").spec.ingress[0].from.push({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "post-service" } },
    });
  }],
  [checks.checkNetworkPolicies, "dev", "user-service refuses the reconcile CronJob", (r) => {
    r.find("NetworkPolicy", "user-service-ingress").spec.ingress[0].from.pop();
  }],
  [checks.checkNetworkPolicies, "prod", "no egress policy for the reconcile CronJob", (r) => {
    r.objects = r.objects.filter((o) => o.metadata?.name !== "post-service-reconcile-egress");
  }],
  [checks.checkNetworkPolicies, "prod", "reconcile egress to anything", (r) => {
    delete r.find("NetworkPolicy", "post-service-reconcile-egress").spec.egress[0].ports;
  }],
  [checks.checkNetworkPolicies, "dev", "posts-db refuses the reconcile CronJob", (r) => {
    const from = r.find("NetworkPolicy", "posts-db-ingress").spec.ingress[0].from;
    from.splice(from.findIndex((p) => p.podSelector?.matchLabels?.["app.kubernetes.io/name"] === "post-service-reconcile"), 1);
  }],
  [checks.checkNetworkPolicies, "dev", "reconcile egress reaches users-db", (r) => {
    r.find("NetworkPolicy", "post-service-reconcile-egress").spec.egress[0].to.push({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "users-db" } },
    });
    r.find("NetworkPolicy", "users-db-ingress").spec.ingress[0].from.push({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "post-service-reconcile" } },
    });
  }],
  [checks.checkNetworkPolicies, "prod", "reconcile pods accept connections", (r) => {
    r.objects.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "reconcile-ingress", namespace: "microblog" },
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/name": "post-service-reconcile" } },
        policyTypes: ["Ingress"],
        ingress: [{ ports: [{ protocol: "TCP", port: 8080 }] }],
      },
    });
  }],
  [checks.checkNetworkPolicies, "dev", "monitoring namespace cannot scrape user-service", (r) => {
    r.objects = r.objects.filter((o) => o.metadata?.name !== "user-service-metrics-ingress");
  }],
  [checks.checkNetworkPolicies, "prod", "metrics policy selects another namespace", (r) => {
    r.find("NetworkPolicy", "post-service-metrics-ingress").spec.ingress[0].from[0].namespaceSelector.matchLabels = {
      "kubernetes.io/metadata.name": "prometheus",
    };
  }],
  [checks.checkNetworkPolicies, "prod", "metrics port open to every namespace", (r) => {
    r.find("NetworkPolicy", "post-service-metrics-ingress").spec.ingress[0].from[0].namespaceSelector = {};
  }],
  [checks.checkNetworkPolicies, "dev", "metrics port open to every pod", (r) => {
    delete r.find("NetworkPolicy", "user-service-metrics-ingress").spec.ingress[0].from;
  }],
  [checks.checkNetworkPolicies, "prod-cert-manager", "monitoring namespace admitted to user-service's gRPC port", (r) => {
    r.find("NetworkPolicy", "user-service-metrics-ingress").spec.ingress[0].ports.push({ protocol: "TCP", port: 50051 });
  }],
  [checks.checkNetworkPolicies, "prod", "monitoring namespace admitted to every port", (r) => {
    delete r.find("NetworkPolicy", "user-service-metrics-ingress").spec.ingress[0].ports;
  }],
  [checks.checkNetworkPolicies, "dev", "monitoring admitted to a port range around the metrics port", (r) => {
    Object.assign(r.find("NetworkPolicy", "post-service-metrics-ingress").spec.ingress[0].ports[0], { port: 9000, endPort: 9999 });
  }],
  [checks.checkNetworkPolicies, "prod", "metrics policy on the wrong port", (r) => {
    r.find("NetworkPolicy", "post-service-metrics-ingress").spec.ingress[0].ports[0].port = 9464;
  }],
  [checks.checkNetworkPolicies, "prod", "no DNS egress", (r) => {
    r.objects = r.objects.filter((o) => o.metadata?.name !== "allow-dns-egress");
  }],
  [checks.checkNetworkPolicies, "prod", "user-service egress to anything", (r) => {
    delete r.find("NetworkPolicy", "user-service-egress").spec.egress[0].ports;
  }],
  [checks.checkPooler, "prod-pgbouncer", "PgBouncer in session pooling", (r) => {
    const ini = configMap(r, "pgbouncer-config");
    ini.data["pgbouncer.ini"] = ini.data["pgbouncer.ini"].replace("pool_mode = transaction", "pool_mode = session");
  }],
  [checks.checkPooler, "prod-pgbouncer", "prepared statements on behind the pooler", (r) => {
    configMap(r, "post-service-config").data.DB_PREPARED_STATEMENTS = "on";
  }],
  [checks.checkPooler, "prod-pgbouncer", "user-service LISTENs through the pooler", (r) => {
    const env = main(r, "user-service").env;
    env.splice(env.findIndex((e) => e.name === "USER_DATABASE_LISTEN_URL"), 1);
  }],
  [checks.checkPooler, "prod-pgbouncer", "a database entry without statement_timeout", (r) => {
    const ini = configMap(r, "pgbouncer-config");
    ini.data["pgbouncer.ini"] = ini.data["pgbouncer.ini"].replace(" connect_query='SET statement_timeout = 5000'", "");
  }],
  [checks.checkPooler, "prod-pgbouncer", "query_wait_timeout past the deadline", (r) => {
    const ini = configMap(r, "pgbouncer-config");
    ini.data["pgbouncer.ini"] = ini.data["pgbouncer.ini"].replace("query_wait_timeout = 5", "query_wait_timeout = 120");
  }],
  [checks.checkPooler, "prod-pgbouncer", "migrate Job through the pooler", (r) => {
    job(r).spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef = { name: "user-service-db", key: "url" };
  }],
  [checks.checkPooler, "prod-pgbouncer", "PgBouncer open to every pod", (r) => {
    delete r.find("NetworkPolicy", "pgbouncer-ingress").spec.ingress[0].from;
  }],
  [checks.checkPooler, "prod-pgbouncer", "post-service may not reach PgBouncer", (r) => {
    r.find("NetworkPolicy", "to-pgbouncer-egress").spec.podSelector.matchExpressions[0].values = ["user-service"];
  }],
  [checks.checkNetworkPolicies, "prod-pgbouncer", "PgBouncer's pods not isolated", (r) => {
    r.find("NetworkPolicy", "default-deny-all").spec.podSelector = { matchLabels: { "app.kubernetes.io/name": "user-service" } };
  }],
];

for (const [check, overlay, what, mutate] of cases) {
  test(`${check.name} catches: ${what} (${overlay})`, () => {
    const args =
      check === checks.checkSchemaVersions ? [newest]
        : check === checks.checkAvailability ? [{ highAvailability: overlay !== "dev" }]
        : check === checks.checkTransportSecurity && overlay !== "dev" ? [externalSecrets]
        : [];
    assert.deepEqual(check(new Render(structuredClone(pristine[overlay])), ...args), [], "pristine render must pass");
    const problems = check(broken(overlay, mutate), ...args);
    assert.ok(problems.length > 0, "broken render passed");
    if (process.env.SELFTEST_SHOW) console.log(`# ${what}: ${problems.join(" | ")}`);
  });
}

test("schema validation catches a wrong type and an unknown field", async () => {
  const validator = await SchemaValidator.load();
  const render = broken("prod", (r) => {
    main(r, "user-service").ports[0].containerPort = "50051";
    main(r, "post-service").readinesProbe = main(r, "post-service").readinessProbe;
    r.find("Service", "user-service").spec.ports[0].targetport = "grpc";
  });
  const problems = [];
  for (const name of ["user-service", "post-service"]) problems.push(...(await validator.validate(deployment(render, name))));
  problems.push(...(await validator.validate(render.find("Service", "user-service"))));
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(problems[0], /containerPort must be integer/);
  assert.match(problems[1], /unknown field "spec.template.spec.containers\[0\].readinesProbe"/);
  assert.match(problems[2], /unknown field "spec.ports\[0\].targetport"/);
});

test("schema validation reaches into a CronJob's Job and pod templates", async () => {
  const validator = await SchemaValidator.load();
  const render = broken("prod", (r) => {
    cronJob(r).spec.concurrencypolicy = "Forbid";
    cronJob(r).spec.jobTemplate.spec.backofflimit = 2;
    cronMain(r).securitycontext = cronMain(r).securityContext;
  });
  const problems = await validator.validate(cronJob(render));
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(problems.join("\n"), /unknown field "spec.concurrencypolicy"/);
  assert.match(problems.join("\n"), /unknown field "spec.jobTemplate.spec.backofflimit"/);
  assert.match(problems.join("\n"), /unknown field "spec.jobTemplate.spec.template.spec.containers\[0\].securitycontext"/);
});
