// What `supabase functions deploy payments` needs, checked without the network: the entry point
// and import map named in config.toml exist, and the import map resolves every package the
// function's code imports, at the versions the tests run.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

function functionFiles(): string[] {
  const files = ["supabase/functions/payments/index.ts"];
  for (const entry of Deno.readDirSync(new URL("functions/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(`functions/${entry.name}`);
  }
  return files;
}

function bareImports(source: string): string[] {
  const specifiers = [...source.matchAll(/^\s*(?:import|export)[^"';]*?from\s+"([^"]+)"/gm)]
    .map((match) => match[1]);
  return specifiers.filter((specifier) =>
    !specifier.startsWith(".") && !specifier.startsWith("node:")
  );
}

Deno.test("config.toml points at the entry point and import map, with verify_jwt off", () => {
  const config = read("supabase/config.toml");
  assert.match(config, /\[functions\.payments\]/);
  assert.match(config, /verify_jwt = false/);
  const entrypoint = /entrypoint = "\.\/([^"]+)"/.exec(config)?.[1];
  const importMap = /import_map = "\.\/([^"]+)"/.exec(config)?.[1];
  assert.ok(entrypoint && importMap, "entrypoint and import_map are set");
  assert.ok(Deno.statSync(new URL(`supabase/${entrypoint}`, ROOT)).isFile);
  assert.ok(Deno.statSync(new URL(`supabase/${importMap}`, ROOT)).isFile);
});

Deno.test("the function's import map resolves every package its code imports, as the tests do", () => {
  const deployed = JSON.parse(read("supabase/functions/payments/deno.json")).imports;
  const tested = JSON.parse(read("deno.json")).imports;
  const used = new Set(functionFiles().flatMap((file) => bareImports(read(file))));
  assert.ok(used.size > 0);
  for (const specifier of used) {
    assert.ok(deployed[specifier], `${specifier} is in supabase/functions/payments/deno.json`);
    assert.equal(deployed[specifier], tested[specifier], `${specifier} has the tested version`);
  }
  assert.deepEqual(
    Object.keys(deployed).sort(),
    [...used].sort(),
    "the import map lists nothing unused",
  );
});
