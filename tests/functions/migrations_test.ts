// supabase/migrations/ is the one migrations directory (dbmate and the Supabase CLI both read it).
// Migrations are released: forward-only, and a released file never changes. Its SHA-256 is in
// supabase/released_migrations.sha256 (`sha256sum` format); a change goes in a new, later file,
// which joins the manifest when it is released.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";

const dir = new URL("../../supabase/migrations/", import.meta.url);
const manifest = new URL("../../supabase/released_migrations.sha256", import.meta.url);
const NAME = /^\d{14}_[a-z0-9_]+\.sql$/;
const UP = /^--\s*migrate:up\b.*$/;
const DOWN = /^--\s*migrate:down\b.*$/;
const MAX_LINES = 450;

async function migrationNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) names.push(entry.name);
  }
  return names.sort();
}

async function released(): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  for (const line of (await Deno.readTextFile(manifest)).split("\n")) {
    if (line.trim() === "") continue;
    const match = /^([0-9a-f]{64}) [ *](\S+)$/.exec(line);
    assert.ok(match, `released_migrations.sha256: malformed line "${line}"`);
    entries.set(match[2], match[1]);
  }
  return entries;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

Deno.test("supabase/migrations holds at least one migration", async () => {
  assert.ok((await migrationNames()).length > 0, "supabase/migrations/ has no files");
});

Deno.test("migration file names are YYYYMMDDHHMMSS_snake_case.sql and unique by version", async () => {
  const names = await migrationNames();
  for (const name of names) {
    assert.match(name, NAME, `supabase/migrations/${name} is not named YYYYMMDDHHMMSS_name.sql`);
  }
  const versions = names.map((name) => name.slice(0, 14));
  assert.equal(new Set(versions).size, versions.length, "two migrations share a version");
});

Deno.test("every migration has -- migrate:up and an empty -- migrate:down", async () => {
  for (const name of await migrationNames()) {
    const lines = (await Deno.readTextFile(new URL(name, dir))).split(/\r?\n/);
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

Deno.test(`every migration holds one concern in at most ${MAX_LINES} lines`, async () => {
  for (const name of await migrationNames()) {
    const lines = (await Deno.readTextFile(new URL(name, dir))).split("\n").length;
    assert.ok(lines <= MAX_LINES, `${name} has ${lines} lines; split it by concern`);
  }
});

Deno.test("a released migration never changes: its SHA-256 matches the manifest", async () => {
  const manifestEntries = await released();
  assert.ok(manifestEntries.size > 0, "released_migrations.sha256 lists no migration");
  for (const [name, hash] of manifestEntries) {
    const bytes = await Deno.readFile(new URL(name, dir)).catch(() => null);
    assert.ok(bytes !== null, `released migration ${name} was removed; add a new one instead`);
    assert.equal(
      sha256(bytes),
      hash,
      `released migration ${name} was edited; revert it and put the change in a new migration`,
    );
  }
});

Deno.test("new migrations come after every released one", async () => {
  const manifestEntries = await released();
  const newest = [...manifestEntries.keys()].sort().at(-1)!;
  for (const name of await migrationNames()) {
    if (manifestEntries.has(name)) continue;
    assert.ok(
      name > newest,
      `${name} is not released yet sorts before released ${newest}; give it a later version`,
    );
  }
});

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === "" || trimmed.startsWith("--");
}
