// A throwaway PostgreSQL cluster: initdb into a fresh temporary directory, start it on a free
// port on 127.0.0.1 with durability switched off, and remove it all again.
//
//   import { startCluster } from "./lib/cluster.mjs";
//   const cluster = await startCluster();   // {url, host, port, dir, major, stop()}
//   await startCluster({superuser: "supabase_admin"});  // another bootstrap superuser
//   ...
//   cluster.stop();                          // synchronous, idempotent
//
// As root the server runs as the `postgres` user (initdb refuses root). Every cluster still
// running when the process exits is stopped by an exit handler; signal handlers are the
// caller's business (they should call stop() and exit).

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

/**
 * Starts a throwaway cluster.
 * @param {{log?: (line: string) => void, maxConnections?: number, superuser?: string}} options
 *   `superuser`: the bootstrap superuser's name (default `postgres`).
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
  const dir = mkdtempSync(join(tmpdir(), "pgpayments-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
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
        runAs(asPostgres, join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "stop"], dir);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", stopAllClusters);
  }

  try {
    chmodSync(dir, 0o700);
    if (owner) chownSync(dir, owner.uid, owner.gid);
    log(`Creating a throwaway PostgreSQL ${major || ""} cluster in ${dir}`.replace("  ", " "));
    const init = await runAsAsync(asPostgres, join(binDir, "initdb"), [
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
    if (init.status !== 0) {
      throw new Error(`initdb failed:\n${String(init.stderr || init.stdout || init.error).trim()}`);
    }

    let lastError = "";
    for (let attempt = 1; attempt <= 3 && !started; attempt++) {
      const port = await freePort();
      const settings = [
        `-p ${port}`,
        `-k ${dir}`,
        "-c listen_addresses=127.0.0.1",
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
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
