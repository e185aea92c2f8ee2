// Finding the PostgreSQL tools (server binaries, psql, pg_prove, pgTAP) and running psql.

import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { describeUrl, libpqEnv } from "./db_url.mjs";
import { run } from "./process.mjs";

export const MIN_SERVER_VERSION = 15;

/** The apt command that installs everything the tests need (for the given major version). */
export function installHint(major = MIN_SERVER_VERSION) {
  return `apt-get install -y postgresql-${major} postgresql-${major}-pgtap ` +
    "libtap-parser-sourcehandler-pgtap-perl";
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, or null. */
export function findOnPath(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: the newest
 * /usr/lib/postgresql/<major>/bin with major >= 15, else the directory of `initdb` on PATH.
 * @returns {{binDir: string, major: number} | null}
 */
export function findServerBinaries() {
  const root = "/usr/lib/postgresql";
  const found = [];
  if (existsSync(root)) {
    for (const entry of readdirSync(root)) {
      const major = Number(entry);
      const binDir = join(root, entry, "bin");
      if (
        Number.isInteger(major) &&
        ["initdb", "pg_ctl", "postgres"].every((name) => isExecutable(join(binDir, name)))
      ) {
        found.push({ binDir, major });
      }
    }
  }
  found.sort((a, b) => b.major - a.major);
  const preferred = found.find((candidate) => candidate.major >= MIN_SERVER_VERSION);
  if (preferred) return preferred;
  const initdb = findOnPath("initdb");
  if (initdb && findOnPath("pg_ctl")) {
    return { binDir: initdb.slice(0, -"/initdb".length), major: NaN };
  }
  return found[0] ?? null;
}

/** Path of `pgtap.control` for a server installation, or null when pgTAP is not installed. */
export function findPgtapControl(major) {
  const candidates = Number.isInteger(major)
    ? [`/usr/share/postgresql/${major}/extension/pgtap.control`]
    : [];
  candidates.push("/usr/share/postgresql/extension/pgtap.control");
  return candidates.find((path) => existsSync(path)) ?? null;
}

/** psql: from PATH, else beside the server binaries. */
export function findPsql() {
  const onPath = findOnPath("psql");
  if (onPath) return onPath;
  const server = findServerBinaries();
  if (server && isExecutable(join(server.binDir, "psql"))) return join(server.binDir, "psql");
  return null;
}

/** Turns psql's connection error into a short reason, e.g. "connection refused". */
export function connectionReason(stderr) {
  const text = stderr.replace(/\s+/g, " ");
  const patterns = [
    [/Connection refused/i, () => "connection refused"],
    [
      /password authentication failed for user "([^"]*)"/,
      (m) => `password authentication failed for user "${m[1]}"`,
    ],
    [/no password supplied/, () => "the server wants a password and the URL has none"],
    [/database "([^"]*)" does not exist/, (m) => `database "${m[1]}" does not exist`],
    [/role "([^"]*)" does not exist/, (m) => `role "${m[1]}" does not exist`],
    [/could not translate host name "([^"]*)"/, (m) => `unknown host "${m[1]}"`],
    [/timeout expired/, () => "connection timed out"],
    [/No such file or directory/, () => "no server is listening on that socket"],
    [/no pg_hba\.conf entry/, () => "the server's pg_hba.conf refuses this connection"],
    [/server does not support SSL/, () => "the server does not support SSL (add ?sslmode=disable)"],
    [/Network is unreachable/, () => "network is unreachable"],
  ];
  for (const [pattern, reason] of patterns) {
    const match = text.match(pattern);
    if (match) return reason(match);
  }
  const line = stderr.split("\n").find((l) => l.trim() !== "") ?? "unknown error";
  return line.replace(/^psql: error: /, "").replace(/^connection to server .*? failed: /, "")
    .trim();
}

/** A failure talking to the database; `message` is one printable line without secrets. */
export class DatabaseError extends Error {
  constructor(message, details = "") {
    super(message);
    this.name = "DatabaseError";
    this.details = details;
  }
}

/**
 * Runs SQL (a string, or a file with `{file}`) through psql with ON_ERROR_STOP.
 * Resolves to psql's stdout (unaligned, tuples only); rejects with a DatabaseError whose
 * message says "cannot connect to ..." when the server could not be reached.
 * @param {string} url
 * @param {{sql?: string, file?: string}} what
 */
export async function psql(url, what) {
  const bin = findPsql();
  if (!bin) {
    throw new DatabaseError(
      "psql not found. Install it: apt-get install -y postgresql-client-15 (or postgresql-15)",
    );
  }
  const env = libpqEnv(url, process.env);
  env.PGOPTIONS = "-c client_min_messages=warning";
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"];
  if (what.file) args.push("-f", what.file);
  else args.push("-c", what.sql);
  const result = await run(bin, args, { env });
  if (result.code === 0) return result.stdout;
  if (result.code === 2 && /^psql: error:/m.test(result.stderr)) {
    throw new DatabaseError(
      `cannot connect to ${describeUrl(url)} (${connectionReason(result.stderr)})`,
      result.stderr,
    );
  }
  const source = what.file ? ` in ${what.file}` : "";
  const firstError = result.stderr.split("\n").find((l) => /ERROR|FATAL|error/.test(l)) ??
    result.stderr.trim();
  throw new DatabaseError(`SQL failed${source}: ${firstError.trim()}`, result.stderr);
}

/** Quotes an SQL identifier. */
export function quoteIdent(name) {
  return `"${String(name).replaceAll('"', '""')}"`;
}
