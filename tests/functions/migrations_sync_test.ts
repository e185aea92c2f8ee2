// sql/migrations/ (applied by dbmate) and supabase/migrations/ (applied by `supabase db push`)
// must hold the same files, byte for byte, and every file must be a forward-only migration that
// both tools accept.

import assert from "node:assert/strict";

const sqlDir = new URL("../../sql/migrations/", import.meta.url);
const supabaseDir = new URL("../../supabase/migrations/", import.meta.url);
const NAME = /^\d{14}_[a-z0-9_]+\.sql$/;
const UP = /^--\s*migrate:up\b.*$/;
const DOWN = /^--\s*migrate:down\b.*$/;

async function fileNames(dir: URL): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) names.push(entry.name);
  }
  return names.sort();
}

function sqlMigrationNames(): Promise<string[]> {
  return fileNames(sqlDir);
}

Deno.test("sql/migrations holds at least one migration", async () => {
  const names = await sqlMigrationNames();
  assert.ok(names.length > 0, "sql/migrations/ has no files");
});

Deno.test("supabase/migrations holds exactly the files of sql/migrations", async () => {
  assert.deepEqual(await fileNames(supabaseDir), await sqlMigrationNames());
});

Deno.test("supabase/migrations files are byte-identical to sql/migrations", async () => {
  for (const name of await sqlMigrationNames()) {
    const original = await Deno.readFile(new URL(name, sqlDir));
    const copy = await Deno.readFile(new URL(name, supabaseDir)).catch(() => null);
    assert.ok(copy !== null, `supabase/migrations/${name} is missing`);
    assert.ok(
      original.length === copy.length && original.every((byte, i) => byte === copy[i]),
      `supabase/migrations/${name} differs from sql/migrations/${name}`,
    );
  }
});

Deno.test("migration file names are YYYYMMDDHHMMSS_snake_case.sql and unique by version", async () => {
  const names = await sqlMigrationNames();
  for (const name of names) {
    assert.match(name, NAME, `sql/migrations/${name} is not named YYYYMMDDHHMMSS_name.sql`);
  }
  const versions = names.map((name) => name.slice(0, 14));
  assert.equal(new Set(versions).size, versions.length, "two migrations share a version");
});

Deno.test("every migration has -- migrate:up and an empty -- migrate:down", async () => {
  for (const name of await sqlMigrationNames()) {
    const lines = (await Deno.readTextFile(new URL(name, sqlDir))).split(/\r?\n/);
    const ups = lines.flatMap((line, i) => UP.test(line) ? [i] : []);
    const downs = lines.flatMap((line, i) => DOWN.test(line) ? [i] : []);
    assert.equal(ups.length, 1, `${name}: expected one "-- migrate:up" line`);
    assert.equal(downs.length, 1, `${name}: expected one "-- migrate:down" line`);
    assert.ok(ups[0] < downs[0], `${name}: "-- migrate:down" comes before "-- migrate:up"`);
    const upBody = lines.slice(ups[0] + 1, downs[0]).filter((line) => !isBlankOrComment(line));
    assert.ok(upBody.length > 0, `${name}: the "-- migrate:up" section is empty`);
    const downBody = lines.slice(downs[0] + 1).filter((line) => !isBlankOrComment(line));
    assert.deepEqual(
      downBody,
      [],
      `${name}: migrations are forward-only; "-- migrate:down" must be followed by nothing ` +
        "but blank lines and comments",
    );
  }
});

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === "" || trimmed.startsWith("--");
}
