// The properties every rendered overlay must have. Each check takes a
// Render (render.mjs) and returns a list of problems ([] when it holds), so
// that manifests_test.mjs can run them on the real overlays and
// checks_selftest.mjs can prove each one fails on a broken render.

import crypto from "node:crypto";
import fs from "node:fs";

import { connectionAllowed, ingressAllowed, isIsolated, selectorMatches } from "./network.mjs";
import { podLabels, podSpec, ref } from "./render.mjs";

// The two services and the database target of their wait-for-schema init container.
export const SERVICES = [
  { name: "user-service", target: "user", db: "users-db" },
  { name: "post-service", target: "post", db: "posts-db" },
];
// The daily `post-service reconcile` pass: post-service's binary and
// configuration in a CronJob, gated on the posts schema like post-service.
export const RECONCILE = {
  kind: "CronJob",
  name: "post-service-reconcile",
  container: "reconcile",
  image: "microblog/post-service",
  target: "post",
};
// Prometheus: the named container port and Service port, the path, and the
// namespace allowed to scrape (by its kubernetes.io/metadata.name label,
// which the API server sets to the namespace's name; deploy/README.md,
// "Metrics and alerts").
export const METRICS_PORT_NAME = "metrics";
const METRICS_PATH = "/metrics";
export const MONITORING_NAMESPACE = "monitoring";
const MIGRATE = "migrate";
const NAME_LABEL = "app.kubernetes.io/name";
const IMAGE_PREFIX = "microblog/";

// Newest version among DIR/NNNN_name.up.sql, 0 when there is none.
export function newestMigration(dir) {
  let newest = 0;
  for (const file of fs.readdirSync(dir)) {
    const m = /^(\d{4})_[^.]+\.up\.sql$/.exec(file);
    if (m) newest = Math.max(newest, Number(m[1]));
  }
  return newest;
}

function pad4(n) {
  return String(n).padStart(4, "0");
}

function serviceDeployment(render, service) {
  return render.find("Deployment", service.name);
}

function mainContainer(deployment) {
  return podSpec(deployment).containers?.find((c) => c.name === deployment.metadata.name);
}

function migrationJobs(render) {
  return render.all("Job").filter((j) => podLabels(j)[NAME_LABEL] === MIGRATE);
}

function waitContainer(workload) {
  return podSpec(workload).initContainers?.find((c) => c.name === "wait-for-schema");
}

function reconcileCronJob(render) {
  return render.find(RECONCILE.kind, RECONCILE.name);
}

function reconcileContainer(cronJob) {
  return podSpec(cronJob).containers?.find((c) => c.name === RECONCILE.container);
}

// The workloads whose wait-for-schema init container gates them on a
// database's version: both service Deployments and the reconcile CronJob.
// [{where, workload (undefined when not rendered), target}]
function schemaWaiters(render) {
  return [
    ...SERVICES.map((s) => ({ where: `Deployment/${s.name}`, workload: serviceDeployment(render, s), target: s.target })),
    { where: `${RECONCILE.kind}/${RECONCILE.name}`, workload: reconcileCronJob(render), target: RECONCILE.target },
  ];
}

function argValue(args, flag) {
  const i = (args ?? []).indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function listenPort(render, container) {
  const address = render.containerEnv(container).get("LISTEN_ADDRESS");
  const m = typeof address === "string" ? /:(\d+)$/.exec(address) : null;
  return m ? Number(m[1]) : undefined;
}

// The port of METRICS_ADDRESS, undefined when unset or not host:port.
function metricsPort(render, container) {
  const address = render.containerEnv(container).get("METRICS_ADDRESS");
  const m = typeof address === "string" ? /^(.+):(\d+)$/.exec(address) : null;
  return m ? Number(m[2]) : undefined;
}

function imageTag(image) {
  const at = image.lastIndexOf(":");
  return at > image.lastIndexOf("/") ? image.slice(at + 1) : undefined;
}

// Every container, init containers, Jobs and CronJobs' pod templates
// included: non-root with a numeric uid, no privilege escalation, read-only root, no capabilities,
// RuntimeDefault seccomp (container or pod level).
export function checkPodSecurity(render) {
  const problems = [];
  for (const { workload, container, init } of render.containers()) {
    const pod = podSpec(workload).securityContext ?? {};
    const sc = container.securityContext ?? {};
    const where = `${ref(workload)} ${init ? "init container" : "container"} ${container.name}`;
    const effective = (key) => (sc[key] !== undefined ? sc[key] : pod[key]);
    if (effective("runAsNonRoot") !== true) problems.push(`${where}: runAsNonRoot is not true`);
    const uid = effective("runAsUser");
    if (!Number.isInteger(uid) || uid <= 0) problems.push(`${where}: runAsUser is not a numeric non-root uid`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${where}: adds capabilities`);
    if (effective("seccompProfile")?.type !== "RuntimeDefault") {
      problems.push(`${where}: seccompProfile is not RuntimeDefault`);
    }
    if (sc.privileged === true) problems.push(`${where}: privileged`);
  }
  return problems;
}

// Every container has CPU and memory requests and limits.
export function checkResources(render) {
  const problems = [];
  for (const { workload, container } of render.containers()) {
    for (const kind of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (container.resources?.[kind]?.[resource] === undefined) {
          problems.push(`${ref(workload)} container ${container.name}: no ${resource} ${kind.slice(0, -1)}`);
        }
      }
    }
  }
  return problems;
}

// Each service's Deployment with its main container; a service whose
// Deployment or container is missing is reported in `problems` and skipped.
function* serviceContainers(render, problems) {
  for (const service of SERVICES) {
    const deployment = serviceDeployment(render, service);
    const container = deployment && mainContainer(deployment);
    if (!container) {
      problems.push(`Deployment/${service.name}: missing`);
      continue;
    }
    yield { service, deployment, container };
  }
}

// Readiness and liveness probes of both services are exec probes of the
// service's own binary (the image's entrypoint, IMAGE_BINARY_DIR/<name>):
// `<name> probe` for readiness (health name "", SERVING only while the
// database answers) and `<name> probe --service=liveness` for liveness
// (SERVING while the process serves gRPC, so that a database outage does
// not restart every pod). The subcommand dials 127.0.0.1:<LISTEN_ADDRESS's
// port> over the configured transport (mTLS with the pod's certificate),
// which the kubelet's plaintext grpc probe cannot; tcpSocket would not see
// the database. LISTEN_ADDRESS's port is a declared container port and
// the Services' target.
export const IMAGE_BINARY_DIR = "/usr/local/bin";
export function checkProbes(render) {
  const problems = [];
  for (const service of SERVICES) {
    const deployment = serviceDeployment(render, service);
    if (!deployment) {
      problems.push(`Deployment/${service.name} missing`);
      continue;
    }
    const container = mainContainer(deployment);
    if (!container) {
      problems.push(`${ref(deployment)}: no container named ${service.name}`);
      continue;
    }
    const port = listenPort(render, container);
    if (port === undefined) {
      problems.push(`${ref(deployment)}: LISTEN_ADDRESS with a port is not configured`);
      continue;
    }
    const declared = (container.ports ?? []).find((p) => p.containerPort === port);
    if (!declared) problems.push(`${ref(deployment)}: port ${port} of LISTEN_ADDRESS is not a containerPort`);
    const binary = `${IMAGE_BINARY_DIR}/${service.name}`;
    for (const probeName of ["readinessProbe", "livenessProbe"]) {
      const probe = container[probeName];
      const where = `${ref(deployment)} ${probeName}`;
      if (!probe) {
        problems.push(`${where}: missing`);
        continue;
      }
      const handlers = ["exec", "grpc", "tcpSocket", "httpGet"].filter((h) => probe[h] !== undefined);
      const command = probe.exec?.command;
      if (handlers.length !== 1 || !Array.isArray(command)) {
        problems.push(`${where}: expected an exec probe \`${binary} probe\`, got ${JSON.stringify(probe)}`);
        continue;
      }
      if (command[0] !== binary || command[1] !== "probe") {
        problems.push(`${where}: runs ${JSON.stringify(command)}, expected ${binary} probe ...`);
        continue;
      }
      const flags = command.slice(2);
      const names = flags.filter((f) => f.startsWith("--service=")).map((f) => f.slice("--service=".length));
      if (flags.length !== names.length || names.length > 1) {
        problems.push(`${where}: unexpected probe arguments ${JSON.stringify(flags)}`);
        continue;
      }
      const wanted = probeName === "livenessProbe" ? "liveness" : "";
      if ((names[0] ?? "") !== wanted) {
        problems.push(`${where}: asks health name "${names[0] ?? ""}", expected "${wanted}"`);
      }
      if (!(probe.timeoutSeconds >= 2)) {
        problems.push(`${where}: timeoutSeconds ${probe.timeoutSeconds ?? 1} leaves no time for a process start and a TLS handshake`);
      }
    }
    for (const svc of render.all("Service")) {
      if (!selectorMatches({ matchLabels: svc.spec?.selector ?? {} }, podLabels(deployment))) continue;
      if (Object.keys(svc.spec?.selector ?? {}).length === 0) continue;
      for (const p of svc.spec?.ports ?? []) {
        // The metrics port leads elsewhere on purpose (checkMetrics).
        if (p.name === METRICS_PORT_NAME) continue;
        const target = p.targetPort ?? p.port;
        const resolved = typeof target === "string" ? container.ports?.find((cp) => cp.name === target)?.containerPort : target;
        if (resolved !== port) problems.push(`${ref(svc)} port ${p.port}: targets ${target}, not the listening port ${port}`);
      }
    }
  }
  return problems;
}

