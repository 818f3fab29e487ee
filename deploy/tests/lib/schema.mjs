// Validates Kubernetes objects against the API's OpenAPI schema, offline.
//
// Two layers:
//  1. kubernetes-models' generated validators (the API schema compiled with
//     ajv): types, enums, required fields, formats.
//  2. A strict unknown-field check, like `kubectl apply --validate=strict`:
//     the generated validators accept any extra property, so a typo such as
//     `readinesProbe` would pass them and be silently dropped by the API
//     server. The property names per type come from the models' TypeScript
//     declarations (.d.ts), which are generated from the same OpenAPI spec.
//
//   const validator = await SchemaValidator.load();
//   const problems = await validator.validate(object);  // [] when valid

import fs from "node:fs";
import path from "node:path";

import { importTool, nodeModulesDir, ref } from "./env.mjs";

// Interface name (e.g. IIoK8sApiCoreV1Container) -> Map(property -> type text).
function indexDeclarations(roots) {
  const interfaces = new Map();
  const topLevel = new Map(); // "apps/v1 Deployment" -> interface name
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".d.ts")) indexFile(fs.readFileSync(full, "utf8"));
    }
  };
  const indexFile = (text) => {
    const decl = /export interface (\w+)(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/m.exec(text);
    if (!decl) return;
    const alias = new RegExp(`export type \\{ ${decl[1]} as (\\w+)`).exec(text);
    const name = alias ? alias[1] : decl[1];
    const props = parseProperties(decl[2]);
    interfaces.set(name, props);
    const apiVersion = props.get("apiVersion");
    const kind = props.get("kind");
    if (apiVersion && kind && /^"/.test(apiVersion) && /^"/.test(kind)) {
      topLevel.set(`${JSON.parse(apiVersion)} ${JSON.parse(kind)}`, name);
    }
  };
  for (const root of roots) walk(root);
  return { interfaces, topLevel };
}

// Interface body -> Map(property -> type text). Skips doc comments; joins
// multi-line types (inline maps) by brace depth.
function parseProperties(body) {
  const props = new Map();
  const lines = body.split("\n").filter((line) => !/^\s*(\/\*\*|\*)/.test(line));
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*"([^"]+)"\??: (.*)$/.exec(lines[i]);
    if (!match) continue;
    let type = match[2];
    let depth = (type.match(/\{/g) || []).length - (type.match(/\}/g) || []).length;
    while (depth > 0 && i + 1 < lines.length) {
      const next = lines[++i].trim();
      type += " " + next;
      depth += (next.match(/\{/g) || []).length - (next.match(/\}/g) || []).length;
    }
    props.set(match[1], type.replace(/;$/, "").trim());
  }
  return props;
}

// The object as the API server decodes it, where that differs from the
// text: a Secret's `data` values are base64 that Go's decoder reads with
// line breaks skipped, and kustomize's secretGenerator wraps long values
// (the dev overlay's certificates) over several lines.
function apiServerView(obj) {
  if (obj.kind !== "Secret" || !obj.data || typeof obj.data !== "object") return obj;
  const data = Object.fromEntries(
    Object.entries(obj.data).map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v]),
  );
  return { ...obj, data };
}

export class SchemaValidator {
  constructor(declarations) {
    this.interfaces = declarations.interfaces;
    this.topLevel = declarations.topLevel;
  }

  static async load() {
    const modules = nodeModulesDir();
    return new SchemaValidator(
      indexDeclarations([
        path.join(modules, "kubernetes-models"),
        path.join(modules, "@kubernetes-models/apimachinery"),
      ]),
    );
  }

  // Problems of one object, as "Kind/name: message" strings.
  async validate(obj) {
    const where = ref(obj);
    if (typeof obj?.apiVersion !== "string" || typeof obj?.kind !== "string") {
      return [`${where}: apiVersion and kind are required`];
    }
    const model = await this.modelClass(obj.apiVersion, obj.kind);
    if (!model) return [`${where}: ${obj.apiVersion} ${obj.kind} is not a known API type`];
    const problems = [];
    try {
      new model(apiServerView(obj)).validate();
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
    }
    const top = this.topLevel.get(`${obj.apiVersion} ${obj.kind}`);
    if (!top) {
      problems.push(`${where}: no field declarations for ${obj.apiVersion} ${obj.kind}`);
    } else {
      this.checkFields(obj, top, "", (message) => problems.push(`${where}: ${message}`));
    }
    return problems;
  }

  async modelClass(apiVersion, kind) {
    // "v1" -> kubernetes-models/v1, "apps/v1" -> kubernetes-models/apps/v1.
    const file = path.join(nodeModulesDir(), "kubernetes-models", apiVersion, "index.js");
    if (!fs.existsSync(file)) return undefined;
    const group = await importTool(`kubernetes-models/${apiVersion}/index.js`);
    return group[kind];
  }

  // Reports properties the type does not declare, recursively.
  checkFields(value, typeName, at, report) {
    const props = this.interfaces.get(typeName);
    if (!props || value === null || typeof value !== "object" || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const type = props.get(key);
      if (type === undefined) {
        report(`unknown field "${at}${key}" (not in ${typeName.replace(/^IIoK8s/, "")})`);
        continue;
      }
      this.checkType(child, type, `${at}${key}`, report);
    }
  }

  checkType(value, type, at, report) {
    const array = /^Array<(\w+)>$/.exec(type);
    if (array) {
      if (Array.isArray(value)) value.forEach((item, i) => this.checkFields(item, array[1], `${at}[${i}].`, report));
      return;
    }
    const map = /^\{ \[key: string\]: (\w+); \}$/.exec(type);
    if (map) {
      if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) this.checkFields(v, map[1], `${at}.${k}.`, report);
      }
      return;
    }
    if (this.interfaces.has(type)) this.checkFields(value, type, `${at}.`, report);
  }
}
