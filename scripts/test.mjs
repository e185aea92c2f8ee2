// npm test — the whole test suite, with no running database needed.
//
//   npm test                      everything: pgTAP, deno fmt --check, deno lint, deno test
//   npm test -- sql               only the pgTAP suite (tests/sql/*.sql)
//   npm test -- deno              only deno fmt --check, deno lint and deno test
//   npm test -- lint              only deno fmt --check and deno lint (no database)
//   npm test -- tests/sql/10-x.test.sql tests/functions/y_test.ts
//                                 only the given pgTAP files and/or Deno test files, relative to
//                                 the directory the command was typed in (npm's INIT_CWD; the
//                                 working directory under plain `node scripts/test.mjs`)
//
// Database: by default a throwaway PostgreSQL cluster (initdb + pg_ctl) on a free port of
// 127.0.0.1, with database `payments_test`; it is stopped and deleted at the end, also on
// failure and on Ctrl-C. With TEST_DATABASE_URL=postgres://... the suite uses that server
// instead: it creates a database `payments_test_<random>` there and drops only that one at the
// end. Either way the database gets `create extension pgtap` and the migrations (sql/compat/,
// then supabase/migrations/ through dbmate).
//
// The pgTAP suite also runs on a second throwaway cluster shaped like a Supabase project
// (scripts/lib/supabase_shape.mjs): there the migrations and the tests run as the non-superuser
// `postgres` role, as they do on Supabase. Both clusters start side by side; the summary has a
// line for each ("pgTAP (plain)", "pgTAP (supabase)"). With TEST_DATABASE_URL the Supabase shape
// still needs local server binaries, and is skipped (and says so) without them.
//
// Deno tests receive DATABASE_URL (the migrated test database) and TEST_ADMIN_DATABASE_URL (a
// database on the same server, for tests that create databases of their own). Against a
// TEST_DATABASE_URL server nothing is cleaned up behind them: such tests must drop every
// database they create.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import process from "node:process";
import { startCluster } from "./lib/cluster.mjs";
import { startSupabaseCluster } from "./lib/supabase_shape.mjs";
import { describeUrl, libpqEnv, parseDatabaseUrl, withDatabase } from "./lib/db_url.mjs";
import { migrate, ROOT } from "./lib/migrate.mjs";
import {
  findOnPath,
  findPgtapControl,
  findPsql,
  findServerBinaries,
  installHint,
  MIN_SERVER_VERSION,
  psql,
  quoteIdent,
} from "./lib/postgres_tools.mjs";
import { killRunning, run } from "./lib/process.mjs";

const SQL_TEST_DIR = join(ROOT, "tests", "sql");
const DENO_TEST_DIRS = ["tests/functions", "tests/emulator", "tests/e2e"];
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");

// ---------------------------------------------------------------------------------------------
// What to run

function usage() {
  console.log("usage: npm test [-- sql | deno | lint | <tests/sql/*.sql> | <*_test.ts> ...]");
}

/**
 * Where the caller typed the command: npm runs the script from the package root and keeps the
 * caller's directory in INIT_CWD; plain `node scripts/test.mjs` runs where it was typed. An
 * INIT_CWD inherited from some other npm script (we run elsewhere than the root) is not ours.
 */
function callerDirectory() {
  const byNpm = process.env.INIT_CWD && process.cwd() === ROOT &&
    process.env.npm_package_json === join(ROOT, "package.json");
  return byNpm ? process.env.INIT_CWD : process.cwd();
}

/**
 * A test file argument as the steps take it (they run from the repository root): relative to the
 * root when inside it, else absolute. A missing file stops the run before any database starts.
 */
function testFile(arg) {
  const path = resolve(callerDirectory(), arg);
  if (!existsSync(path) || !statSync(path).isFile()) {
    console.error(`npm test: no test file ${arg} (looked for ${path})`);
    process.exit(2);
  }
  const inside = relative(ROOT, path);
  return inside.startsWith("..") || isAbsolute(inside) ? path : inside;
}