// Prometheus metrics of both services: METRICS_ADDRESS is set explicitly
// (not left to the binary's default) on a non-loopback host; its port is the
// container port named `metrics` and the pod's prometheus.io/port; the pods
// say prometheus.io/scrape "true" and path /metrics; exactly one Service per
// Deployment exposes `metrics` (two would make every pod two targets), and
// no Service asks for annotation-based scraping on top of the pods'. The
// reconcile CronJob serves nothing and must not ask to be scraped.
export function checkMetrics(render) {
  const problems = [];
  for (const { service, deployment, container } of serviceContainers(render, problems)) {
    const where = ref(deployment);
    const address = render.containerEnv(container).get("METRICS_ADDRESS");
    const port = metricsPort(render, container);
    if (port === undefined) {
      problems.push(`${where}: METRICS_ADDRESS ${JSON.stringify(address)} is not an explicit host:port`);
      continue;
    }
    if (/^(127\.|localhost:|\[::1\]:)/.test(address)) {
      problems.push(`${where}: METRICS_ADDRESS ${address} listens on loopback, nothing could scrape it`);
    }
    const declared = (container.ports ?? []).find((p) => p.name === METRICS_PORT_NAME);
    if (!declared) problems.push(`${where}: no container port named ${METRICS_PORT_NAME}`);
    else if (declared.containerPort !== port || (declared.protocol ?? "TCP") !== "TCP") {
      problems.push(`${where}: container port ${METRICS_PORT_NAME} is ${declared.protocol ?? "TCP"} ${declared.containerPort}, METRICS_ADDRESS says TCP ${port}`);
    }
    const annotations = deployment.spec?.template?.metadata?.annotations ?? {};
    const wanted = { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": METRICS_PATH };
    for (const [key, value] of Object.entries(wanted)) {
      if (annotations[key] !== value) {
        problems.push(`${where}: pod annotation ${key} is ${JSON.stringify(annotations[key])}, expected ${JSON.stringify(value)}`);
      }
    }
    const services = render
      .all("Service")
      .filter((svc) => Object.keys(svc.spec?.selector ?? {}).length > 0)
      .filter((svc) => selectorMatches({ matchLabels: svc.spec.selector }, podLabels(deployment)));
    const exposing = services.filter((svc) => (svc.spec?.ports ?? []).some((p) => p.name === METRICS_PORT_NAME));
    if (exposing.length !== 1) {
      problems.push(`${where}: ${exposing.length} Services expose port ${METRICS_PORT_NAME} (${exposing.map(ref).join(", ")}), expected exactly one`);
    }
    for (const svc of exposing) {
      const p = svc.spec.ports.find((sp) => sp.name === METRICS_PORT_NAME);
      const target = p.targetPort ?? p.port;
      const resolved = typeof target === "string" ? container.ports?.find((cp) => cp.name === target)?.containerPort : target;
      if (resolved !== port || (p.protocol ?? "TCP") !== "TCP") {
        problems.push(`${ref(svc)} port ${METRICS_PORT_NAME}: targets ${p.protocol ?? "TCP"} ${target}, not the metrics port ${port}`);
      }
    }
    for (const svc of services) {
      if (svc.metadata?.annotations?.["prometheus.io/scrape"] !== undefined) {
        problems.push(`${ref(svc)}: prometheus.io/scrape on the Service too would scrape every pod twice`);
      }
    }
  }
  const cron = reconcileCronJob(render);
  if (cron) {
    const template = cron.spec?.jobTemplate?.spec?.template ?? {};
    if (template.metadata?.annotations?.["prometheus.io/scrape"] === "true") {
      problems.push(`${ref(cron)}: asks to be scraped, but a reconcile pass serves no metrics`);
    }
    for (const c of podSpec(cron).containers ?? []) {
      if ((c.ports ?? []).length > 0) problems.push(`${ref(cron)} container ${c.name}: declares ports, but serves nothing`);
    }
  }
  return problems;
}

// One release tag for all microblog images; the init containers run
// exactly the migration Job's image.
export function checkImages(render) {
  const problems = [];
  const tags = new Set();
  for (const { workload, container } of render.containers()) {
    if (!container.image?.startsWith(IMAGE_PREFIX)) continue;
    const tag = imageTag(container.image);
    if (!tag || tag === "latest") problems.push(`${ref(workload)} ${container.name}: image ${container.image} has no release tag`);
    tags.add(tag);
  }
  if (tags.size > 1) problems.push(`microblog images carry different tags: ${[...tags].join(", ")}`);
  const jobs = migrationJobs(render);
  if (jobs.length !== 1) return [...problems, `expected one migration Job, found ${jobs.length}`];
  const jobImage = podSpec(jobs[0]).containers?.[0]?.image;
  for (const { where, workload } of schemaWaiters(render)) {
    const wait = waitContainer(workload);
    if (!wait) problems.push(`${where}: no wait-for-schema init container`);
    else if (wait.image !== jobImage) {
      problems.push(`${where}: wait-for-schema runs ${wait.image}, the Job runs ${jobImage}`);
    }
  }
  return problems;
}

// The versions the init containers wait for are the newest migrations, and
// the Job's name carries both.
export function checkSchemaVersions(render, newest /* {user, post} */) {
  const problems = [];
  for (const { where, workload, target } of schemaWaiters(render)) {
    const wait = waitContainer(workload);
    if (!wait) {
      problems.push(`${where}: no wait-for-schema init container`);
      continue;
    }
    const args = wait.args ?? [];
    if (args[0] !== "wait") problems.push(`${where}: wait-for-schema does not run \`migrate wait\``);
    if (argValue(args, "--target") !== target) {
      problems.push(`${where}: wait-for-schema does not target ${target}`);
    }
    const version = argValue(args, "--version");
    if (!/^\d+$/.test(version ?? "") || Number(version) !== newest[target]) {
      problems.push(
        `${where}: waits for version ${version}, newest migration in migrations/${target} is ${pad4(newest[target])}`,
      );
    }
  }
  const jobs = migrationJobs(render);
  const expected = `migrate-user-${pad4(newest.user)}-post-${pad4(newest.post)}`;
  if (jobs.length !== 1 || jobs[0].metadata.name !== expected) {
    problems.push(`migration Job should be named ${expected}, found ${jobs.map((j) => j.metadata.name).join(", ") || "none"}`);
  }
  return problems;
}

// The Job migrates everything, runs before the rollout under Helm and Argo
// CD, and gives up before the init containers do.
export function checkMigrationJob(render) {
  const jobs = migrationJobs(render);
  if (jobs.length !== 1) return [`expected one migration Job, found ${jobs.length}`];
  const job = jobs[0];
  const problems = [];
  const a = job.metadata.annotations ?? {};
  const hooks = (a["helm.sh/hook"] ?? "").split(",");
  for (const hook of ["pre-install", "pre-upgrade"]) {
    if (!hooks.includes(hook)) problems.push(`${ref(job)}: helm.sh/hook lacks ${hook}`);
  }
  if (!/^-?\d+$/.test(a["helm.sh/hook-weight"] ?? "")) problems.push(`${ref(job)}: no helm.sh/hook-weight`);
  if (!a["helm.sh/hook-delete-policy"]) problems.push(`${ref(job)}: no helm.sh/hook-delete-policy`);
  if (a["argocd.argoproj.io/hook"] !== "PreSync" && !(Number(a["argocd.argoproj.io/sync-wave"]) < 0)) {
    problems.push(`${ref(job)}: neither an Argo CD PreSync hook nor a negative sync-wave`);
  }
  const container = podSpec(job).containers?.[0];
  const args = container?.args ?? [];
  if (args[0] !== "up" || argValue(args, "--target") !== "all") {
    problems.push(`${ref(job)}: does not run \`migrate up --target all\``);
  }
  if (podSpec(job).restartPolicy !== "Never" && podSpec(job).restartPolicy !== "OnFailure") {
    problems.push(`${ref(job)}: restartPolicy must be Never or OnFailure`);
  }
  const deadline = job.spec?.activeDeadlineSeconds;
  if (!(deadline > 0)) return [...problems, `${ref(job)}: no activeDeadlineSeconds`];
  for (const { where, workload } of schemaWaiters(render)) {
    const timeout = Number(argValue(waitContainer(workload)?.args, "--timeout"));
    if (!(timeout > deadline)) {
      problems.push(`${where}: wait-for-schema --timeout ${timeout} must outlast the Job's activeDeadlineSeconds ${deadline}`);
    }
  }
  return problems;
}

// Termination (docs/operations.md, "Scaling up, scaling down and rollouts"): a preStop delay,
// then SHUTDOWN_DRAIN_DELAY_MS of serving while NOT_SERVING, then
// SHUTDOWN_GRACE_MS for the calls in flight, all within
// terminationGracePeriodSeconds (plus a margin for the process to exit).
// The drain must outlast what moves clients away: the readiness probe
// noticing NOT_SERVING (periodSeconds x failureThreshold), and every
// connection's MAX_CONNECTION_AGE_MS (+10 % jitter) since the pod left the
// endpoints at preStop, so that clients without health checking got their
// GOAWAY before Shutdown. Aged connections give calls
// MAX_CONNECTION_AGE_GRACE_MS, at least MAX_DEADLINE_MS.
export const TERMINATION_MARGIN_SECONDS = 5;
export function checkGracefulTermination(render) {
  const problems = [];
  for (const { deployment, container } of serviceContainers(render, problems)) {
    const env = render.containerEnv(container);
    const setting = (name) => Number(env.get(name));
    const sleep = container.lifecycle?.preStop?.sleep?.seconds;
    if (!(sleep > 0)) problems.push(`${ref(deployment)}: no preStop sleep`);
    const grace = setting("SHUTDOWN_GRACE_MS");
    if (!(grace > 0)) problems.push(`${ref(deployment)}: SHUTDOWN_GRACE_MS not configured`);
    const drain = setting("SHUTDOWN_DRAIN_DELAY_MS");
    if (!(drain > 0)) problems.push(`${ref(deployment)}: SHUTDOWN_DRAIN_DELAY_MS not configured`);
    const period = podSpec(deployment).terminationGracePeriodSeconds;
    const needed = (sleep ?? 0) + (drain || 0) / 1000 + (grace || 0) / 1000 + TERMINATION_MARGIN_SECONDS;
    if (!(period >= needed)) {
      problems.push(`${ref(deployment)}: terminationGracePeriodSeconds ${period} < preStop ${sleep} s + drain ${drain / 1000} s + grace ${grace / 1000} s + ${TERMINATION_MARGIN_SECONDS} s`);
    }
    const probe = container.readinessProbe;
    const noticed = (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3) * 1000;
    if (drain > 0 && drain < noticed) {
      problems.push(`${ref(deployment)}: SHUTDOWN_DRAIN_DELAY_MS ${drain} < ${noticed} ms the readiness probe needs to see NOT_SERVING`);
    }
    const age = setting("MAX_CONNECTION_AGE_MS");
    if (!(age > 0)) {
      problems.push(`${ref(deployment)}: MAX_CONNECTION_AGE_MS not configured (new replicas would get no traffic from long-lived clients)`);
    } else {
      if ((sleep ?? 0) * 1000 + (drain || 0) < 1.1 * age) {
        problems.push(`${ref(deployment)}: preStop ${sleep} s + SHUTDOWN_DRAIN_DELAY_MS ${drain} < 1.1 x MAX_CONNECTION_AGE_MS ${age}: connections may still carry calls at Shutdown`);
      }
      const ageGrace = setting("MAX_CONNECTION_AGE_GRACE_MS");
      const deadline = setting("MAX_DEADLINE_MS");
      if (!(ageGrace >= deadline)) {
        problems.push(`${ref(deployment)}: MAX_CONNECTION_AGE_GRACE_MS ${ageGrace} < MAX_DEADLINE_MS ${deadline}: aged connections would cut calls`);
      }
    }
    const strategy = deployment.spec?.strategy?.rollingUpdate;
    if (strategy?.maxUnavailable !== 0) problems.push(`${ref(deployment)}: rollingUpdate.maxUnavailable must be 0`);
  }
  return problems;
}

// post-service, and its reconcile CronJob, dial user-service's headless
// Service by its fully qualified name in this namespace, on user-service's
// port.
export function checkUserServiceAddress(render) {
  const post = serviceDeployment(render, SERVICES[1]);
  const user = serviceDeployment(render, SERVICES[0]);
  if (!post || !user) return ["user-service or post-service Deployment missing"];
  const reconcile = reconcileCronJob(render);
  if (!reconcile) return [`${RECONCILE.kind}/${RECONCILE.name} missing`];
  const problems = [];
  const clients = [
    [ref(post), mainContainer(post)],
    [ref(reconcile), reconcileContainer(reconcile)],
  ];
  for (const [who, container] of clients) {
    if (!container) {
      problems.push(`${who}: main container missing`);
      continue;
    }
    const address = render.containerEnv(container).get("USER_SERVICE_ADDR");
    const m = /^dns:\/\/\/([^:/]+):(\d+)$/.exec(typeof address === "string" ? address : "");
    if (!m) {
      problems.push(`${who}: USER_SERVICE_ADDR ${JSON.stringify(address)} is not dns:///host:port`);
      continue;
    }
    const [, host, port] = m;
    const suffix = `.${render.namespace}.svc.cluster.local`;
    if (!host.endsWith(suffix)) problems.push(`${who}: USER_SERVICE_ADDR host ${host} is not in namespace ${render.namespace}`);
    const svc = render.find("Service", host.slice(0, host.length - suffix.length));
    if (!svc) {
      problems.push(`${who}: USER_SERVICE_ADDR names Service ${host}, which is not rendered`);
      continue;
    }
    if (svc.spec?.clusterIP !== "None") problems.push(`${ref(svc)}: not headless (clusterIP: None), round_robin would see one address`);
    if (!selectorMatches({ matchLabels: svc.spec?.selector ?? {} }, podLabels(user)) || !svc.spec?.selector) {
      problems.push(`${ref(svc)}: does not select user-service pods`);
    }
    if (!(svc.spec?.ports ?? []).some((p) => p.port === Number(port))) problems.push(`${ref(svc)}: has no port ${port}`);
    if (Number(port) !== listenPort(render, mainContainer(user))) {
      problems.push(`${who}: USER_SERVICE_ADDR port ${port} is not user-service's listening port`);
    }
  }
  return [...new Set(problems)];
}

// PodDisruptionBudgets always; with `highAvailability`, at least 2 replicas
// and an HPA per service.
export function checkAvailability(render, { highAvailability }) {
  const problems = [];
  for (const service of SERVICES) {
    const deployment = serviceDeployment(render, service);
    if (!deployment) {
      problems.push(`Deployment/${service.name}: missing`);
      continue;
    }
    const labels = podLabels(deployment);
    if (!render.all("PodDisruptionBudget").some((pdb) => selectorMatches(pdb.spec?.selector, labels) && pdb.spec?.selector)) {
      problems.push(`${ref(deployment)}: no PodDisruptionBudget`);
    }
    if (!highAvailability) continue;
    if (!(deployment.spec?.replicas >= 2)) problems.push(`${ref(deployment)}: fewer than 2 replicas`);
    const hpa = render
      .all("HorizontalPodAutoscaler")
      .find((h) => h.spec?.scaleTargetRef?.kind === "Deployment" && h.spec.scaleTargetRef.name === service.name);
    if (!hpa) problems.push(`${ref(deployment)}: no HorizontalPodAutoscaler`);
    else if (!(hpa.spec.minReplicas >= 2)) problems.push(`${ref(hpa)}: minReplicas below 2`);
  }
  return problems;
}

// Every ConfigMap and Secret a container refers to exists (Secrets either in
// the render or in `externalSecrets`, the documented out-of-band ones), with
// the key asked for unless the reference is optional.
export function checkReferences(render, externalSecrets = []) {
  const problems = [];
  const secret = (name) =>
    render.find("Secret", name) ?? externalSecrets.find((s) => s.kind !== "ConfigMap" && s.metadata?.name === name);
  // ConfigMaps made out of band too (the access tokens' key set in prod).
  const configMap = (name) =>
    render.find("ConfigMap", name) ?? externalSecrets.find((s) => s.kind === "ConfigMap" && s.metadata?.name === name);
  const keys = (obj) => new Set([...Object.keys(obj?.data ?? {}), ...Object.keys(obj?.stringData ?? {})]);
  for (const { workload, container } of render.containers()) {
    const where = `${ref(workload)} ${container.name}`;
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef && !render.find("ConfigMap", source.configMapRef.name)) {
        problems.push(`${where}: ConfigMap ${source.configMapRef.name} not rendered`);
      }
      if (source.secretRef && !secret(source.secretRef.name)) problems.push(`${where}: Secret ${source.secretRef.name} not found`);
    }
    for (const e of container.env ?? []) {
      const r = e.valueFrom?.secretKeyRef;
      // An optional key (e.g. read-url) may be absent; its Secret may not.
      if (r && r.optional === true && !secret(r.name)) problems.push(`${where}: Secret ${r.name} not found`);
      if (r && r.optional !== true && !keys(secret(r.name)).has(r.key)) {
        problems.push(`${where}: Secret ${r.name} has no key ${r.key}`);
      }
    }
  }
  for (const workload of render.workloads()) {
    for (const v of podSpec(workload).volumes ?? []) {
      if (v.configMap && !configMap(v.configMap.name)) {
        problems.push(`${ref(workload)}: volume ConfigMap ${v.configMap.name} not rendered`);
      }
    }
  }
  return problems;
}

