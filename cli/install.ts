// `pgpayments init` and `upgrade`: lay the payments migrations and a self-contained copy of the
// function into an app's `supabase/` folder, and keep them current. What was installed is recorded
// in `supabase/pgpayments.json` (file hashes), so an upgrade adds only what is new and never
// overwrites a file the app has edited unless told to.

/** Where the installed function's own code lives, beside the function (Supabase's convention). */
const SHARED = "functions/_shared/payments";
const ENTRY = "functions/payments/index.ts";
const IMPORT_MAP = "functions/payments/deno.json";
const MANIFEST = "pgpayments.json";
const CONFIG_SECTION = "[functions.payments]";

export interface InstallOptions {
  /** The app's root folder (it holds `supabase/`). */
  dir: string;
  /** Overwrite files the app has edited. */
  force: boolean;
  /** Where the release comes from: this package, unless a test points elsewhere. */
  source?: URL;
  /** The clock that dates new migrations. */
  now?: () => Date;
}

export interface InstallReport {
  migrations: string[];
  written: string[];
  unchanged: number;
  config: "added" | "updated" | "kept";
}

interface Manifest {
  /** Source migration name -> the name it has in the app. */
  migrations: Record<string, string>;
  /** Path under `supabase/` -> SHA-256 of what was written there. */
  files: Record<string, string>;
}

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstallError";
  }
}

export async function install(mode: "init" | "upgrade", options: InstallOptions) {
  const source = options.source ?? new URL("../", import.meta.url);
  const supabase = `${options.dir.replace(/\/+$/, "")}/supabase`;
  const configPath = `${supabase}/config.toml`;
  const config = await readText(configPath);
  if (config === undefined) {
    throw new InstallError(
      `no supabase/config.toml in ${options.dir}: run \`supabase init\` there first (or pass --dir).`,
    );
  }
  const manifestPath = `${supabase}/${MANIFEST}`;
  const existing = await readText(manifestPath);
  if (mode === "init" && existing !== undefined) {
    throw new InstallError(
      `payments is already installed in ${options.dir} (supabase/${MANIFEST}); run \`pgpayments upgrade\` to update it.`,
    );
  }
  if (mode === "upgrade" && existing === undefined) {
    throw new InstallError(
      `payments is not installed in ${options.dir} (no supabase/${MANIFEST}); run \`pgpayments init\` first.`,
    );
  }
  const manifest: Manifest = existing === undefined
    ? { migrations: {}, files: {} }
    : JSON.parse(existing);

  // Refuse before writing anything: an upgrade is all or nothing.
  const shipped = await migrationNames(new URL("supabase/migrations/", source));
  // The schema was regrouped and edited before its first release: migrations installed from a
  // commit before that cannot be continued by this release's, which define the same objects
  // differently. A database that applied them would never get the new definitions.
  const unrepeatable: string[] = [];
  for (const [name, target] of Object.entries(manifest.migrations)) {
    const installed = await readText(`${supabase}/migrations/${target}`);
    if (
      !shipped.includes(name) ||
      (installed !== undefined &&
        installed !== await Deno.readTextFile(new URL(`supabase/migrations/${name}`, source)))
    ) unrepeatable.push(`supabase/migrations/${target}`);
  }
  if (unrepeatable.length > 0) {
    throw new InstallError(
      `${options.dir} has ${unrepeatable.length} payments migration(s) from an earlier release ` +
        `that this release no longer ships as they are (${unrepeatable.slice(0, 3).join(", ")}` +
        `${unrepeatable.length > 3 ? ", ..." : ""}; all are listed in supabase/${MANIFEST}): ` +
        "that schema cannot be upgraded in place. Reinstall on a fresh database: remove those " +
        `migrations and supabase/${MANIFEST}, run \`pgpayments init\`, and apply the migrations to ` +
        "a new database (`supabase db reset` locally).",
    );
  }
  const files = await releaseFiles(source);
  const conflicts: string[] = [];
  for (const [path, content] of files) {
    const current = await readText(`${supabase}/${path}`);
    if (current === undefined || current === content) continue;
    const edited = manifest.files[path] === undefined ||
      manifest.files[path] !== await sha256(current);
    if (edited) conflicts.push(`supabase/${path}`);
  }
  if (conflicts.length > 0 && !options.force) {
    throw new InstallError(
      `${conflicts.length} file(s) differ from what was installed and would be overwritten: ` +
        `${conflicts.join(", ")}. Keep your edits elsewhere, or pass --force to replace them.`,
    );
  }

  const report: InstallReport = { migrations: [], written: [], unchanged: 0, config: "kept" };
  const pending = shipped.filter((name) => !manifest.migrations[name]);
  if (pending.length > 0) {
    await Deno.mkdir(`${supabase}/migrations`, { recursive: true });
    let stamp = nextStamp(await migrationNames(`${supabase}/migrations`), options.now);
    for (const name of pending) {
      const target = `${stamp}_${appName(name)}`;
      const content = await Deno.readTextFile(new URL(`supabase/migrations/${name}`, source));
      await Deno.writeTextFile(`${supabase}/migrations/${target}`, content);
      manifest.migrations[name] = target;
      report.migrations.push(`supabase/migrations/${target}`);
      stamp = addSecond(stamp);
    }
  }

  for (const [path, content] of files) {
    const target = `${supabase}/${path}`;
    if (await readText(target) === content) {
      report.unchanged++;
    } else {
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(target, content);
      report.written.push(`supabase/${path}`);
    }
    manifest.files[path] = await sha256(content);
  }
  // Files a newer release no longer ships go too, unless the app edited them.
  for (const path of Object.keys(manifest.files)) {
    if (files.has(path)) continue;
    const current = await readText(`${supabase}/${path}`);
    if (current !== undefined && await sha256(current) === manifest.files[path]) {
      await Deno.remove(`${supabase}/${path}`);
      report.written.push(`supabase/${path} (removed)`);
    }
    delete manifest.files[path];
  }

  const updated = withFunctionConfig(config);
  if (updated.text !== config) {
    await Deno.writeTextFile(configPath, updated.text);
    report.config = updated.change;
  }
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return report;
}

