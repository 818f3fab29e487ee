// The rendered dev overlay, rewritten into what `podman kube play` (podman
// 4.3) can run, for tests/images_test.cc (CTest: images.kube_play). Not a
// test by itself.
//
//   node deploy/tests/kube_play_manifests.mjs --overlay deploy/k8s/overlays/dev \
//       --database 10.89.3.1:41234 --user-service-ip 10.89.3.201 --out DIR
//
// kube play takes Pods, Deployments, PersistentVolumeClaims and ConfigMaps.
// What this rewrites, and nothing else (DIR/rewrites.txt lists each change
// made to this render, one per line):
//   - the migration Job becomes a Pod of its pod template (same name, labels
//     and pod spec): kube play runs no Jobs;
//   - every container gets `imagePullPolicy: Never` (no registry; the images
//     are the ones deploy/images.sh built);
//   - the Deployments get the annotation (on their own metadata, where podman
//     4.3 reads it) io.podman.annotations.init.container.type: always
//     (podman 4.3 removes a
//     "once" init container right after it exits and sometimes fails the pod
//     because it still looks running);
//   - every container loses its `ports` list: podman 4.3 publishes each
//     containerPort on the host at the same number (0.0.0.0:9464, :50051,
//     ...), which Kubernetes never does; the test reaches the pods at
//     their addresses on its network, and a host port would clash with
//     anything else on the machine (scripts/up.sh's stack, another test);
//   - post-service's pod gets a hostAliases entry resolving the host of its
//     USER_SERVICE_ADDR (user-service-headless.<ns>.svc.cluster.local) to
//     user-service's pod address (--user-service-ip): podman has no cluster
//     DNS and no headless Service;
//   - Secret volumes (user-service's token key, both services' mTLS
//     Secrets user-service-tls / post-service-tls) become hostPath
//     directories of the Secret's keys (DIR/secret-volume-<name>/): podman
//     4.3's kube play panics on secret volumes. ConfigMap volumes
//     (access-token-jwks, the *-authz-policy policies) stay ConfigMap
//     volumes, their ConfigMaps played with the pod;
//   - Secrets become podman secrets (kube play reads secretKeyRef from
//     them): DIR/secret-<name>.json in the form podman 4.3 wants (a JSON map
//     key -> base64 value), with the host:port of every postgresql:// URL
//     replaced by --database (the test's PostgreSQL stands in for the dev
//     overlay's users-db/posts-db StatefulSets; roles and database names
//     stay);
//   - everything else is left out and listed: Namespace, ServiceAccounts,
//     Services, NetworkPolicies, PodDisruptionBudgets, the StatefulSets of
//     the dev databases and their ConfigMaps/Secrets' consumers, the
//     reconcile CronJob.
// The containers' env, envFrom, args, securityContext, volumeMounts,
// volumes and resources stay exactly as rendered.
//
// Writes DIR/1-migrate.yaml, DIR/2-user-service.yaml, DIR/3-post-service.yaml
// (each: the ConfigMaps its pod references, then the pod or Deployment; play
// them in this order: the Deployments' init containers wait for the schema
// the migration pod brings), DIR/secret-<name>.json, DIR/secrets.txt (the
// secret names, one a line), DIR/rewrites.txt, and
// DIR/env-<container>.env (`podman run --env-file` form: the literal env of
// the user-service and post-service containers as rendered, ConfigMaps
// resolved), for the plain `podman run` test.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { importTool, ref, renderKustomization } from "./lib/env.mjs";
import { Render, podSpec } from "./lib/render.mjs";

const { values } = parseArgs({
  options: {
    overlay: { type: "string" },
    database: { type: "string" },
    "user-service-ip": { type: "string" },
    out: { type: "string" },
  },
});
if (!values.overlay || !values.database || !values["user-service-ip"] || !values.out) {
  console.error(
    "usage: kube_play_manifests.mjs --overlay DIR --database HOST:PORT --user-service-ip IP --out DIR",
  );
  process.exit(2);
}