// All namespaced objects in the overlay's Namespace, which enforces the
// restricted Pod Security Standard.
export function checkNamespace(render) {
  const problems = [];
  const ns = render.namespace;
  if (!ns) return ["objects have no namespace"];
  for (const obj of render.objects) {
    if (obj.kind !== "Namespace" && obj.metadata?.namespace !== ns) problems.push(`${ref(obj)}: not in namespace ${ns}`);
  }
  const namespace = render.find("Namespace", ns);
  if (!namespace) problems.push(`Namespace ${ns} not rendered`);
  else if (namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted") {
    problems.push(`Namespace ${ns}: does not enforce the restricted Pod Security Standard`);
  }
  return problems;
}

// The flows the NetworkPolicies must allow, and the ones they must not.
export function checkNetworkPolicies(render) {
  const problems = [];
  const policies = render.all("NetworkPolicy");
  const ns = render.namespace;
  const pod = (name) => {
    const workload = render.workloads().find((w) => podLabels(w)[NAME_LABEL] === name);
    return workload ? { namespace: ns, labels: podLabels(workload) } : undefined;
  };
  const user = pod("user-service");
  const post = pod("post-service");
  const migrate = pod(MIGRATE);
  const reconcile = pod(RECONCILE.name);
  if (!user || !post || !migrate || !reconcile) return ["user-service, post-service, reconcile or migrate pods missing"];
  const intruder = { namespace: ns, labels: { [NAME_LABEL]: "intruder" } };
  const elsewhere = { namespace: "other", labels: { [NAME_LABEL]: "post-service" } };
  const client = { namespace: "clients", labels: { app: "client" } };
  const dns = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };
  const externalDb = { ip: "10.200.0.10" };
  const userPort = listenPort(render, mainContainer(serviceDeployment(render, SERVICES[0])));
  const postPort = listenPort(render, mainContainer(serviceDeployment(render, SERVICES[1])));
  const expect = (allowed, src, dst, port, label, protocol = "TCP") => {
    if (connectionAllowed(policies, src, dst, port, protocol) !== allowed) {
      problems.push(`${label} on ${protocol} ${port} should be ${allowed ? "allowed" : "denied"}`);
    }
  };

  for (const workload of render.workloads()) {
    const p = { namespace: ns, labels: podLabels(workload) };
    for (const type of ["Ingress", "Egress"]) {
      if (!isIsolated(policies, p, type)) problems.push(`${ref(workload)}: pods not isolated for ${type} (no default deny)`);
    }
    expect(true, p, dns, 53, `${ref(workload)} -> cluster DNS`, "UDP");
    expect(true, p, dns, 53, `${ref(workload)} -> cluster DNS`, "TCP");
  }

  // The server side alone, whatever the clients' egress policies say.
  const expectIngress = (allowed, src, dst, port, label) => {
    if (ingressAllowed(policies, src, dst, port) !== allowed) {
      problems.push(`ingress of ${label} on TCP ${port} should ${allowed ? "admit" : "refuse"} it`);
    }
  };

  expect(true, post, user, userPort, "post-service -> user-service");
  expectIngress(false, migrate, user, userPort, "migrate -> user-service");
  expectIngress(false, intruder, user, userPort, "other pod -> user-service");
  expect(false, migrate, user, userPort, "migrate -> user-service");
  expect(false, intruder, user, userPort, "other pod -> user-service");
  expect(false, elsewhere, user, userPort, "post-service of another namespace -> user-service");
  expect(true, client, post, postPort, "client in another namespace -> post-service");
  expect(false, user, post, postPort, "user-service -> post-service");
  expect(false, user, externalDb, 443, "user-service -> outside, not the database port");
  expect(false, post, externalDb, 443, "post-service -> outside, not the database port");

  // The reconcile CronJob calls user-service, nothing else of ours, and
  // serves nothing: no one may connect to it.
  expect(true, reconcile, user, userPort, "reconcile -> user-service");
  expect(false, reconcile, post, postPort, "reconcile -> post-service");
  expect(false, reconcile, externalDb, 443, "reconcile -> outside, not the database port");
  for (const [src, label] of [[client, "client"], [intruder, "other pod"], [post, "post-service"], [user, "user-service"]]) {
    for (const port of [postPort, userPort, 8080]) expectIngress(false, src, reconcile, port, `${label} -> reconcile`);
  }

  // Prometheus: the monitoring namespace reaches each service's metrics
  // port, no other port of ours; nothing else reaches a metrics port.
  const monitoring = { namespace: MONITORING_NAMESPACE, labels: { [NAME_LABEL]: "prometheus" } };
  const userMetrics = metricsPort(render, mainContainer(serviceDeployment(render, SERVICES[0])));
  const postMetrics = metricsPort(render, mainContainer(serviceDeployment(render, SERVICES[1])));
  if (userMetrics === undefined || postMetrics === undefined) {
    problems.push("METRICS_ADDRESS of user-service or post-service has no port");
  } else {
    expect(true, monitoring, user, userMetrics, "monitoring namespace -> user-service metrics");
    expect(true, monitoring, post, postMetrics, "monitoring namespace -> post-service metrics");
    expectIngress(false, monitoring, user, userPort, "monitoring namespace -> user-service gRPC");
    expectIngress(false, monitoring, user, postMetrics, "monitoring namespace -> user-service, not its metrics port");
    expectIngress(false, monitoring, post, userMetrics, "monitoring namespace -> post-service, not its metrics port");
    for (const port of [userMetrics, postMetrics, userPort, postPort]) {
      expectIngress(false, monitoring, reconcile, port, "monitoring namespace -> reconcile");
    }
    const others = [
      [client, "client in another namespace"],
      [intruder, "other pod"],
      [elsewhere, "post-service of another namespace"],
      [{ namespace: `${MONITORING_NAMESPACE}-2`, labels: monitoring.labels }, "Prometheus of another namespace"],
      [user, "user-service"],
      [post, "post-service"],
      [reconcile, "reconcile"],
      [migrate, "migrate"],
    ];
    for (const [src, label] of others) {
      expectIngress(false, src, user, userMetrics, `${label} -> user-service metrics`);
      expectIngress(false, src, post, postMetrics, `${label} -> post-service metrics`);
    }
    // A rule admitting the monitoring namespace lists metrics ports only,
    // each of a service the policy selects (not just "what was probed").
    const monitoringLabels = { "kubernetes.io/metadata.name": MONITORING_NAMESPACE };
    for (const policy of policies) {
      const selected = SERVICES.filter((service) =>
        selectorMatches(policy.spec?.podSelector ?? {}, podLabels(serviceDeployment(render, service))),
      );
      const allowed = selected.map((service) => metricsPort(render, mainContainer(serviceDeployment(render, service))));
      for (const rule of policy.spec?.ingress ?? []) {
        const admitsMonitoring = (rule.from ?? []).some(
          (peer) => peer.namespaceSelector && selectorMatches(peer.namespaceSelector, monitoringLabels),
        );
        if (!admitsMonitoring) continue;
        const ports = rule.ports ?? [];
        if (ports.length === 0 || ports.some((p) => p.endPort !== undefined || !allowed.includes(p.port))) {
          problems.push(`${ref(policy)}: admits the ${MONITORING_NAMESPACE} namespace to ${JSON.stringify(ports)}, not only metrics ports ${JSON.stringify(allowed)}`);
        }
      }
    }
  }

  // Database access: in-cluster database pods when the overlay has them,
  // otherwise external databases reachable on their port only.
  const users = pod("users-db");
  const posts = pod("posts-db");
  if (users && posts) {
    expect(true, user, users, 5432, "user-service -> users-db");
    expect(true, migrate, users, 5432, "migrate -> users-db");
    expect(false, post, users, 5432, "post-service -> users-db");
    expect(false, intruder, users, 5432, "other pod -> users-db");
    expect(true, post, posts, 5432, "post-service -> posts-db");
    expect(true, migrate, posts, 5432, "migrate -> posts-db");
    expect(false, user, posts, 5432, "user-service -> posts-db");
    expect(false, intruder, posts, 5432, "other pod -> posts-db");
    expectIngress(false, post, users, 5432, "post-service -> users-db");
    expectIngress(false, intruder, users, 5432, "other pod -> users-db");
    expectIngress(false, user, posts, 5432, "user-service -> posts-db");
    expectIngress(false, intruder, posts, 5432, "other pod -> posts-db");
    expect(true, reconcile, posts, 5432, "reconcile -> posts-db");
    expect(false, reconcile, users, 5432, "reconcile -> users-db");
    expectIngress(false, reconcile, users, 5432, "reconcile -> users-db");
  } else {
    expect(true, user, externalDb, 5432, "user-service -> external users database");
    expect(true, post, externalDb, 5432, "post-service -> external posts database");
    expect(true, reconcile, externalDb, 5432, "reconcile -> external posts database");
    expect(true, migrate, externalDb, 5432, "migrate -> external databases");
    expect(false, intruder, externalDb, 5432, "other pod -> external databases");
  }
  return problems;
}

