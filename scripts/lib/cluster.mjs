// A throwaway PostgreSQL cluster: initdb into a fresh temporary directory, start it on a free
// port on 127.0.0.1 with durability switched off, and remove it all again.
//
//   import { startCluster } from "./lib/cluster.mjs";
//   const cluster = await startCluster();   // {url, host, port, dir, major, stop()}
//   await startCluster({superuser: "supabase_admin"});  // another bootstrap superuser
//   ...
//   cluster.stop();                          // synchronous, idempotent
//   await startCluster({dir: ".pgpayments/postgres"});  // kept in that folder and reused
//
// As root the server runs as the `postgres` user (initdb refuses root). Every cluster still
// running when the process exits is stopped by an exit handler; signal handlers are the
// caller's business (they should call stop() and exit).

import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { findOnPath, findServerBinaries, installHint } from "./postgres_tools.mjs";
import { run } from "./process.mjs";

const live = new Set();
let exitHandlerInstalled = false;

/** A port that was free a moment ago, chosen by the OS. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function postgresUser() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      "running as root, but there is no `postgres` user to run the server as. " +
        `Install PostgreSQL: ${installHint()} (or run as a normal user)`,
    );
  }
}

function runuserPath() {
  return findOnPath("runuser") ??
    ["/usr/sbin/runuser", "/sbin/runuser"].find((path) => existsSync(path)) ?? "runuser";
}

/** Runs a server binary, as `postgres` when we are root. Returns spawnSync's result. */
function runAs(asPostgres, command, args, cwd) {
  const [file, argv] = asPostgres
    ? [runuserPath(), ["-u", "postgres", "--", command, ...args]]
    : [command, args];
  return spawnSync(file, argv, { cwd, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
}

/** runAs without blocking, so that clusters can start side by side; {status, stdout, stderr}. */
async function runAsAsync(asPostgres, command, args, cwd) {
  const [file, argv] = asPostgres
    ? [runuserPath(), ["-u", "postgres", "--", command, ...args]]
    : [command, args];
  const result = await run(file, argv, { cwd, env: { ...process.env, LC_ALL: "C" } });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr, error: result.error };
}

function tail(path, lines = 20) {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** A port that was free a moment ago: `preferred` when it still is, else one chosen by the OS. */
function portNear(preferred) {
  if (!preferred) return freePort();
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on("error", () => resolve(freePort()));
    server.listen(preferred, "127.0.0.1", () => server.close(() => resolve(preferred)));
  });
}

/**
 * Stops a server still running in a kept cluster folder: the process that started it was
 * killed before it could stop it, and a second server cannot start on the same files.
 */
