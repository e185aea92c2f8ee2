// node scripts/schema_dump.mjs [--supabase] [--migrations DIR] [--out FILE]
//
// The database that a migrations directory builds, as text that can be compared with `diff`:
// a throwaway cluster gets sql/compat/ and the migrations (default supabase/migrations/, through
// dbmate as `npm run db:migrate` applies them), then pg_dump writes the whole database's schema
// (tables, functions with their bodies, grants, comments, policies, triggers, indexes) followed
// by the rows the migrations insert, one INSERT a line, sorted (heap order is not the
// migrations' business). With --supabase the cluster is shaped like a Supabase project's and the
// migrations run as its non-superuser `postgres` role.
//
// Two directories that build the same database print the same text:
//   node scripts/schema_dump.mjs --migrations /tmp/old > /tmp/old.sql
//   node scripts/schema_dump.mjs > /tmp/new.sql && diff /tmp/old.sql /tmp/new.sql

import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { startCluster } from "./lib/cluster.mjs";
import { libpqEnv } from "./lib/db_url.mjs";
import { migrate, MIGRATIONS_TABLE, ROOT } from "./lib/migrate.mjs";
import { findServerBinaries } from "./lib/postgres_tools.mjs";
import { run } from "./lib/process.mjs";
import { startSupabaseCluster } from "./lib/supabase_shape.mjs";

function parseArgs(args) {
  const options = { supabase: false, migrations: join(ROOT, "supabase", "migrations"), out: null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--supabase") options.supabase = true;
    else if (arg === "--migrations") options.migrations = resolve(args[++i] ?? "");
    else if (arg === "--out") options.out = resolve(args[++i] ?? "");
    else {
      console.error(
        "usage: node scripts/schema_dump.mjs [--supabase] [--migrations DIR] [--out FILE]",
      );
      process.exit(2);
    }
  }
  return options;
}

/** A stand-in project root whose supabase/migrations/ is `dir` (migrate() reads a root). */
function rootWith(dir) {
  const root = mkdtempSync(join(tmpdir(), "pgpayments-dump-"));
  mkdirSync(join(root, "supabase"));
  cpSync(dir, join(root, "supabase", "migrations"), { recursive: true });
  symlinkSync(join(ROOT, "sql"), join(root, "sql"));
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  return root;
}

async function pgDump(binDir, url, args) {
  const result = await run(join(binDir, "pg_dump"), ["--no-owner", ...args], {
    env: libpqEnv(url, process.env),
  });
  if (result.code !== 0) throw new Error(`pg_dump failed: ${result.stderr.trim()}`);
  return result.stdout;
}

const options = parseArgs(process.argv.slice(2));
const root = rootWith(options.migrations);
const cluster = options.supabase ? await startSupabaseCluster() : await startCluster();
try {
  const { binDir } = findServerBinaries();
  await migrate(cluster.url, { quiet: true, root });
  // \restrict carries a random key per run: not part of the schema.
  const schema = (await pgDump(binDir, cluster.url, ["--schema-only"]))
    .replace(/^\\(un)?restrict .*\n/gm, "");
  const data = await pgDump(binDir, cluster.url, [
    "--data-only",
    "--inserts",
    "--rows-per-insert=1",
    "--schema=payments",
    "--schema=payments_private",
    `--exclude-table-data=${MIGRATIONS_TABLE}`,
  ]);
  const rows = data.split("\n").filter((line) => /^(INSERT|SELECT pg_catalog\.setval)/.test(line))
    .sort();
  const text = `${schema}\n-- Rows inserted by the migrations\n${rows.join("\n")}\n`;
  if (options.out) writeFileSync(options.out, text);
  else process.stdout.write(text);
} finally {
  cluster.stop();
  rmSync(root, { recursive: true, force: true });
}