// No pod gets a Kubernetes API token: automountServiceAccountToken is false
// on the pod, or unset there and false on its (rendered) ServiceAccount.
// A named ServiceAccount must be rendered (else the pod is never created).
export function checkServiceAccounts(render) {
  const problems = [];
  for (const workload of render.workloads()) {
    const spec = podSpec(workload);
    const name = spec.serviceAccountName;
    const account = name ? render.find("ServiceAccount", name) : undefined;
    if (name && !account) problems.push(`${ref(workload)}: ServiceAccount ${name} not rendered`);
    const automount = spec.automountServiceAccountToken ?? account?.automountServiceAccountToken;
    if (automount !== false) problems.push(`${ref(workload)}: mounts a service account token`);
  }
  return problems;
}

// CronJobs: never two runs at once, a bounded start delay, bounded retries
// and run time, kept history; one that waits for the schema can outwait
// neither its own deadline. The reconcile CronJob exists and runs
// `post-service reconcile` with post-service's exact configuration.
export function checkCronJobs(render) {
  const problems = [];
  for (const cron of render.all("CronJob")) {
    const where = ref(cron);
    const spec = cron.spec ?? {};
    const job = spec.jobTemplate?.spec ?? {};
    if (spec.concurrencyPolicy !== "Forbid") {
      problems.push(`${where}: concurrencyPolicy is ${spec.concurrencyPolicy ?? "Allow (default)"}, not Forbid`);
    }
    if (!(spec.startingDeadlineSeconds > 0)) problems.push(`${where}: no startingDeadlineSeconds`);
    if (!spec.timeZone) problems.push(`${where}: no timeZone (the schedule would follow the controller's local time)`);
    for (const key of ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"]) {
      if (!Number.isInteger(spec[key])) problems.push(`${where}: no ${key}`);
    }
    if (!Number.isInteger(job.backoffLimit)) problems.push(`${where}: no backoffLimit (default 6 retries)`);
    const deadline = job.activeDeadlineSeconds;
    if (!(deadline > 0)) problems.push(`${where}: no activeDeadlineSeconds`);
    const restart = podSpec(cron).restartPolicy;
    if (restart !== "Never" && restart !== "OnFailure") problems.push(`${where}: restartPolicy must be Never or OnFailure`);
    const wait = waitContainer(cron);
    const timeout = Number(argValue(wait?.args, "--timeout"));
    if (wait && deadline > 0 && !(deadline > timeout)) {
      problems.push(`${where}: activeDeadlineSeconds ${deadline} leaves no time after wait-for-schema --timeout ${timeout}`);
    }
  }

  const cron = reconcileCronJob(render);
  if (!cron) return [...problems, `${RECONCILE.kind}/${RECONCILE.name} missing`];
  const container = reconcileContainer(cron);
  if (!container) return [...problems, `${ref(cron)}: no container named ${RECONCILE.container}`];
  const image = container.image ?? "";
  if (image !== RECONCILE.image && !image.startsWith(`${RECONCILE.image}:`) && !image.startsWith(`${RECONCILE.image}@`)) {
    problems.push(`${ref(cron)}: runs ${image}, not ${RECONCILE.image}`);
  }
  if (JSON.stringify(container.args ?? []) !== JSON.stringify(["reconcile"])) {
    problems.push(`${ref(cron)}: args ${JSON.stringify(container.args)}, expected ["reconcile"]`);
  }
  const post = serviceDeployment(render, SERVICES[1]);
  if (!post || !mainContainer(post)) return [...problems, "Deployment/post-service missing"];
  const serverEnv = render.containerEnv(mainContainer(post));
  const env = render.containerEnv(container);
  // What only the server needs: the access tokens' key set (a reconcile
  // pass serves no call).
  const serverOnly = new Set(["TOKEN_JWKS_FILE"]);
  for (const [name, value] of serverEnv) {
    if (serverOnly.has(name)) continue;
    if (JSON.stringify(env.get(name)) !== JSON.stringify(value)) {
      problems.push(`${ref(cron)}: ${name} is ${JSON.stringify(env.get(name))}, post-service has ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

// Each Service and PodDisruptionBudget selects the pods of exactly one
// workload, and each Deployment's / StatefulSet's selector only its own:
// a pod of another workload carrying the same labels (say the reconcile
// CronJob's as app.kubernetes.io/name=post-service) would receive traffic,
// count towards a budget, or be adopted.
export function checkSelectors(render) {
  const problems = [];
  const workloads = render.workloads();
  const matching = (selector) => workloads.filter((w) => selectorMatches(selector, podLabels(w)));
  for (const svc of render.all("Service")) {
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) continue;
    const selected = matching({ matchLabels: selector });
    if (selected.length !== 1) {
      problems.push(`${ref(svc)}: selects the pods of ${selected.map(ref).join(", ") || "no workload"}, expected exactly one`);
    }
  }
  for (const pdb of render.all("PodDisruptionBudget")) {
    const selector = pdb.spec?.selector;
    const selected = selector ? matching(selector) : [];
    if (selected.length !== 1) {
      problems.push(`${ref(pdb)}: selects the pods of ${selected.map(ref).join(", ") || "no workload"}, expected exactly one`);
    }
  }
  for (const owner of workloads.filter((w) => w.kind === "Deployment" || w.kind === "StatefulSet")) {
    const selector = owner.spec?.selector;
    const others = selector ? matching(selector).filter((w) => w !== owner) : [];
    if (others.length > 0) problems.push(`${ref(owner)}: its selector also matches the pods of ${others.map(ref).join(", ")}`);
  }
  return problems;
}

// Every *_FILE setting of a container (TLS certificates and keys, the
// authorization policy, the token keys) that is an absolute path lies on a
// volume mounted in that container: with a read-only root filesystem
// nothing else can provide it. (Catches, e.g., the client certificate
// mounted into post-service but not into the reconcile CronJob, which reads
// the same post-service-config.) checkTransportSecurity also checks which
// Secret or ConfigMap each TLS and policy file comes from.
export function checkFileSettings(render) {
  const problems = [];
  for (const { workload, container } of render.containers()) {
    const volumes = new Set((podSpec(workload).volumes ?? []).map((v) => v.name));
    const mounts = (container.volumeMounts ?? []).filter((m) => volumes.has(m.name));
    for (const [name, value] of render.containerEnv(container)) {
      if (!name.endsWith("_FILE") || typeof value !== "string" || !value.startsWith("/")) continue;
      const dir = (m) => m.mountPath.replace(/\/+$/, "");
      if (!mounts.some((m) => value.startsWith(`${dir(m)}/`))) {
        problems.push(`${ref(workload)} container ${container.name}: ${name}=${value} is on no mounted volume`);
      }
    }
  }
  return problems;
}

// With a transaction-mode pooler rendered (components/pgbouncer): PgBouncer
// runs pool_mode = transaction and gives every server connection the
// services' statement timeout (connect_query) and a query_wait_timeout
// within MAX_DEADLINE_MS; both services (and so the reconcile CronJob) run
// DB_PREPARED_STATEMENTS=off; user-service LISTENs on a direct URL of its
// own; the migration Job keeps its own (direct) database Secret. Without a
// pooler, nothing to check.
export function checkPooler(render) {
  const pooler = render.find("Deployment", "pgbouncer");
  if (!pooler) return [];
  const problems = [];
  const volume = (podSpec(pooler).volumes ?? []).find((v) => v.configMap);
  const ini = (volume && render.find("ConfigMap", volume.configMap.name)?.data?.["pgbouncer.ini"]) ?? "";
  if (!ini) return [`${ref(pooler)}: no pgbouncer.ini ConfigMap mounted`];
  const setting = (name) => ini.match(new RegExp(`^\\s*${name}\\s*=\\s*(\\S+)`, "m"))?.[1];
  if (setting("pool_mode") !== "transaction") problems.push(`${ref(pooler)}: pool_mode is not transaction`);
  const databases = (ini.split(/^\[pgbouncer\]/m)[0].split(/^\[databases\]/m)[1] ?? "")
    .split("\n")
    .filter((line) => /^\s*[^;\s][^=]*=/.test(line));
  if (databases.length === 0) problems.push(`${ref(pooler)}: no [databases] entry`);
  for (const { service, deployment, container } of serviceContainers(render, problems)) {
    const env = render.containerEnv(container);
    if (env.get("DB_PREPARED_STATEMENTS") !== "off") {
      problems.push(`${ref(deployment)}: DB_PREPARED_STATEMENTS is not off behind a transaction pooler`);
    }
    const deadlineMs = Number(env.get("MAX_DEADLINE_MS"));
    for (const line of databases) {
      const timeout = Number(line.match(/statement_timeout\s*=\s*(\d+)/)?.[1]);
      if (!(timeout > 0 && timeout <= deadlineMs)) {
        problems.push(`${ref(pooler)}: database entry "${line.trim().split(/\s*=/)[0]}" sets no statement_timeout within ${service.name}'s MAX_DEADLINE_MS ${deadlineMs} (connect_query)`);
      }
    }
    const wait = Number(setting("query_wait_timeout"));
    if (!(wait > 0 && wait * 1000 <= deadlineMs)) {
      problems.push(`${ref(pooler)}: query_wait_timeout ${setting("query_wait_timeout")} s is not within ${service.name}'s MAX_DEADLINE_MS ${deadlineMs}`);
    }
    if (service.name === "user-service") {
      const listen = env.get("USER_DATABASE_LISTEN_URL");
      const url = env.get("USER_DATABASE_URL");
      if (!listen) problems.push(`${ref(deployment)}: no USER_DATABASE_LISTEN_URL (LISTEN through a transaction pooler)`);
      else if (JSON.stringify(listen) === JSON.stringify(url)) {
        problems.push(`${ref(deployment)}: USER_DATABASE_LISTEN_URL is USER_DATABASE_URL, the pooler`);
      }
    }
  }
  const cron = reconcileCronJob(render);
  const cronEnv = cron && render.containerEnv(reconcileContainer(cron));
  if (cronEnv && cronEnv.get("DB_PREPARED_STATEMENTS") !== "off") {
    problems.push(`${ref(cron)}: DB_PREPARED_STATEMENTS is not off behind a transaction pooler`);
  }
  // Who reaches it: the services and the reconcile CronJob, nobody else;
  // it reaches the databases' port.
  const policies = render.all("NetworkPolicy");
  const ns = render.namespace;
  const podOf = (workload) => workload && { namespace: ns, labels: podLabels(workload) };
  const bouncer = podOf(pooler);
  const port = Number(setting("listen_port"));
  for (const [workload, allowed] of [
    [serviceDeployment(render, SERVICES[0]), true],
    [serviceDeployment(render, SERVICES[1]), true],
    [cron, true],
    [migrationJobs(render)[0], false],
  ]) {
    if (!workload) continue;
    if (connectionAllowed(policies, podOf(workload), bouncer, port, "TCP") !== allowed) {
      problems.push(`${ref(workload)} -> ${ref(pooler)} on TCP ${port} should be ${allowed ? "allowed" : "denied"}`);
    }
  }
  const intruder = { namespace: ns, labels: { [NAME_LABEL]: "intruder" } };
  if (ingressAllowed(policies, intruder, bouncer, port)) problems.push(`${ref(pooler)}: admits any pod on ${port}`);
  if (!connectionAllowed(policies, bouncer, { ip: "10.200.0.10" }, 5432, "TCP")) {
    problems.push(`${ref(pooler)}: cannot reach the databases on 5432`);
  }
  if (connectionAllowed(policies, bouncer, { ip: "10.200.0.10" }, 443, "TCP")) {
    problems.push(`${ref(pooler)}: reaches outside beyond the databases' port`);
  }
  const serviceSecrets = new Set();
  for (const { container } of serviceContainers(render, [])) {
    for (const value of render.containerEnv(container).values()) if (value?.secret) serviceSecrets.add(value.secret);
  }
  for (const job of migrationJobs(render)) {
    for (const value of render.containerEnv(podSpec(job).containers?.[0] ?? {}).values()) {
      if (value?.secret && serviceSecrets.has(value.secret)) {
        problems.push(`${ref(job)}: takes its database URL from ${value.secret}, the services' (pooled) Secret`);
      }
    }
  }
  return problems;
}

