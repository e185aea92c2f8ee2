// A throwaway database shaped like a Supabase project's, built from Supabase's own published
// setup SQL (vendored in tests/vendor/supabase/, see its README).
//
//   import { startSupabaseCluster } from "./lib/supabase_shape.mjs";
//   const db = await startSupabaseCluster();  // {url, adminUrl, port, stop()}
//   // db.url: database `postgres` as the NON-superuser `postgres` role, its owner (as on Supabase)
//   // db.adminUrl: the same database as the superuser `supabase_admin`
//   db.stop();
//
// The order is Supabase's own (migrations/db/migrate.sh): a cluster whose bootstrap superuser is
// `supabase_admin`; `postgres` created as a superuser owning database `postgres`; the init
// scripts run as `postgres`; the migrations run as `supabase_admin`, the first of which demotes
// `postgres` to NOSUPERUSER. Then what Supabase's services add at runtime and is not packaged
// here: the Auth server's current auth.* functions and a Vault stand-in (stand-ins/).

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { startCluster } from "./cluster.mjs";
import { libpqEnv } from "./db_url.mjs";
import { ROOT } from "./migrate.mjs";
import { DatabaseError, findPsql, psql } from "./postgres_tools.mjs";
import { run } from "./process.mjs";

export const SUPABASE_FIXTURE_DIR = join(ROOT, "tests", "vendor", "supabase");

// The edits this repository makes to Supabase's setup (listed in the fixture's README), applied
// here so that the vendored files stay byte for byte as published.
const EDITS = {
  // pgjwt is not packaged for PostgreSQL 15 on Debian, and nothing here uses it.
  skipLine: /^create extension if not exists pgjwt\b.*$/im,
  // On Supabase these roles come with the pgsodium extension, which is not packaged here; the
  // migrations grant them to `postgres` and `service_role` only if they exist (one does so
  // unconditionally).
  rolesFirst: ["pgsodium_keyholder", "pgsodium_keyiduser", "pgsodium_keymaker"],
};

function sqlFiles(dir) {
  return readdirSync(dir).filter((name) => name.endsWith(".sql")).sort().map((name) =>
    join(dir, name)
  );
}

function asUser(url, user) {
  const parsed = new URL(url);
  parsed.username = user;
  return parsed.toString();
}

/** A file's text with this repository's edits; `name` is the path shown in errors. */
function script(path) {
  let text = readFileSync(path, "utf8");
  text = text.replace(EDITS.skipLine, "-- (skipped here: pgjwt is not packaged)");
  return { name: relative(ROOT, path), text: text.endsWith("\n") ? text : `${text}\n` };
}

/**
 * Runs scripts one after another in one psql session (one connection instead of one per file,
 * which halves the build time); each statement still commits on its own, as with `psql -f`.
 * An error names the file and line it came from.
 */
async function runScripts(url, scripts) {
  const env = libpqEnv(url, process.env);
  env.PGOPTIONS = "-c client_min_messages=warning";
  const starts = [];
  let line = 1;
  for (const { name, text } of scripts) {
    starts.push({ name, line });
    line += text.split("\n").length - 1;
  }
  const result = await run(findPsql() ?? "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"], {
    env,
    input: scripts.map(({ text }) => text).join(""),
  });
  if (result.code === 0) return;
  const errorLine = result.stderr.split("\n").find((l) => /ERROR|FATAL/.test(l)) ??
    result.stderr.trim();
  const at = Number(errorLine.match(/^psql:<stdin>:(\d+):/)?.[1]);
  const from = starts.findLast((start) => start.line <= at);
  const where = from ? `${from.name}:${at - from.line + 1}` : scripts.map((s) => s.name).join(", ");
  throw new DatabaseError(
    `Supabase setup SQL failed at ${where}: ${errorLine.replace(/^psql:<stdin>:\d+: /, "").trim()}`,
    result.stderr,
  );
}

/**
 * Applies Supabase's setup to database `postgres` of a fresh cluster whose superuser is
 * `supabase_admin` (adminUrl). Returns the URL of the non-superuser `postgres` role.
 */
export async function applySupabaseShape(adminUrl) {
  const postgresUrl = asUser(adminUrl, "postgres");
  const roles = EDITS.rolesFirst.map((role) => `create role ${role} nologin;\n`).join("");
  await runScripts(adminUrl, [{
    name: "the bootstrap (as in migrate.sh, plus the pgsodium roles)",
    text:
      `create role postgres superuser login;\nalter database postgres owner to postgres;\n${roles}`,
  }]);
  await runScripts(postgresUrl, sqlFiles(join(SUPABASE_FIXTURE_DIR, "init-scripts")).map(script));
  await runScripts(adminUrl, sqlFiles(join(SUPABASE_FIXTURE_DIR, "migrations")).map(script));
  const standIns = join(SUPABASE_FIXTURE_DIR, "stand-ins");
  await runScripts(asUser(adminUrl, "supabase_auth_admin"), [
    script(join(standIns, "auth_functions.sql")),
  ]);
  await runScripts(adminUrl, [script(join(standIns, "vault.sql"))]);
  // The point of the exercise: fail loudly if `postgres` kept superuser or lost the database.
  const shape = await psql(postgresUrl, {
    sql:
      "select r.rolsuper, d.datdba = r.oid from pg_catalog.pg_roles r, pg_catalog.pg_database d " +
      "where r.rolname = current_user and d.datname = current_database()",
  });
  if (shape.trim() !== "f|t") {
    throw new DatabaseError(
      `the Supabase-shaped database is not as expected: postgres (superuser, owner) = ${shape.trim()}`,
    );
  }
  return postgresUrl;
}

/**
 * Starts a throwaway cluster and shapes its database `postgres` like a Supabase project's.
 * @param {{log?: (line: string) => void}} options
 * @returns {Promise<{url: string, adminUrl: string, port: number, dir: string, stop: () => void}>}
 */
export async function startSupabaseCluster(options = {}) {
  const cluster = await startCluster({ ...options, superuser: "supabase_admin" });
  try {
    const url = await applySupabaseShape(cluster.url);
    return { url, adminUrl: cluster.url, port: cluster.port, dir: cluster.dir, stop: cluster.stop };
  } catch (error) {
    cluster.stop();
    throw error;
  }
}
