// A rendered overlay as a queryable set of objects: lookups by kind and
// name, pod templates of workloads, the effective environment of a
// container (env literals plus envFrom ConfigMaps of the same render).

import { ref } from "./env.mjs";

// CronJobs count as workloads: their pod template
// (spec.jobTemplate.spec.template) gets every check a Deployment's gets.
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);

export class Render {
  constructor(objects) {
    this.objects = objects;
  }

  all(kind) {
    return this.objects.filter((o) => o.kind === kind);
  }

  find(kind, name) {
    return this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
  }

  // The namespace every namespaced object is in ("" when none is set).
  get namespace() {
    const namespaced = this.objects.filter((o) => o.kind !== "Namespace");
    return namespaced[0]?.metadata?.namespace ?? "";
  }

  workloads() {
    return this.objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  }

  // [{workload, container, init}] over every container of every workload.
  containers() {
    const out = [];
    for (const workload of this.workloads()) {
      const spec = podSpec(workload);
      for (const c of spec.initContainers ?? []) out.push({ workload, container: c, init: true });
      for (const c of spec.containers ?? []) out.push({ workload, container: c, init: false });
    }
    return out;
  }

  // name -> literal value, for env entries with `value` and for every key
  // of ConfigMaps named in envFrom. Secret-backed variables map to
  // {secret, key} so callers can tell them apart.
  containerEnv(container) {
    const env = new Map();
    for (const source of container.envFrom ?? []) {
      const cm = source.configMapRef && this.find("ConfigMap", source.configMapRef.name);
      for (const [k, v] of Object.entries(cm?.data ?? {})) env.set((source.prefix ?? "") + k, v);
    }
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env.set(e.name, e.value);
      else if (e.valueFrom?.secretKeyRef) {
        env.set(e.name, { secret: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key });
      }
    }
    return env;
  }
}

// The pod template of a workload: spec.template, or for a CronJob the one
// of its Job template.
export function podTemplate(workload) {
  const spec = workload?.kind === "CronJob" ? workload?.spec?.jobTemplate?.spec : workload?.spec;
  return spec?.template ?? {};
}

export function podSpec(workload) {
  return podTemplate(workload).spec ?? {};
}

export function podLabels(workload) {
  return podTemplate(workload).metadata?.labels ?? {};
}

export { ref };