// mTLS and authorization (deploy/README.md, "mTLS and authorization").
// A caller's identity is its certificate's URI SAN:
// spiffe://microblog/ns/<namespace>/sa/<serviceaccount>.
export const TRUST_DOMAIN = "microblog";
export function spiffeId(namespace, serviceAccount) {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}
const SPIFFE_PATTERN = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;
const TLS_SECRET_TYPE = "kubernetes.io/tls";
const SERVER_TLS_FILES = { TLS_CERT_FILE: "tls.crt", TLS_KEY_FILE: "tls.key", TLS_CLIENT_CA_FILE: "ca.crt" };
const CLIENT_TLS_FILES = {
  USER_SERVICE_TLS_CERT_FILE: "tls.crt",
  USER_SERVICE_TLS_KEY_FILE: "tls.key",
  USER_SERVICE_TLS_CA_FILE: "ca.crt",
};
// Each workload that speaks mTLS: its container, the Secret its TLS_* and
// USER_SERVICE_TLS_* files must come from (key by key), the ConfigMap of
// its AUTHZ_POLICY_FILE, and whether it serves (a serving certificate
// needs the service's DNS names and the server auth usage). The reconcile
// CronJob reads post-service-config, so it has the server's settings too,
// with its own certificate (its own ServiceAccount's identity).
export const MTLS_WORKLOADS = [
  {
    kind: "Deployment", name: "user-service", container: "user-service", secret: "user-service-tls",
    policy: "user-service-authz-policy", files: SERVER_TLS_FILES, serves: true,
  },
  {
    kind: "Deployment", name: "post-service", container: "post-service", secret: "post-service-tls",
    policy: "post-service-authz-policy", files: { ...SERVER_TLS_FILES, ...CLIENT_TLS_FILES }, serves: true,
  },
  {
    kind: RECONCILE.kind, name: RECONCILE.name, container: RECONCILE.container, secret: "post-service-reconcile-tls",
    policy: "post-service-authz-policy", files: { ...SERVER_TLS_FILES, ...CLIENT_TLS_FILES }, serves: false,
  },
];
// user-service methods only post-service and its reconcile CronJob (and
// privileged principals) may call.
export const INTERNAL_USER_METHODS = [
  "/microblog.user.v1.UserService/BatchGetUsers",
  "/microblog.user.v1.UserService/ListUserEvents",
];
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

