// Applies sql/compat/ and then the dbmate migrations in supabase/migrations/ to a database.
//
//   import { migrate } from "./lib/migrate.mjs";
//   const { applied, total } = await migrate(url, { quiet: true });
//
// Steps, all idempotent:
//   1. check that the server answers (a DatabaseError "cannot connect to ..." otherwise);
//   2. run every file of sql/compat/ in name order with psql (Supabase roles and auth.*);
//   3. create schema `payments_private` (dbmate keeps its table payments_private.schema_migrations
//      there, out of `payments`, which an app may expose through its API);
//   4. `dbmate up` with --no-dump-schema; the URL reaches dbmate through its environment,
//      never its command line.

import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { describeUrl, parseDatabaseUrl, withLocalSslmode } from "./db_url.mjs";
import { DatabaseError, psql } from "./postgres_tools.mjs";
import { run } from "./process.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const MIGRATIONS_TABLE = "payments_private.schema_migrations";
const URL_VARIABLE = "PGPAYMENTS_DBMATE_URL";

export { DatabaseError };

/** The database URL from DATABASE_URL, else SUPABASE_DB_URL; undefined when neither is set. */
export function databaseUrlFromEnv(env = process.env) {
  return env.DATABASE_URL || env.SUPABASE_DB_URL || undefined;
}

/** Migration files (`*.sql`) in a directory, sorted by name. */
export function migrationFiles(dir = join(ROOT, "supabase", "migrations")) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => name.endsWith(".sql")).sort();
}

async function appliedVersions(url) {
  const exists = await psql(url, { sql: `select to_regclass('${MIGRATIONS_TABLE}') is not null` });
  if (exists.trim() !== "t") return new Set();
  const output = await psql(url, { sql: `select version from ${MIGRATIONS_TABLE}` });
  return new Set(output.split("\n").map((line) => line.trim()).filter(Boolean));
}

/**
 * Migrates the database at `url`.
 * @param {string} url postgres:// URL
 * @param {{quiet?: boolean, root?: string, log?: (line: string) => void}} options
 *   `quiet`: print nothing (dbmate's output is kept for the error's details).
 * @returns {Promise<{applied: string[], total: number}>} the versions applied by this run and the
 *   number of migration files.
 * @throws {DatabaseError} with a one-line message
 */
export async function migrate(url, options = {}) {
  const { quiet = false, root = ROOT } = options;
  const log = options.log ?? ((line) => console.log(line));
  const say = (line) => {
    if (!quiet) log(line);
  };
  parseDatabaseUrl(url);
  const where = describeUrl(url);

  await psql(url, { sql: "select 1" });

  const compatDir = join(root, "sql", "compat");
  const compatFiles = existsSync(compatDir)
    ? readdirSync(compatDir).filter((name) => name.endsWith(".sql")).sort()
    : [];
  for (const name of compatFiles) {
    await psql(url, { file: join(compatDir, name) });
  }
  await psql(url, { sql: "create schema if not exists payments_private" });

  const migrationsDir = join(root, "supabase", "migrations");
  const files = migrationFiles(migrationsDir);
  if (files.length === 0) {
    say(`db:migrate: no migrations in supabase/migrations; ${where} has the compat layer only`);
    return { applied: [], total: 0 };
  }
  const before = await appliedVersions(url);
  const versionOf = (name) => name.match(/^(\d+)/)?.[1] ?? name;
  const pending = files.filter((name) => !before.has(versionOf(name)));
  if (pending.length === 0) {
    say(`db:migrate: nothing pending; all ${files.length} migrations already applied to ${where}`);
    return { applied: [], total: files.length };
  }

  const dbmate = join(root, "node_modules", ".bin", "dbmate");
  if (!existsSync(dbmate)) {
    throw new DatabaseError("dbmate not found in node_modules/.bin. Run: npm ci");
  }
  const env = { ...process.env, [URL_VARIABLE]: withLocalSslmode(url) };
  const result = await run(dbmate, [
    "--env",
    URL_VARIABLE,
    "--env-file",
    "/dev/null",
    "--migrations-dir",
    migrationsDir,
    "--migrations-table",
    MIGRATIONS_TABLE,
    "--no-dump-schema",
    "up",
  ], { env, cwd: root, stream: quiet ? false : "stdout" });
  if (result.code !== 0) {
    const errorLine = result.output.split("\n").find((line) => /^Error:/.test(line));
    const reason = errorLine?.replace(/^Error:\s*/, "").trim() ||
      result.stderr.trim().split("\n")[0] || `dbmate exited with ${result.code}`;
    throw new DatabaseError(
      `migration failed on ${where}: ${reason}`,
      result.output,
    );
  }
  const after = await appliedVersions(url);
  const applied = [...after].filter((version) => !before.has(version)).sort();
  say(`db:migrate: applied ${applied.length} migration(s) to ${where}`);
  return { applied, total: files.length };
}