const render = new Render(await renderKustomization(values.overlay));
const yamlModule = await importTool("yaml/dist/index.js");
const YAML = yamlModule.default ?? yamlModule;
const rewrites = [];
const used = new Set();

function mustFind(kind, name) {
  const obj = render.find(kind, name);
  if (!obj) throw new Error(`the render has no ${kind}/${name}`);
  used.add(obj);
  return obj;
}

// kube play (podman 4.3) removes an init container of type "once" as soon
// as it exited, and sometimes finds it still "running" then and fails the
// whole pod; type "always" keeps it (and its log). For a Deployment, podman
// 4.3 reads this annotation from the Deployment's own metadata only.
function keepInitContainers(deployment) {
  deployment.metadata.annotations = {
    ...(deployment.metadata.annotations ?? {}),
    "io.podman.annotations.init.container.type": "always",
  };
  rewrites.push(
    `${ref(deployment)}: annotation io.podman.annotations.init.container.type: always ` +
      `(podman 4.3 races removing "once" init containers)`,
  );
}

function neverPull(what, spec) {
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    c.imagePullPolicy = "Never";
  }
  rewrites.push(`${what}: imagePullPolicy: Never on every container (local images only)`);
}

// podman 4.3's kube play turns every containerPort into a host port of the
// same number (later podman releases changed that twice): in Kubernetes the
// list is informational, so it goes.
function publishNothing(what, spec) {
  const dropped = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) dropped.push(`${c.name}:${p.containerPort}`);
    delete c.ports;
  }
  if (dropped.length > 0) {
    rewrites.push(
      `${what}: ports left out (${dropped.join(", ")}): podman 4.3 would publish them on the host`,
    );
  }
}

// The ConfigMaps and Secrets a pod spec references, by name.
function references(spec) {
  const configMaps = new Set();
  const secrets = new Set();
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) configMaps.add(from.configMapRef.name);
      if (from.secretRef) secrets.add(from.secretRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap) configMaps.add(v.configMap.name);
    if (v.secret) secrets.add(v.secret.secretName);
  }
  return { configMaps, secrets };
}

const secretNames = new Set();

function writeFile(name, objects) {
  const last = objects[objects.length - 1];
  const spec = last.kind === "Pod" ? last.spec : podSpec(last);
  const { configMaps, secrets } = references(spec);
  const docs = [...[...configMaps].map((n) => mustFind("ConfigMap", n)), ...objects];
  for (const s of secrets) secretNames.add(s);
  fs.writeFileSync(path.join(values.out, name), docs.map((d) => YAML.stringify(d)).join("---\n"));
}

// Deep copy, so the render's objects stay as rendered for env files.
const copy = (obj) => JSON.parse(JSON.stringify(obj));

fs.mkdirSync(values.out, { recursive: true });

// 1. The migration Job as a Pod.
const jobs = render.all("Job");
if (jobs.length !== 1) throw new Error(`expected one Job (the migration), found ${jobs.length}`);
const job = jobs[0];
used.add(job);
const migratePod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: job.metadata.name, labels: copy(job.spec.template.metadata?.labels ?? {}) },
  spec: copy(job.spec.template.spec),
};
neverPull(`Pod/${job.metadata.name}`, migratePod.spec);
publishNothing(`Pod/${job.metadata.name}`, migratePod.spec);
rewrites.push(`${ref(job)} -> Pod/${job.metadata.name} of its pod template (kube play runs no Jobs)`);
writeFile("1-migrate.yaml", [migratePod]);

