// deploy.image_libs: the images' runtime stage installs every shared
// library the built binaries load. No Docker engine is needed: the check
// maps each library `ldd` reports to its Debian package (`dpkg -S`, on this
// Debian 12 build machine, which matches the images' debian:12-slim) and
// compares with the packages the Dockerfile's stages install along each
// image's FROM chain, plus their dependencies as apt would install them
// (Depends/Pre-Depends, recursively, read with dpkg-query).
//
//   node deploy/tests/image_libs_test.mjs --dockerfile deploy/Dockerfile \
//       --image user-service=build/release/user-service/user-service \
//       --image post-service=... --image migrate=...

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { test } from "node:test";

const { values } = parseArgs({
  options: {
    dockerfile: { type: "string" },
    image: { type: "string", multiple: true, default: [] },
  },
});
if (!values.dockerfile || values.image.length === 0) {
  console.error("usage: image_libs_test.mjs --dockerfile FILE --image STAGE=BINARY...");
  process.exit(2);
}
const images = values.image.map((spec) => {
  const [stage, binary] = spec.split("=");
  return { stage, binary };
});

// --- Dockerfile --------------------------------------------------------------

// Stages: [{name, base, instructions: [{op, args}]}]; `base` is the FROM
// argument (another stage's name or an image).
export function parseDockerfile(text) {
  const logical = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+$/, "");
    if (current === "" && /^\s*(#|$)/.test(line)) continue;
    if (/^\s*#/.test(line)) continue; // comment inside a continued instruction
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    logical.push((current + line).trim());
    current = "";
  }
  if (current.trim()) logical.push(current.trim());
  const stages = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === "FROM") {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2].trim());
      stages.push({ name: from[2] ?? `#${stages.length}`, base: from[1], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ op, args: m[2] });
    }
  }
  return stages;
}

// Package names of every `apt-get install` in a RUN command.
export function aptInstalls(run) {
  const packages = [];
  for (const command of run.split(/&&|;|\|\|/)) {
    const words = command.trim().split(/\s+/);
    const at = words.findIndex((w, i) => /(^|\/)apt(-get)?$/.test(w) && words[i + 1] === "install");
    if (at < 0) continue;
    for (const word of words.slice(at + 2)) {
      if (word.startsWith("-")) continue;
      packages.push(word.replace(/[=:].*$/, ""));
    }
  }
  return packages;
}

// The chain of stages `target` is built from, itself first.
function stageChain(stages, target) {
  const chain = [];
  let stage = stages.find((s) => s.name === target);
  while (stage) {
    chain.push(stage);
    stage = stages.find((s) => s.name === stage.base && !chain.includes(s));
  }
  return chain;
}

export function installedAlongChain(stages, target) {
  const packages = new Set();
  for (const stage of stageChain(stages, target)) {
    for (const { op, args } of stage.instructions) {
      if (op === "RUN") aptInstalls(args).forEach((p) => packages.add(p));
    }
  }
  return packages;
}

// --- Debian packages ---------------------------------------------------------