function parseArgs(args) {
  const plan = { sql: false, fmt: false, lint: false, deno: false, sqlFiles: null, denoFiles: [] };
  if (args.length === 0) return { ...plan, sql: true, fmt: true, lint: true, deno: true };
  for (const arg of args) {
    if (arg === "-h" || arg === "--help") {
      usage();
      process.exit(0);
    } else if (arg === "sql" || arg === "pgtap") plan.sql = true;
    else if (arg === "deno") Object.assign(plan, { fmt: true, lint: true, deno: true });
    else if (arg === "lint" || arg === "fmt") Object.assign(plan, { fmt: true, lint: true });
    else if (arg.endsWith(".sql")) {
      plan.sql = true;
      plan.sqlFiles = [...(plan.sqlFiles ?? []), testFile(arg)];
    } else if (/\.(ts|tsx|js|mjs)$/.test(arg)) {
      plan.deno = true;
      plan.denoFiles.push(testFile(arg));
    } else {
      console.error(`npm test: unknown argument "${arg}"`);
      usage();
      process.exit(2);
    }
  }
  return plan;
}

function sqlTestFiles(plan) {
  if (plan.sqlFiles) return plan.sqlFiles;
  if (!existsSync(SQL_TEST_DIR)) return [];
  return readdirSync(SQL_TEST_DIR)
    .filter((name) => name.endsWith(".sql") && statSync(join(SQL_TEST_DIR, name)).isFile())
    .sort()
    .map((name) => relative(ROOT, join(SQL_TEST_DIR, name)));
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

function missingPrerequisites(plan, sqlFiles) {
  const missing = [];
  const needsDatabase = (plan.sql && sqlFiles.length > 0) || plan.deno;
  const external = Boolean(process.env.TEST_DATABASE_URL);
  let major = MIN_SERVER_VERSION;
  if (needsDatabase && !external) {
    const server = findServerBinaries();
    if (!server) {
      missing.push(`PostgreSQL ${MIN_SERVER_VERSION}+ server binaries (initdb, pg_ctl)`);
    } else if (Number.isInteger(server.major) && server.major < MIN_SERVER_VERSION) {
      missing.push(
        `PostgreSQL ${MIN_SERVER_VERSION}+ (found only ${server.major} in ${server.binDir})`,
      );
    } else {
      major = Number.isInteger(server.major) ? server.major : major;
      if (plan.sql && sqlFiles.length > 0 && !findPgtapControl(server.major)) {
        missing.push(`the pgTAP extension for PostgreSQL ${major} (pgtap.control)`);
      }
    }
  }
  if (needsDatabase && !findPsql()) missing.push("psql (PostgreSQL client)");
  if (plan.sql && sqlFiles.length > 0 && !findOnPath("pg_prove")) {
    missing.push("pg_prove (TAP::Parser::SourceHandler::pgTAP)");
  }
  if ((plan.deno || plan.fmt || plan.lint) && !existsSync(DENO)) {
    missing.push("deno and dbmate from npm (node_modules/.bin/deno): run `npm ci`");
  } else if (needsDatabase && !existsSync(join(ROOT, "node_modules", ".bin", "dbmate"))) {
    missing.push("dbmate from npm (node_modules/.bin/dbmate): run `npm ci`");
  }
  return { missing, major };
}

// ---------------------------------------------------------------------------------------------
// Cleanup: synchronous, so that it can run from signal and exit handlers too

const cleanups = [];

function cleanup() {
  killRunning();
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    try {
      step();
    } catch (error) {
      console.error(`npm test: cleanup failed: ${error?.message ?? error}`);
    }
  }
}