function mtlsWorkloads(render, problems) {
  const out = [];
  for (const w of MTLS_WORKLOADS) {
    const workload = render.find(w.kind, w.name);
    const container = podSpec(workload).containers?.find((c) => c.name === w.container);
    if (!workload || !container) {
      problems.push(`${w.kind}/${w.name}: missing (or no container ${w.container})`);
      continue;
    }
    out.push({ ...w, workload, container, where: `${ref(workload)} container ${container.name}` });
  }
  return out;
}

// The volume a file path of a container lies on: {mount, volume, key} with
// `key` the ConfigMap / Secret key the file is (items honoured), or a
// string saying why not.
function fileSource(workload, container, file) {
  if (typeof file !== "string" || !file.startsWith("/")) return `${JSON.stringify(file)} is not an absolute path`;
  const dir = (m) => m.mountPath.replace(/\/+$/, "");
  // A subPath mount of the file itself (mountPath = the file) counts too,
  // so that the callers can refuse it.
  const mounts = (container.volumeMounts ?? []).filter(
    (m) => file.startsWith(`${dir(m)}/`) || (m.subPath && dir(m) === file),
  );
  mounts.sort((a, b) => dir(b).length - dir(a).length);
  const mount = mounts[0];
  if (!mount) return `${file} is on no mounted volume`;
  const volume = (podSpec(workload).volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) return `${file}: volume ${mount.name} is mounted but not defined`;
  const relative = dir(mount) === file ? mount.subPath : file.slice(dir(mount).length + 1);
  const items = volume.secret?.items ?? volume.configMap?.items;
  const key = items ? items.find((i) => i.path === relative)?.key : relative.includes("/") ? undefined : relative;
  return { mount, volume, key, relative };
}

