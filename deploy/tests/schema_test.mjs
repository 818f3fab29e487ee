// deploy.schema.*: every object of a rendered overlay (or of a YAML file)
// validates against the Kubernetes API schema, unknown fields included.
//
//   node deploy/tests/schema_test.mjs deploy/k8s/overlays/prod [more dirs or .yaml files]

import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";

import { readYamlFile, ref, renderKustomization } from "./lib/env.mjs";
import { SchemaValidator } from "./lib/schema.mjs";

const inputs = process.argv.slice(2);
if (inputs.length === 0) {
  console.error("usage: schema_test.mjs <kustomization dir | yaml file>...");
  process.exit(2);
}

const validator = await SchemaValidator.load();
const CUSTOM_RESOURCE_GROUPS = ["cert-manager.io"];

for (const input of inputs) {
  test(`objects of ${input} validate against the Kubernetes API schema`, async (t) => {
    const objects = fs.statSync(input).isDirectory()
      ? await renderKustomization(input)
      : await readYamlFile(input);
    assert.ok(objects.length > 0, `${input} renders no object`);
    for (const obj of objects) {
      // Custom resources have no schema in kubernetes-models: cert-manager's
      // Certificates and Issuers (components/cert-manager) are checked by
      // deploy.manifests.* (checkCertificates) instead.
      const custom = CUSTOM_RESOURCE_GROUPS.find((group) => (obj.apiVersion ?? "").startsWith(`${group}/`));
      await t.test(ref(obj), { skip: custom && `custom resource of ${custom}, no API schema here` }, async () => {
        assert.deepEqual(await validator.validate(obj), []);
      });
    }
  });
}