// Secret volumes as hostPath directories holding the Secret's keys, files
// readable by the pod's user: podman 4.3's kube play panics on a secret
// volume (nil pointer dereference) whatever the podman secret holds.
function secretVolumesToHostPaths(where, spec) {
  for (const v of spec.volumes ?? []) {
    if (!v.secret) continue;
    const secret = mustFind("Secret", v.secret.secretName);
    const dir = path.resolve(values.out, `secret-volume-${v.secret.secretName}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const [key, value] of Object.entries(secret.stringData ?? {})) {
      fs.writeFileSync(path.join(dir, key), value, { mode: 0o644 });
    }
    for (const [key, value] of Object.entries(secret.data ?? {})) {
      fs.writeFileSync(path.join(dir, key), Buffer.from(value, "base64"), { mode: 0o644 });
    }
    rewrites.push(`${where}: volume ${v.name} (Secret ${v.secret.secretName}) -> hostPath ${dir}`);
    used.add(secret);
    delete v.secret;
    v.hostPath = { path: dir, type: "Directory" };
  }
}

// 2. user-service as rendered (pulls never).
const userService = copy(mustFind("Deployment", "user-service"));
neverPull("Deployment/user-service", userService.spec.template.spec);
secretVolumesToHostPaths("Deployment/user-service", userService.spec.template.spec);
publishNothing("Deployment/user-service", userService.spec.template.spec);
keepInitContainers(userService);
writeFile("2-user-service.yaml", [userService]);

// 3. post-service, with the headless Service's name resolved by hostAliases.
const postService = copy(mustFind("Deployment", "post-service"));
neverPull("Deployment/post-service", postService.spec.template.spec);
secretVolumesToHostPaths("Deployment/post-service", postService.spec.template.spec);
publishNothing("Deployment/post-service", postService.spec.template.spec);
keepInitContainers(postService);
const postContainer = postService.spec.template.spec.containers.find((c) => c.name === "post-service");
const userServiceAddr = render.containerEnv(postContainer).get("USER_SERVICE_ADDR");
const match = /^dns:\/\/\/([^:/]+):\d+$/.exec(String(userServiceAddr));
if (!match) throw new Error(`USER_SERVICE_ADDR is not dns:///HOST:PORT: ${userServiceAddr}`);
postService.spec.template.spec.hostAliases = [
  ...(postService.spec.template.spec.hostAliases ?? []),
  { ip: values["user-service-ip"], hostnames: [match[1]] },
];
rewrites.push(
  `Deployment/post-service: hostAliases ${match[1]} -> ${values["user-service-ip"]} (no cluster DNS)`,
);
writeFile("3-post-service.yaml", [postService]);

// Secrets as podman secrets, database URLs pointing at --database.
for (const name of secretNames) {
  const secret = mustFind("Secret", name);
  const data = {};
  for (const [key, value] of Object.entries(secret.stringData ?? {})) {
    let v = value;
    if (/^postgres(ql)?:\/\//.test(v)) {
      v = v.replace(/^(postgres(?:ql)?:\/\/(?:[^@/]*@)?)[^/?]+/, `$1${values.database}`);
      rewrites.push(`Secret/${name} ${key}: database host:port -> ${values.database}`);
    }
    data[key] = Buffer.from(v).toString("base64");
  }
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = value;
  fs.writeFileSync(path.join(values.out, `secret-${name}.json`), JSON.stringify(data));
  rewrites.push(`Secret/${name} -> podman secret ${name}`);
}
fs.writeFileSync(path.join(values.out, "secrets.txt"), [...secretNames].map((n) => `${n}\n`).join(""));

// Literal env of the service containers, as rendered.
for (const name of ["user-service", "post-service"]) {
  const deployment = render.find("Deployment", name);
  const container = podSpec(deployment).containers.find((c) => c.name === name);
  const lines = [];
  for (const [k, v] of render.containerEnv(container)) {
    if (typeof v === "string") lines.push(`${k}=${v}\n`);
  }
  fs.writeFileSync(path.join(values.out, `env-${name}.env`), lines.join(""));
}

for (const obj of render.objects) {
  if (!used.has(obj)) rewrites.push(`${ref(obj)}: left out (not part of the two Deployments' pods)`);
}
fs.writeFileSync(path.join(values.out, "rewrites.txt"), rewrites.map((r) => `${r}\n`).join(""));