function secretKeys(obj) {
  return new Set([...Object.keys(obj?.data ?? {}), ...Object.keys(obj?.stringData ?? {})]);
}

function secretValue(obj, key) {
  if (obj?.stringData?.[key] !== undefined) return obj.stringData[key];
  if (obj?.data?.[key] !== undefined) return Buffer.from(obj.data[key], "base64").toString("utf8");
  return undefined;
}

// Transport security of every overlay: TRANSPORT_SECURITY is never
// `insecure` (no ConfigMap, no container), and is `mtls`, set explicitly,
// for both services and the reconcile CronJob; each of their TLS_* and
// USER_SERVICE_TLS_* files is the right key (tls.crt, tls.key, ca.crt) of a
// volume of the right Secret (kubernetes.io/tls, in the render or among
// the out-of-band `externalSecrets`); AUTHZ_POLICY_FILE is a key of the
// service's fixed-name policy ConfigMap, mounted as a directory (not
// subPath: the kubelet never updates a subPath mount, so a policy change
// would need a restart).
export function checkTransportSecurity(render, externalSecrets = []) {
  const problems = [];
  for (const cm of render.all("ConfigMap")) {
    const value = cm.data?.TRANSPORT_SECURITY;
    if (value !== undefined && value !== "mtls" && value !== "tls") {
      problems.push(`${ref(cm)}: TRANSPORT_SECURITY=${value} (deployed overlays run mtls; insecure is for scripts/up.sh only)`);
    }
  }
  for (const { workload, container } of render.containers()) {
    const value = render.containerEnv(container).get("TRANSPORT_SECURITY");
    if (value !== undefined && value !== "mtls" && value !== "tls") {
      problems.push(`${ref(workload)} container ${container.name}: TRANSPORT_SECURITY=${JSON.stringify(value)}`);
    }
  }
  const secret = (name) =>
    render.find("Secret", name) ?? externalSecrets.find((s) => s.kind === "Secret" && s.metadata?.name === name);
  for (const w of mtlsWorkloads(render, problems)) {
    const env = render.containerEnv(w.container);
    if (env.get("TRANSPORT_SECURITY") !== "mtls") {
      problems.push(`${w.where}: TRANSPORT_SECURITY is ${JSON.stringify(env.get("TRANSPORT_SECURITY"))}, not mtls (set it explicitly)`);
    }
    for (const [name, key] of Object.entries(w.files)) {
      const source = fileSource(w.workload, w.container, env.get(name));
      if (typeof source === "string") {
        problems.push(`${w.where}: ${name}: ${source}`);
        continue;
      }
      if (source.volume.secret?.secretName !== w.secret) {
        problems.push(`${w.where}: ${name}=${env.get(name)} is on volume ${source.volume.name}, not from Secret ${w.secret}`);
        continue;
      }
      if (source.mount.subPath || source.mount.subPathExpr) problems.push(`${w.where}: ${name}'s volume is a subPath mount`);
      if (source.key !== key) problems.push(`${w.where}: ${name} is key ${source.key} of ${w.secret}, expected ${key}`);
      const s = secret(w.secret);
      if (!s) {
        problems.push(`${w.where}: Secret ${w.secret} neither rendered nor among the out-of-band Secrets`);
        continue;
      }
      if (s.type !== TLS_SECRET_TYPE) problems.push(`Secret/${w.secret}: type ${s.type}, expected ${TLS_SECRET_TYPE}`);
      if (!secretKeys(s).has(key)) problems.push(`Secret/${w.secret}: no key ${key} (${name})`);
    }
    const policyFile = env.get("AUTHZ_POLICY_FILE");
    const source = fileSource(w.workload, w.container, policyFile);
    if (typeof source === "string") {
      problems.push(`${w.where}: AUTHZ_POLICY_FILE: ${source}`);
      continue;
    }
    if (source.volume.configMap?.name !== w.policy) {
      problems.push(`${w.where}: AUTHZ_POLICY_FILE=${policyFile} is on volume ${source.volume.name}, not from ConfigMap ${w.policy} (a generated name with a hash suffix would roll the pods on every policy change)`);
      continue;
    }
    if (source.mount.subPath || source.mount.subPathExpr) {
      problems.push(`${w.where}: AUTHZ_POLICY_FILE's volume is a subPath mount: ConfigMap updates never reach it`);
    }
    const cm = render.find("ConfigMap", w.policy);
    if (!cm) problems.push(`${w.where}: ConfigMap ${w.policy} not rendered`);
    else if (cm.data?.[source.key] === undefined) problems.push(`${ref(cm)}: no key ${source.key} (AUTHZ_POLICY_FILE)`);
  }
  return [...new Set(problems)];
}

// A43 path matching: exact, "prefix*", or "*"; no paths = every path.
function pathMatches(patterns, path) {
  if (!Array.isArray(patterns) || patterns.length === 0) return true;
  return patterns.some((p) => p === "*" || p === path || (p.endsWith("*") && path.startsWith(p.slice(0, -1))));
}

// Whether `principal` (undefined: a caller without a client certificate)
// may call `path` under an A43 policy: no deny rule matches and an allow
// rule does. A rule without principals matches every caller.
function policyAllows(policy, principal, path) {
  const matches = (rule) => {
    const principals = rule.source?.principals ?? [];
    const who = principals.length === 0 || principals.includes("*") || (principal !== undefined && principals.includes(principal));
    return who && pathMatches(rule.request?.paths, path);
  };
  if ((policy.deny_rules ?? []).some(matches)) return false;
  return (policy.allow_rules ?? []).some(matches);
}

const POLICY_KEYS = new Set(["name", "allow_rules", "deny_rules", "audit_logging_options"]);
const RULE_KEYS = new Set(["name", "source", "request"]);

// The A43 problems of a parsed policy (shape only).
function policyShape(policy, where) {
  const problems = [];
  if (policy === null || typeof policy !== "object" || Array.isArray(policy)) return [`${where}: not a JSON object`];
  for (const key of Object.keys(policy)) if (!POLICY_KEYS.has(key)) problems.push(`${where}: unknown field "${key}"`);
  if (typeof policy.name !== "string" || policy.name === "") problems.push(`${where}: no "name"`);
  if (!Array.isArray(policy.allow_rules) || policy.allow_rules.length === 0) problems.push(`${where}: no "allow_rules"`);
  if (policy.deny_rules !== undefined && !Array.isArray(policy.deny_rules)) problems.push(`${where}: "deny_rules" is not a list`);
  const names = new Set();
  for (const rule of [...(Array.isArray(policy.allow_rules) ? policy.allow_rules : []), ...(Array.isArray(policy.deny_rules) ? policy.deny_rules : [])]) {
    if (rule === null || typeof rule !== "object") {
      problems.push(`${where}: a rule is not an object`);
      continue;
    }
    for (const key of Object.keys(rule)) if (!RULE_KEYS.has(key)) problems.push(`${where}: rule ${rule.name}: unknown field "${key}"`);
    if (typeof rule.name !== "string" || rule.name === "") problems.push(`${where}: a rule without "name"`);
    else if (names.has(rule.name)) problems.push(`${where}: two rules named ${rule.name}`);
    names.add(rule.name);
    const principals = rule.source?.principals;
    if (rule.source !== undefined && !(Array.isArray(principals) && principals.every((p) => typeof p === "string"))) {
      problems.push(`${where}: rule ${rule.name}: source.principals is not a list of strings`);
    }
    const paths = rule.request?.paths;
    if (rule.request !== undefined && paths !== undefined && !(Array.isArray(paths) && paths.every((p) => typeof p === "string"))) {
      problems.push(`${where}: rule ${rule.name}: request.paths is not a list of strings`);
    }
  }
  return problems;
}

