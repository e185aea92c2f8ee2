// Parsing and rewriting of PostgreSQL connection URLs (postgres:// and postgresql://).
//
// Passwords never leave this module in printable form: `describeUrl` prints host, port and
// database only, and `libpqEnv` hands the password to child processes through PGPASSWORD
// instead of their command line.

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** A connection URL that cannot be used; its message is one printable line. */
export class DatabaseUrlError extends Error {
  constructor(message) {
    super(message);
    this.name = "DatabaseUrlError";
  }
}

// WHATWG URLs reject a user name without a host (`postgres://user@/db?host=/run/pg`), which
// libpq accepts: such URLs are parsed with this placeholder host, removed again on output.
const NO_HOST = "no-host.invalid";

function toUrl(url) {
  const text = url.trim();
  try {
    return new URL(text);
  } catch (error) {
    const patched = text.replace(/^(postgres(?:ql)?:\/\/[^/?#]*@)(?=[/?#]|$)/, `$1${NO_HOST}`);
    if (patched === text) throw error;
    return new URL(patched);
  }
}

function fromUrl(parsed) {
  return parsed.toString().replace(`@${NO_HOST}`, "@");
}

/**
 * Parses a postgres:// URL into its parts.
 * @param {string} url
 * @returns {{url: URL, host: string, port: string, user: string, password: string,
 *   database: string, socket: boolean}}
 */
export function parseDatabaseUrl(url) {
  if (typeof url !== "string" || url.trim() === "") {
    throw new DatabaseUrlError("no database URL given");
  }
  let parsed;
  try {
    parsed = toUrl(url);
  } catch {
    throw new DatabaseUrlError("the database URL is not a valid URL");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new DatabaseUrlError(
      `the database URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`,
    );
  }
  const queryHost = parsed.searchParams.get("host") ?? parsed.searchParams.get("socket");
  const urlHost = parsed.hostname === NO_HOST ? "" : decodeURIComponent(parsed.hostname);
  const host = queryHost || urlHost || "";
  const socket = host === "" || host.startsWith("/");
  return {
    url: parsed,
    host,
    port: parsed.port || parsed.searchParams.get("port") || "5432",
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, "")),
    socket,
  };
}

/** True when the URL points at this machine (loopback address or a Unix socket). */
export function isLocal(url) {
  const { host, socket } = parseDatabaseUrl(url);
  return socket || LOCAL_HOSTS.has(host);
}

/** `host:port/database` (or `socket DIR/database`), safe to print: no user, no password. */
export function describeUrl(url) {
  const { host, port, database, socket } = parseDatabaseUrl(url);
  const where = socket ? `socket ${host || "(default)"}:${port}` : `${host}:${port}`;
  return database ? `${where}/${database}` : where;
}

/** Adds `sslmode=disable` for local servers when the URL sets no sslmode (dbmate needs it). */
export function withLocalSslmode(url) {
  if (!isLocal(url)) return url;
  const parsed = toUrl(url);
  if (parsed.searchParams.has("sslmode")) return url;
  parsed.searchParams.set("sslmode", "disable");
  return fromUrl(parsed);
}

/** The same URL with another database name. */
export function withDatabase(url, database) {
  const parsed = toUrl(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return fromUrl(parsed);
}

/**
 * Environment for libpq tools (psql, pg_prove): PGHOST, PGPORT, PGUSER, PGDATABASE,
 * PGPASSWORD, PGSSLMODE. Variables that the URL does not set are removed, so an ambient
 * PGHOST or PGDATABASE cannot redirect a tool to another server.
 */
export function libpqEnv(url, baseEnv = {}) {
  const { url: parsed, host, port, user, password, database } = parseDatabaseUrl(url);
  const env = { ...baseEnv };
  for (
    const name of [
      "PGHOST",
      "PGHOSTADDR",
      "PGPORT",
      "PGUSER",
      "PGDATABASE",
      "PGPASSWORD",
      "PGSERVICE",
      "PGSSLMODE",
      "PGOPTIONS",
    ]
  ) {
    delete env[name];
  }
  if (host) env.PGHOST = host;
  env.PGPORT = port;
  if (user) env.PGUSER = user;
  if (database) env.PGDATABASE = database;
  if (password) env.PGPASSWORD = password;
  const sslmode = parsed.searchParams.get("sslmode");
  if (sslmode) env.PGSSLMODE = sslmode;
  if (!env.PGCONNECT_TIMEOUT) env.PGCONNECT_TIMEOUT = "10";
  return env;
}