/** The function as it is deployed: entry, import map, and its code in the shared folder. */
async function releaseFiles(source: URL): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entry = await Deno.readTextFile(new URL(`supabase/${ENTRY}`, source));
  // The repository's entry reaches the code in `functions/`; the installed one, its shared copy.
  files.set(ENTRY, entry.replaceAll("../../../functions/", "../_shared/payments/"));
  files.set(IMPORT_MAP, await Deno.readTextFile(new URL(`supabase/${IMPORT_MAP}`, source)));
  for await (const file of Deno.readDir(new URL("functions/", source))) {
    if (!file.isFile || !file.name.endsWith(".ts")) continue;
    files.set(
      `${SHARED}/${file.name}`,
      await Deno.readTextFile(new URL(`functions/${file.name}`, source)),
    );
  }
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)));
}

async function migrationNames(dir: string | URL): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const file of Deno.readDir(dir)) {
      if (file.isFile && /^\d{14}_.+\.sql$/.test(file.name)) names.push(file.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Supabase CLI's migration version: a UTC timestamp, here strictly after the app's newest. */
function nextStamp(existing: string[], now = () => new Date()): string {
  const clock = now().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const newest = existing.at(-1)?.slice(0, 14);
  return newest && newest >= clock ? addSecond(newest) : clock;
}

function addSecond(stamp: string): string {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(stamp)!;
  const next = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s + 1));
  return next.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** `20261201000500_customers.sql` becomes `<stamp>_payments_customers.sql` in the app. */
function appName(name: string): string {
  const rest = name.slice(15);
  return rest.startsWith("payments") ? rest : `payments_${rest}`;
}

/**
 * Stripe calls the webhook route without a user JWT, so the gateway's JWT check must be off for
 * this function (it verifies every caller itself). Only that one setting is touched.
 */
function withFunctionConfig(config: string): { text: string; change: "added" | "updated" } {
  const lines = config.split("\n");
  const start = lines.findIndex((line) => line.trim() === CONFIG_SECTION);
  if (start === -1) {
    const gap = config === "" || config.endsWith("\n\n")
      ? ""
      : config.endsWith("\n")
      ? "\n"
      : "\n\n";
    return {
      text: `${config}${gap}${CONFIG_SECTION}\n` +
        "# Stripe calls the webhook without a user JWT; the function verifies every caller itself.\n" +
        "verify_jwt = false\n",
      change: "added",
    };
  }
  let end = lines.findIndex((line, i) => i > start && /^\s*\[/.test(line));
  if (end === -1) end = lines.length;
  const setting = lines.findIndex((line, i) =>
    i > start && i < end && /^\s*verify_jwt\s*=/.test(line)
  );
  if (setting === -1) lines.splice(start + 1, 0, "verify_jwt = false");
  else if (!/^\s*verify_jwt\s*=\s*false\s*(#.*)?$/.test(lines[setting])) {
    lines[setting] = "verify_jwt = false";
  }
  return { text: lines.join("\n"), change: "updated" };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** What to do after installing, as a person deploying for the first time needs it. */
export function nextSteps(mode: "init" | "upgrade", dir: string, report: InstallReport): string[] {
  const lines = [
    `pgpayments: ${mode === "init" ? "installed into" : "upgraded"} ${dir}`,
    report.migrations.length > 0
      ? `  ${report.migrations.length} migration(s): ${report.migrations.join(", ")}`
      : "  migrations: nothing new",
    report.written.length > 0
      ? `  function files written: ${report.written.length} (supabase/functions/payments/, supabase/${SHARED}/)`
      : `  function files: up to date (${report.unchanged})`,
  ];
  if (report.config !== "kept") {
    lines.push(`  supabase/config.toml: ${CONFIG_SECTION} verify_jwt = false (${report.config})`);
  }
  if (mode === "upgrade" && report.migrations.length === 0 && report.written.length === 0) {
    return [...lines, "Nothing to do: the app has this release."];
  }
  return [
    ...lines,
    "",
    "Next steps:",
    "  1. supabase login && supabase link --project-ref <ref>   (once)",
    "  2. supabase db push                                      apply the payments migrations",
    "  3. supabase functions deploy payments                    deploy the function",
    "  4. connect Stripe (the function gets SUPABASE_URL, SUPABASE_DB_URL and your keys from Supabase):",
    "       export SUPABASE_URL=https://<ref>.supabase.co SUPABASE_SECRET_KEY=sb_secret_...",
    "       npx pgpayments payments stripe config set --environment test sk_test_...",
    "     It validates the key, creates Stripe's webhook endpoint at",
    "       https://<ref>.supabase.co/functions/v1/payments/webhooks/stripe/test",
    "     and syncs the catalog. See docs/deploy.md.",
  ];
}

export const INSTALL_USAGE = `Usage: pgpayments init|upgrade [--dir <app>] [--force]

  init       Add the payments migrations (dated after the app's newest) and the payments function
             to the app's supabase/ folder, and set verify_jwt = false for it in config.toml
  upgrade    Add what a newer release brings; files the app edited are kept unless --force

Options:
      --dir <app>    The app's folder, holding supabase/ (default: the current folder)
      --force        Replace installed files that were edited locally`;

/** `pgpayments init|upgrade ...`; returns the exit code and never throws. */
export async function runInstall(argv: string[], out: (line: string) => void): Promise<number> {
  const [mode, ...rest] = argv as ["init" | "upgrade", ...string[]];
  let dir = ".";
  let force = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === "-h" || arg === "--help") {
      out(INSTALL_USAGE);
      return 0;
    } else if (arg === "--force") force = true;
    else if (arg === "--dir" && rest[i + 1] !== undefined) dir = rest[++i];
    else if (arg.startsWith("--dir=")) dir = arg.slice(6);
    else {
      console.error(
        `pgpayments: ${arg === "--dir" ? "--dir needs a value" : `unexpected '${arg}'`}.`,
      );
      console.error(`\n${INSTALL_USAGE}`);
      return 2;
    }
  }
  try {
    const report = await install(mode, { dir, force });
    for (const line of nextSteps(mode, dir, report)) out(line);
    return 0;
  } catch (error) {
    const message = error instanceof InstallError
      ? error.message
      : error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotFound
      ? `cannot read or write in ${dir}: ${(error as Error).message}`
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`pgpayments: ${message}`);
    return 1;
  }
}
