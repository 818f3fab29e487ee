// Shared plumbing of the deploy/ checks: where the repository and the npm
// tools are, rendering an overlay with `kubectl kustomize`, and reading
// multi-document YAML into plain objects.
//
// The npm packages (yaml, kubernetes-models) live in the repository's
// git-ignored .local/node_modules (scripts/install-deps.sh installs them);
// MICROBLOG_NODE_MODULES overrides that location. They are imported by
// absolute path because ES modules ignore NODE_PATH.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const K8S_DIR = path.join(REPO_ROOT, "deploy/k8s");

export function nodeModulesDir() {
  const dir = process.env.MICROBLOG_NODE_MODULES || path.join(REPO_ROOT, ".local/node_modules");
  if (!fs.existsSync(path.join(dir, "yaml")) || !fs.existsSync(path.join(dir, "kubernetes-models"))) {
    throw new Error(
      `npm packages 'yaml' and 'kubernetes-models' not found in ${dir}: run scripts/install-deps.sh ` +
        `(or set MICROBLOG_NODE_MODULES)`,
    );
  }
  return dir;
}

// Imports `spec` ("yaml", "kubernetes-models/apps/v1/index.js") from the
// tools' node_modules.
export async function importTool(spec) {
  return import(pathToFileURL(path.join(nodeModulesDir(), spec)).href);
}

// Parses every document of a YAML stream; empty documents are dropped.
export async function parseYamlDocuments(text, source) {
  const mod = await importTool("yaml/dist/index.js");
  const YAML = mod.default ?? mod;
  const docs = YAML.parseAllDocuments(text);
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new Error(`${source}: YAML error: ${doc.errors[0].message}`);
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

// `kubectl kustomize DIR`, parsed. KUBECTL overrides the binary.
export async function renderKustomization(dir) {
  const kubectl = process.env.KUBECTL || "kubectl";
  const text = execFileSync(kubectl, ["kustomize", dir], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseYamlDocuments(text, `kubectl kustomize ${dir}`);
}

export async function readYamlFile(file) {
  return parseYamlDocuments(fs.readFileSync(file, "utf8"), file);
}

// "Kind/name" for messages.
export function ref(obj) {
  return `${obj?.kind}/${obj?.metadata?.name}`;
}