// Installed package -> its Depends + Pre-Depends (first alternative of each,
// as apt would pick it), read once with one dpkg-query call.
let dependencyIndex;
function dependencies(pkg) {
  if (!dependencyIndex) {
    dependencyIndex = new Map();
    const out = execFileSync("dpkg-query", ["-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    for (const line of out.split("\n")) {
      const [name, deps] = line.split("\t");
      if (!name) continue;
      const names = (deps ?? "")
        .split(",")
        .map((dep) => dep.split("|")[0].trim().replace(/\s*\(.*\)$/, "").replace(/:any$/, ""))
        .filter(Boolean);
      dependencyIndex.set(name, [...(dependencyIndex.get(name) ?? []), ...names]);
    }
  }
  return dependencyIndex.get(pkg) ?? []; // virtual or not installed: nothing
}

// What apt installs for `packages`: them and their dependency closure.
export function closure(packages) {
  const seen = new Set();
  const queue = [...packages];
  while (queue.length > 0) {
    const pkg = queue.pop();
    if (seen.has(pkg)) continue;
    seen.add(pkg);
    queue.push(...dependencies(pkg));
  }
  return seen;
}

// Library file -> the package that ships it, for many files in one `dpkg -S`
// call. dpkg knows the path it unpacked, which with Debian 12's merged /usr
// may be the /lib or the /usr/lib spelling of what ldd printed, or the
// symlink's target, so every spelling is asked for.
function owningPackages(files) {
  const spellings = new Map(); // file -> candidate paths
  for (const file of files) {
    const candidates = new Set([file]);
    try {
      candidates.add(fs.realpathSync(file));
    } catch {}
    for (const c of [...candidates]) {
      if (c.startsWith("/usr/lib/")) candidates.add(c.slice(4));
      else if (c.startsWith("/lib")) candidates.add("/usr" + c);
    }
    spellings.set(file, [...candidates]);
  }
  const all = [...new Set([...spellings.values()].flat())];
  // Exit status 1 just means some spellings are unknown.
  const result = spawnSync("dpkg", ["-S", ...all], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const owner = new Map();
  for (const line of result.stdout.split("\n")) {
    if (!line || line.startsWith("diversion")) continue;
    const at = line.lastIndexOf(": ");
    owner.set(line.slice(at + 2), line.slice(0, at).split(",")[0].trim().replace(/:.*$/, ""));
  }
  const out = new Map();
  for (const [file, candidates] of spellings) {
    const found = candidates.map((c) => owner.get(c)).find(Boolean);
    if (found) out.set(file, found);
  }
  return out;
}

// [{library, file}] from `ldd binary`; "not found" libraries have no file.
function sharedLibraries(binary) {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  const libs = [];
  for (const line of out.split("\n")) {
    let m = /^\s*(\S+) => (\S+|not found)/.exec(line);
    if (m) {
      libs.push({ library: m[1], file: m[2] === "not found" ? undefined : m[2] });
      continue;
    }
    m = /^\s*(\/\S+) \(0x/.exec(line); // the dynamic loader
    if (m) libs.push({ library: path.basename(m[1]), file: m[1] });
  }
  return libs;
}

// Problems: libraries of `binary` that `installed` (closure) lacks.
function missingLibraries(libraryPackages, available) {
  return libraryPackages
    .filter(({ pkg }) => !available.has(pkg))
    .map(({ library, file, pkg }) => `${library} (${file}) comes from ${pkg}, which the image does not install`);
}

// --- Tests -------------------------------------------------------------------

const SANITIZER_RUNTIME = /^lib(asan|ubsan|lsan|tsan|hwasan)\.so/;

const stages = parseDockerfile(fs.readFileSync(values.dockerfile, "utf8"));

for (const { stage, binary } of images) {
  test(`${stage} image: every library ${path.basename(binary)} loads is installed`, () => {
    assert.ok(stages.some((s) => s.name === stage), `no stage named ${stage} in ${values.dockerfile}`);
    const copies = stageChain(stages, stage)
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "COPY" && i.args.split(/\s+/).some((w) => path.basename(w) === path.basename(binary)));
    assert.ok(copies.length > 0, `stage ${stage} does not COPY ${path.basename(binary)}`);

    const listed = installedAlongChain(stages, stage);
    assert.ok(listed.size > 0, `stage ${stage} installs no package`);
    const available = closure(listed);

    // A sanitizer build (the `dev` preset) also loads the sanitizer
    // runtimes; the images hold `release` builds, which do not.
    const libs = sharedLibraries(binary).filter((l) => !SANITIZER_RUNTIME.test(l.library));
    assert.ok(libs.length > 0, `ldd found no shared library in ${binary}`);
    const unresolved = libs.filter((l) => !l.file).map((l) => `${l.library}: not found on the build machine`);
    assert.deepEqual(unresolved, []);
    const owners = owningPackages(libs.map((l) => l.file));
    const libraryPackages = libs.map((l) => ({ ...l, pkg: owners.get(l.file) ?? `<no package owns ${l.file}>` }));
    assert.deepEqual(missingLibraries(libraryPackages, available), []);

    // The check can fail: dropping a package the binary needs directly
    // from the list must make it fail (otherwise the list only holds
    // things the base image has anyway, and this test proves nothing).
    const needed = new Set(libraryPackages.map((l) => l.pkg));
    const essential = [...listed].filter((pkg) => {
      if (!needed.has(pkg)) return false;
      const without = closure([...listed].filter((p) => p !== pkg));
      return missingLibraries(libraryPackages, without).length > 0;
    });
    assert.ok(essential.length > 0, `removing any one listed package still passes: ${[...listed].join(" ")}`);
    console.log(`# ${stage}: ${libs.length} libraries from ${needed.size} packages; ` +
      `listed and needed directly: ${essential.join(" ")}`);
  });
}

test("Dockerfile parsing finds the runtime stage's packages", () => {
  const parsed = parseDockerfile("FROM a AS x\nRUN apt-get update \\\n # c\n && apt-get install -y --no-install-recommends \\\n p1 \\\n p2=1.0 && rm -rf y\nFROM x AS z\nRUN true\n");
  assert.deepEqual([...installedAlongChain(parsed, "z")], ["p1", "p2"]);
});