function dropDatabaseSync(adminUrl, name) {
  const result = spawnSync(findPsql() ?? "psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    `drop database if exists ${quoteIdent(name)} with (force)`,
  ], { env: libpqEnv(adminUrl, process.env), encoding: "utf8" });
  if (result.status !== 0) {
    console.error(`npm test: could not drop test database ${name}: ${result.stderr.trim()}`);
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\nnpm test: ${signal} received; stopping and cleaning up`);
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}
process.on("uncaughtException", (error) => {
  console.error(`npm test: ${error?.stack ?? error}`);
  cleanup();
  process.exit(1);
});
process.on("unhandledRejection", (error) => {
  console.error(`npm test: ${error?.stack ?? error}`);
  cleanup();
  process.exit(1);
});
process.on("exit", cleanup);

// ---------------------------------------------------------------------------------------------
// Steps

function header(title) {
  console.log(`\n==> ${title}`);
}

/** Sets up the test database; returns {testUrl, adminUrl}. */
async function prepareDatabase(plan, sqlFiles) {
  let adminUrl;
  let database;
  if (process.env.TEST_DATABASE_URL) {
    adminUrl = process.env.TEST_DATABASE_URL;
    parseDatabaseUrl(adminUrl);
    database = `payments_test_${randomBytes(6).toString("hex")}`;
    header(`Database: ${database} on TEST_DATABASE_URL (${describeUrl(adminUrl)})`);
  } else {
    header("Database: throwaway PostgreSQL cluster");
    const cluster = await startCluster({ log: (line) => console.log(line) });
    cleanups.push(() => cluster.stop());
    adminUrl = cluster.url;
    database = "payments_test";
  }
  await psql(adminUrl, { sql: `create database ${quoteIdent(database)}` });
  if (process.env.TEST_DATABASE_URL) cleanups.push(() => dropDatabaseSync(adminUrl, database));
  const testUrl = withDatabase(adminUrl, database);
  if (plan.sql && sqlFiles.length > 0) {
    const available = await psql(testUrl, {
      sql: "select count(*) from pg_catalog.pg_available_extensions where name = 'pgtap'",
    });
    if (available.trim() === "0") {
      throw new Error(
        `the server at ${describeUrl(adminUrl)} has no pgTAP extension. ` +
          `Install it on that server: ${installHint()}`,
      );
    }
    await psql(testUrl, { sql: "create extension if not exists pgtap" });
  }
  const { applied, total } = await migrate(testUrl, { quiet: true });
  console.log(
    `Migrated ${database}: ${applied.length} of ${total} migration(s) applied (sql/compat first)`,
  );
  if (plan.sql && sqlFiles.length > 0) await loadSqlTestHelpers(testUrl);
  return { testUrl, adminUrl };
}

/**
 * The Supabase-shaped database, migrated as its non-superuser `postgres` role; returns {testUrl}
 * or {skipped: reason}. Its progress lines go to `lines`, printed once both databases are ready.
 */
async function prepareSupabaseDatabase(lines) {
  if (process.env.TEST_DATABASE_URL && !findServerBinaries()) {
    return { skipped: "no local PostgreSQL server binaries to build it (TEST_DATABASE_URL set)" };
  }
  const log = (line) => lines.push(line);
  try {
    const cluster = await startSupabaseCluster({ log });
    cleanups.push(() => cluster.stop());
    // As `supabase test db` does: pgTAP in the extensions schema, created by `postgres`.
    await psql(cluster.url, { sql: "create extension if not exists pgtap with schema extensions" });
    const { applied, total } = await migrate(cluster.url, { quiet: true });
    log(
      `Migrated postgres as the non-superuser role postgres: ${applied.length} of ${total} applied`,
    );
    await loadSqlTestHelpers(cluster.url);
    return { testUrl: cluster.url };
  } catch (error) {
    error.message = `Supabase-shaped database: ${error.message}`;
    throw error;
  }
}

/** Counts from pg_prove's (non-verbose) output. */
function parsePgProve(output) {
  const text = output.replace(ANSI, "");
  const totals = text.match(/^Files=(\d+), Tests=(\d+)/m);
  const result = {
    files: totals ? Number(totals[1]) : 0,
    tests: totals ? Number(totals[2]) : 0,
    failed: 0,
    notRun: 0,
    failedFiles: new Set(),
    parsed: Boolean(totals),
  };
  for (const match of text.matchAll(/^(\S.*?) \(Wstat: .*?Tests: \d+ Failed: (\d+)\)/gm)) {
    result.failed += Number(match[2]);
    result.failedFiles.add(match[1]);
  }
  for (const match of text.matchAll(/You planned (\d+) tests? but ran (\d+)/g)) {
    result.notRun += Math.max(0, Number(match[1]) - Number(match[2]));
  }
  for (const match of text.matchAll(/^(\S+) \.+ (?:Dubious|Failed|No subtests run)/gm)) {
    result.failedFiles.add(match[1]);
  }
  return result;
}

// The pgTAP helpers (tests/sql/helpers/) and the Stripe fixtures go into the database once, so
// the test files neither repeat helpers nor read files relative to a working directory.
async function loadSqlTestHelpers(testUrl) {
  const helperDir = join(SQL_TEST_DIR, "helpers");
  for (const name of readdirSync(helperDir).filter((n) => n.endsWith(".sql")).sort()) {
    await psql(testUrl, { file: join(helperDir, name) });
  }
  const fixtureDir = join(ROOT, "tests", "fixtures", "stripe");
  for (const name of readdirSync(fixtureDir).filter((n) => n.endsWith(".json")).sort()) {
    const text = readFileSync(join(fixtureDir, name), "utf8");
    const api = name.replace(/\.json$/, "");
    if (text.includes("$fixture$")) throw new Error(`${name} contains the quote tag $fixture$`);
    await psql(testUrl, {
      sql:
        `insert into tests.stripe_fixtures (api, objects) values ('${api}', $fixture$${text}$fixture$)`,
    });
  }
}

/** Runs pg_prove on one database; its output is printed when it is done (runs overlap). */
async function runPgTap(testUrl, sqlFiles, shape) {
  const { host, port, user, database } = parseDatabaseUrl(testUrl);
  const args = ["--ext", ".sql", "--failures", "--comments"];
  if (host) args.push("-h", host);
  args.push("-p", port);
  if (user) args.push("-U", user);
  args.push("-d", database, ...sqlFiles);
  const env = libpqEnv(testUrl, process.env);
  env.PGOPTIONS = "-c client_min_messages=warning";
  const result = await run("pg_prove", args, { env, cwd: ROOT });
  header(`pgTAP (${shape}): pg_prove (${sqlFiles.length} file${sqlFiles.length === 1 ? "" : "s"})`);
  process.stdout.write(result.output);
  const counts = parsePgProve(result.output);
  const failed = counts.failed + counts.notRun;
  const passed = counts.tests - counts.failed;
  let line = `pgTAP (${shape}): ${passed} passed, ${failed} failed (${counts.files} file${
    counts.files === 1 ? "" : "s"
  })`;
  if (counts.notRun > 0) line += ` — ${counts.notRun} planned test(s) did not run`;
  if (counts.failedFiles.size > 0) line += ` — failing: ${[...counts.failedFiles].join(", ")}`;
  const ok = result.code === 0 && failed === 0 && counts.parsed;
  if (!ok && failed === 0) {
    line += counts.parsed
      ? ` — pg_prove exited with ${result.code}`
      : ` — pg_prove did not finish (exit ${result.code ?? result.signal})`;
  }
  return { ok, line };
}

async function runDenoStep(title, args, env) {
  header(`${title}: deno ${args.join(" ")}`);
  const result = await run(DENO, args, { env, cwd: ROOT, stream: true });
  return { ok: result.code === 0, output: result.output, code: result.code };
}

/** Counts from deno test's final line: "ok | 3 passed (2 steps) | 0 failed ...". */
function parseDenoTest(output) {
  const text = output.replace(ANSI, "");
  const matches = [
    ...text.matchAll(/^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(.*)$/gm),
  ];
  if (matches.length === 0) return null;
  const last = matches[matches.length - 1];
  const ignored = last[4].match(/(\d+) ignored/);
  return {
    passed: Number(last[2]),
    failed: Number(last[3]),
    ignored: ignored ? Number(ignored[1]) : 0,
  };
}

async function runDenoTests(plan, env) {
  const targets = plan.denoFiles.length > 0
    ? plan.denoFiles
    : DENO_TEST_DIRS.filter((dir) => existsSync(join(ROOT, dir)));
  if (targets.length === 0) {
    return { ok: true, line: `Deno: no test directories (${DENO_TEST_DIRS.join(", ")})` };
  }
  const step = await runDenoStep(
    "Deno tests",
    ["test", "-A", "--permit-no-files", ...targets],
    env,
  );
  const counts = parseDenoTest(step.output);
  if (!counts) {
    const none = /No test modules found/.test(step.output);
    return {
      ok: step.ok,
      line: none
        ? "Deno: no test files"
        : `Deno: did not run to the end (exit ${step.code}; type error or crash above)`,
    };
  }
  let line = `Deno: ${counts.passed} passed, ${counts.failed} failed`;
  if (counts.ignored > 0) line += `, ${counts.ignored} ignored`;
  return { ok: step.ok && counts.failed === 0, line };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const started = Date.now();
  const plan = parseArgs(process.argv.slice(2));
  const sqlFiles = plan.sql ? sqlTestFiles(plan) : [];
  const { missing, major } = missingPrerequisites(plan, sqlFiles);
  if (missing.length > 0) {
    console.error("npm test: missing prerequisites:");
    for (const item of missing) console.error(`  - ${item}`);
    console.error("On Debian/Ubuntu install them with:");
    const sudo = process.getuid?.() === 0 ? "" : "sudo ";
    console.error(`  ${sudo}${installHint(major)}`);
    if (missing.some((item) => item.includes("npm ci"))) console.error("  npm ci");
    console.error("(or run bash .ci/run, which installs what is missing and runs the tests)");
    return 1;
  }

  const summary = [];
  let database = null;
  let supabase = null;
  const needsDatabase = (plan.sql && sqlFiles.length > 0) || plan.deno;
  if (needsDatabase) {
    try {
      const supabaseLines = [];
      const results = await Promise.allSettled([
        prepareDatabase(plan, sqlFiles),
        plan.sql && sqlFiles.length > 0 ? prepareSupabaseDatabase(supabaseLines) : null,
      ]);
      if (supabaseLines.length > 0) {
        header(
          "Database: a throwaway cluster shaped like a Supabase project (tests/vendor/supabase)",
        );
        for (const line of supabaseLines) console.log(line);
      }
      const failure = results.find((result) => result.status === "rejected");
      if (failure) throw failure.reason;
      [database, supabase] = results.map((result) => result.value);
    } catch (error) {
      console.error(`npm test: ${error?.message ?? error}`);
      if (error?.details && !error.message.startsWith("cannot connect")) {
        console.error(error.details.trimEnd());
      }
      return 1;
    }
  }

  if (plan.sql) {
    if (sqlFiles.length === 0) {
      summary.push({ ok: true, line: "pgTAP: no test files in tests/sql" });
    } else {
      const runs = [runPgTap(database.testUrl, sqlFiles, "plain")];
      if (!supabase.skipped) runs.push(runPgTap(supabase.testUrl, sqlFiles, "supabase"));
      summary.push(...await Promise.all(runs));
      if (supabase.skipped) {
        summary.push({ ok: true, line: `pgTAP (supabase): skipped, ${supabase.skipped}` });
      }
    }
  }

  const denoEnv = { ...process.env };
  delete denoEnv.SUPABASE_DB_URL;
  if (database) {
    denoEnv.DATABASE_URL = database.testUrl;
    denoEnv.TEST_ADMIN_DATABASE_URL = database.adminUrl;
  }
  if (plan.fmt) {
    const step = await runDenoStep("Format", ["fmt", "--check"], denoEnv);
    summary.push({ ok: step.ok, line: `deno fmt --check: ${step.ok ? "clean" : "FAILED"}` });
  }
  if (plan.lint) {
    const step = await runDenoStep("Lint", ["lint"], denoEnv);
    summary.push({ ok: step.ok, line: `deno lint: ${step.ok ? "clean" : "FAILED"}` });
  }
  if (plan.deno) summary.push(await runDenoTests(plan, denoEnv));

  const ok = summary.every((entry) => entry.ok);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log("\n==> Summary");
  for (const entry of summary) console.log(`${entry.ok ? "  ok    " : "  FAIL  "}${entry.line}`);
  console.log(`${ok ? "PASS" : "FAIL"} (${seconds} s)`);
  return ok ? 0 : 1;
}

const code = await main();
cleanup();
process.exit(code);
