import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * The package as a user gets it: packed, installed into a fresh TypeScript project, and every example of docs/api.md
 * compiled under `strict` against the published declarations and run.
 */
const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const project = mkdtempSync(join(tmpdir(), "threatlens-consumer-"));
after(() => rmSync(project, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const examples = [
  ...readFileSync(join(root, "docs", "api.md"), "utf8").matchAll(/```ts example=(\w+)\n([\s\S]*?)```/g),
].map((m) => ({ name: m[1], code: m[2] }));

before(() => {
  execFileSync(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
    },
  );
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", project], {
      cwd: root,
      encoding: "utf8",
    }),
  );
  const tarball = join(project, packed[0].filename);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: false,
        types: ["node"],
        outDir: "out",
      },
      include: ["*.ts"],
    }),
  );
  execFileSync(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      tarball,
      `typescript@${pkg.devDependencies.typescript}`,
      `@types/node@${pkg.devDependencies["@types/node"]}`,
    ],
    { cwd: project, stdio: "pipe" },
  );
});

describe("the packed package in a fresh TypeScript project", () => {
  test("docs/api.md has an example per namespace", () => {
    assert.ok(examples.length >= 2, "examples found");
    for (const e of examples) assert.match(e.code, /from "threatlens"/);
  });

  test("every example compiles under strict with the published declarations, and runs", () => {
    for (const e of examples) writeFileSync(join(project, `${e.name}.ts`), e.code);
    const tsc = spawnSync(
      process.execPath,
      [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      {
        cwd: project,
        encoding: "utf8",
      },
    );
    assert.equal(tsc.status, 0, `tsc:\n${tsc.stdout}${tsc.stderr}`);
    for (const e of examples) {
      const run = spawnSync(process.execPath, [join(project, "out", `${e.name}.js`)], {
        cwd: project,
        encoding: "utf8",
      });
      assert.equal(run.status, 0, `${e.name}: ${run.stderr}`);
      assert.match(run.stdout, /example ok/, e.name);
    }
  });

  test("internals are not importable: only the entry point is exported", () => {
    writeFileSync(join(project, "deep.mjs"), 'await import("threatlens/dist/ransomware/features.js");\n');
    const run = spawnSync(process.execPath, [join(project, "deep.mjs")], { cwd: project, encoding: "utf8" });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  test("the CLI is installed as a bin", () => {
    const run = spawnSync(join(project, "node_modules", ".bin", "threatlens"), ["--version"], {
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), pkg.version);
  });
});