// Each service's authorization policy (the ConfigMap key AUTHZ_POLICY_FILE
// names) parses as a gRFC A43 policy (name, allow_rules, named rules); every
// principal is a SPIFFE id of this trust domain in the overlay's
// namespace; a `privileged*` rule names its principals (without any it
// would make every caller privileged); each service's own identity may
// call Health/Check (its exec probe does, with the pod's certificate); on
// user-service, BatchGetUsers and ListUserEvents are allowed to the
// identities of post-service's and the reconcile CronJob's
// ServiceAccounts, to privileged principals, and to nobody else (any
// other principal the policy names, an unknown one, a caller without a
// certificate).
export function checkAuthzPolicies(render) {
  const problems = [];
  const ns = render.namespace;
  const account = (w) => podSpec(render.find(w.kind, w.name)).serviceAccountName;
  const identities = Object.fromEntries(MTLS_WORKLOADS.map((w) => [w.name, spiffeId(ns, account(w) ?? "default")]));
  for (const w of mtlsWorkloads(render, problems).filter((x) => x.serves)) {
    const source = fileSource(w.workload, w.container, render.containerEnv(w.container).get("AUTHZ_POLICY_FILE"));
    const cm = typeof source === "object" && source.volume.configMap && render.find("ConfigMap", source.volume.configMap.name);
    const text = cm?.data?.[source.key];
    if (typeof text !== "string") {
      problems.push(`${w.where}: no policy ConfigMap key behind AUTHZ_POLICY_FILE`);
      continue;
    }
    const where = `${ref(cm)} ${source.key}`;
    let policy;
    try {
      policy = JSON.parse(text);
    } catch (error) {
      problems.push(`${where}: not JSON: ${error.message}`);
      continue;
    }
    const shape = policyShape(policy, where);
    if (shape.length > 0) {
      problems.push(...shape);
      continue;
    }
    const rules = [...policy.allow_rules, ...(policy.deny_rules ?? [])];
    const named = new Set();
    for (const rule of rules) {
      for (const principal of rule.source?.principals ?? []) {
        named.add(principal);
        const m = SPIFFE_PATTERN.exec(principal);
        if (!m || m[1] !== TRUST_DOMAIN) problems.push(`${where}: rule ${rule.name}: principal ${principal} is not spiffe://${TRUST_DOMAIN}/ns/<ns>/sa/<sa>`);
        else if (m[2] !== ns) problems.push(`${where}: rule ${rule.name}: principal ${principal} is not in namespace ${ns}`);
      }
    }
    const privileged = policy.allow_rules.filter((r) => r.name.startsWith("privileged"));
    for (const rule of privileged) {
      if ((rule.source?.principals ?? []).length === 0) problems.push(`${where}: privileged rule ${rule.name} names no principals (every caller would be privileged)`);
    }
    const privilegedPrincipals = new Set(privileged.flatMap((r) => r.source?.principals ?? []));
    if (!policyAllows(policy, identities[w.name], HEALTH_CHECK)) {
      problems.push(`${where}: ${identities[w.name]} (the pod's own certificate, its probe) may not call ${HEALTH_CHECK}`);
    }
    if (w.name !== "user-service") continue;
    const internal = new Set([identities["post-service"], identities[RECONCILE.name]]);
    const callers = [...named, spiffeId(ns, "intruder"), identities["user-service"], undefined];
    for (const method of INTERNAL_USER_METHODS) {
      for (const id of internal) {
        if (!policyAllows(policy, id, method)) problems.push(`${where}: ${id} may not call ${method}`);
      }
      for (const id of callers) {
        if (internal.has(id) || privilegedPrincipals.has(id)) continue;
        if (policyAllows(policy, id, method)) problems.push(`${where}: ${id ?? "a caller without certificate"} may call ${method}`);
      }
    }
  }
  return problems;
}

// The DNS names a service's serving certificate must carry (post-service
// dials user-service-headless.<ns>.svc.cluster.local; the exec probe dials
// 127.0.0.1, named localhost too).
export function serviceDnsNames(service, namespace) {
  return [
    service,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
    `${service}-headless.${namespace}.svc.cluster.local`,
    "localhost",
  ];
}
const EKU = { "server auth": "1.3.6.1.5.5.7.3.1", "client auth": "1.3.6.1.5.5.7.3.2" };

// The certificates behind each mTLS Secret, where the render shows them:
// a cert-manager Certificate with that secretName (any overlay using
// components/cert-manager), or the certificate itself in a rendered
// Secret (dev's DEV-ONLY ones). Either way: exactly one URI SAN, the
// SPIFFE id of the mounting workload's ServiceAccount in this namespace;
// client auth; for the services also server auth, their DNS names and IP
// 127.0.0.1. A rendered certificate must also be signed by the Secret's
// ca.crt, match tls.key, and be valid now. Every rendered Certificate
// (the admin example too) names an issuer and one SPIFFE URI of this
// namespace. Out-of-band Secrets (prod): nothing rendered to check.
export function checkCertificates(render, now = new Date()) {
  const problems = [];
  const ns = render.namespace;
  const certificates = render.objects.filter((o) => o.kind === "Certificate" && /^cert-manager\.io\//.test(o.apiVersion ?? ""));
  for (const cert of certificates) {
    const uris = cert.spec?.uris ?? [];
    const spiffe = uris.filter((u) => SPIFFE_PATTERN.test(u));
    if (uris.length !== 1 || spiffe.length !== 1) problems.push(`${ref(cert)}: uris ${JSON.stringify(uris)}, expected exactly one SPIFFE id`);
    else if (SPIFFE_PATTERN.exec(spiffe[0])[2] !== ns || SPIFFE_PATTERN.exec(spiffe[0])[1] !== TRUST_DOMAIN) {
      problems.push(`${ref(cert)}: ${spiffe[0]} is not spiffe://${TRUST_DOMAIN}/ns/${ns}/...`);
    }
    if (!cert.spec?.issuerRef?.name) problems.push(`${ref(cert)}: no issuerRef`);
    if (!cert.spec?.secretName) problems.push(`${ref(cert)}: no secretName`);
    if (!(cert.spec?.usages ?? []).includes("client auth")) problems.push(`${ref(cert)}: no client auth usage`);
  }
  for (const w of mtlsWorkloads(render, problems)) {
    const id = spiffeId(ns, podSpec(w.workload).serviceAccountName ?? "default");
    const dns = w.serves ? serviceDnsNames(w.name, ns) : [];
    const usages = w.serves ? ["server auth", "client auth"] : ["client auth"];
    const cert = certificates.find((c) => c.spec?.secretName === w.secret);
    if (cert) {
      const where = ref(cert);
      if (JSON.stringify(cert.spec?.uris ?? []) !== JSON.stringify([id])) {
        problems.push(`${where}: uris ${JSON.stringify(cert.spec?.uris)}, expected ["${id}"] (${ref(w.workload)}'s ServiceAccount)`);
      }
      for (const name of dns) if (!(cert.spec?.dnsNames ?? []).includes(name)) problems.push(`${where}: no DNS name ${name}`);
      if (w.serves && !(cert.spec?.ipAddresses ?? []).includes("127.0.0.1")) problems.push(`${where}: no IP address 127.0.0.1 (the exec probe)`);
      for (const usage of usages) if (!(cert.spec?.usages ?? []).includes(usage)) problems.push(`${where}: no ${usage} usage`);
      continue;
    }
    const secret = render.find("Secret", w.secret);
    const pem = secretValue(secret, "tls.crt");
    if (pem === undefined) continue;
    const where = `Secret/${w.secret} tls.crt`;
    let x509;
    try {
      x509 = new crypto.X509Certificate(pem);
    } catch (error) {
      problems.push(`${where}: not a certificate: ${error.message}`);
      continue;
    }
    const sans = (x509.subjectAltName ?? "").split(/,\s*/).filter(Boolean);
    const uris = sans.filter((s) => s.startsWith("URI:")).map((s) => s.slice(4));
    if (JSON.stringify(uris) !== JSON.stringify([id])) problems.push(`${where}: URI SANs ${JSON.stringify(uris)}, expected ["${id}"] (${ref(w.workload)}'s ServiceAccount)`);
    for (const name of dns) if (!sans.includes(`DNS:${name}`)) problems.push(`${where}: no DNS SAN ${name}`);
    if (w.serves && !sans.includes("IP Address:127.0.0.1")) problems.push(`${where}: no IP SAN 127.0.0.1 (the exec probe)`);
    for (const usage of usages) if (!(x509.keyUsage ?? []).includes(EKU[usage])) problems.push(`${where}: no ${usage} extended key usage`);
    if (!(new Date(x509.validTo) > now) || new Date(x509.validFrom) > now) problems.push(`${where}: not valid now (${x509.validFrom} .. ${x509.validTo})`);
    try {
      const ca = new crypto.X509Certificate(secretValue(secret, "ca.crt") ?? "");
      if (!x509.verify(ca.publicKey)) problems.push(`${where}: not signed by the Secret's ca.crt`);
    } catch (error) {
      problems.push(`Secret/${w.secret} ca.crt: ${error.message}`);
    }
    try {
      if (!x509.checkPrivateKey(crypto.createPrivateKey(secretValue(secret, "tls.key") ?? ""))) {
        problems.push(`Secret/${w.secret}: tls.key is not the key of tls.crt`);
      }
    } catch (error) {
      problems.push(`Secret/${w.secret} tls.key: ${error.message}`);
    }
  }
  return [...new Set(problems)];
}