function stopLeftover(asPostgres, binDir, dataDir, cwd) {
  if (!existsSync(join(dataDir, "postmaster.pid"))) return;
  const status = runAs(asPostgres, join(binDir, "pg_ctl"), ["-D", dataDir, "status"], cwd);
  if (status.status === 0) {
    runAs(asPostgres, join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"], cwd);
  }
}

/** Stops whatever server runs in a kept cluster folder and deletes the folder. */
export function removeCluster(dir) {
  const server = findServerBinaries();
  const dataDir = join(dir, "data");
  if (server) stopLeftover(postgresUser() !== null, server.binDir, dataDir, "/");
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts a throwaway cluster, or a kept one.
 * @param {{log?: (line: string) => void, maxConnections?: number, superuser?: string,
 *   dir?: string}} options
 *   `superuser`: the bootstrap superuser's name (default `postgres`).
 *   `dir`: keep the cluster in this folder: created on the first start, reused (on the same
 *   port when it is free) afterwards; stop() shuts the server down cleanly and keeps the files.
 * @returns {Promise<{url: string, host: string, port: number, dir: string, major: number,
 *   binDir: string, stop: () => void}>} `url` points at database `postgres` as the superuser
 *   (trust authentication, no password).
 */
export async function startCluster(options = {}) {
  const { log = () => {}, maxConnections = 200, superuser = "postgres" } = options;
  const server = findServerBinaries();
  if (!server) {
    throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found. ${installHint()}`);
  }
  const { binDir, major } = server;
  const owner = postgresUser();
  const asPostgres = owner !== null;
  const kept = Boolean(options.dir);
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "pgpayments-pg-"));
  if (kept) mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  const portFile = join(dir, "port");
  let started = false;
  const cluster = {
    url: "",
    host: "127.0.0.1",
    port: 0,
    dir,
    major,
    binDir,
    stop() {
      if (!live.has(cluster)) return;
      live.delete(cluster);
      if (started && existsSync(join(dataDir, "postmaster.pid"))) {
        // Kept data gets a clean shutdown, so the next start needs no crash recovery.
        const mode = kept ? ["-m", "fast", "-w"] : ["-m", "immediate"];
        runAs(asPostgres, join(binDir, "pg_ctl"), ["-D", dataDir, ...mode, "stop"], dir);
      }
      if (!kept) rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", stopAllClusters);
  }

  const initdb = () => {
    log(`Creating a PostgreSQL ${major || ""} cluster in ${dir}`.replace("  ", " "));
    return runAsAsync(asPostgres, join(binDir, "initdb"), [
      "-D",
      dataDir,
      "-U",
      superuser,
      "--auth=trust",
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
    ], dir);
  };

  try {
    chmodSync(dir, 0o700);
    if (owner) chownSync(dir, owner.uid, owner.gid);
    if (kept && asPostgres && runAs(true, "test", ["-x", dir], "/").status !== 0) {
      throw new Error(
        `the postgres user (the server runs as postgres under root) cannot reach ${dir}: ` +
          "make the folders above it searchable (chmod o+x), or keep the cluster elsewhere.",
      );
    }
    const existing = kept && existsSync(join(dataDir, "PG_VERSION"))
      ? Number(readFileSync(join(dataDir, "PG_VERSION"), "utf8").trim())
      : null;
    if (existing !== null && major && existing !== major) {
      throw new Error(
        `the cluster in ${dir} was made by PostgreSQL ${existing}, but this server is ` +
          `${major}: remove the folder (npm start -- --reset) to start again.`,
      );
    }
    if (existing !== null) stopLeftover(asPostgres, binDir, dataDir, dir);
    const init = existing !== null ? { status: 0 } : await initdb();
    if (init.status !== 0) {
      throw new Error(`initdb failed:\n${String(init.stderr || init.stdout || init.error).trim()}`);
    }

    let lastError = "";
    const previousPort = kept && existsSync(portFile)
      ? Number(readFileSync(portFile, "utf8").trim())
      : 0;
    for (let attempt = 1; attempt <= 3 && !started; attempt++) {
      const port = attempt === 1 ? await portNear(previousPort) : await freePort();
      const settings = [
        `-p ${port}`,
        `-k ${dir}`,
        "-c listen_addresses=127.0.0.1",
        // A throwaway cluster trades durability for speed; kept data keeps fsync.
        ...(kept ? [] : ["-c fsync=off", "-c full_page_writes=off"]),
        "-c synchronous_commit=off",
        `-c max_connections=${maxConnections}`,
      ].join(" ");
      const start = await runAsAsync(asPostgres, join(binDir, "pg_ctl"), [
        "-D",
        dataDir,
        "-l",
        logFile,
        "-w",
        "-t",
        "60",
        "-o",
        settings,
        "start",
      ], dir);
      if (start.status === 0) {
        started = true;
        cluster.port = port;
        cluster.url = `postgres://${superuser}@127.0.0.1:${port}/postgres?sslmode=disable`;
        if (kept) writeFileSync(portFile, `${port}\n`);
      } else {
        lastError = `${(start.stderr || start.stdout || "").trim()}\n${tail(logFile)}`;
        // A failed start may still have left a server behind; make sure it is gone.
        if (existsSync(join(dataDir, "postmaster.pid"))) {
          started = true;
          runAs(
            asPostgres,
            join(binDir, "pg_ctl"),
            ["-D", dataDir, "-m", "immediate", "stop"],
            dir,
          );
          started = false;
        }
      }
    }
    if (!started) throw new Error(`PostgreSQL did not start:\n${lastError.trim()}`);
    log(`PostgreSQL ${major || ""} is running on 127.0.0.1:${cluster.port}`.replace("  ", " "));
    return cluster;
  } catch (error) {
    cluster.stop();
    throw error;
  }
}

/** Stops every cluster this process started (synchronously). */
export function stopAllClusters() {
  for (const cluster of [...live]) cluster.stop();
}
