// Installing into an app as its developer would: `pgpayments init` into a scratch Supabase app, the
// installed function type-checked and started from there, then upgrades of a newer release.
import assert from "node:assert/strict";
import { EMULATOR_SECRET_KEY } from "../../scripts/stack.ts";
import { install } from "../../cli/install.ts";
import { eventually, withStack } from "../support/stack.ts";

const ROOT = new URL("../..", import.meta.url);
const APP_CONFIG = `project_id = "shop"

[api]
port = 54321

[functions.other]
verify_jwt = true
`;

async function scratchApp(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "payments-app-" });
  await Deno.mkdir(`${dir}/supabase/migrations`, { recursive: true });
  await Deno.writeTextFile(`${dir}/supabase/config.toml`, APP_CONFIG);
  // The app's own newest migration is dated in the future: ours must still come after it.
  await Deno.writeTextFile(
    `${dir}/supabase/migrations/20990101000000_orders.sql`,
    "create table public.orders (id bigint primary key);\n",
  );
  return dir;
}

async function pgpayments(args: string[]) {
  const output = await new Deno.Command("node", {
    args: ["cli/payments.mjs", ...args],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

const list = async (dir: string) => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
};

/** A release as this repository ships it (its supabase/ and functions/), copied into `dir`. */
async function copyRelease(dir: string) {
  const copied = await new Deno.Command("cp", {
    args: ["-r", new URL("supabase", ROOT).pathname, new URL("functions", ROOT).pathname, dir],
  }).output();
  assert.equal(copied.code, 0, new TextDecoder().decode(copied.stderr));
}

/** Every file under `dir` with its content, to show that a refused command wrote nothing. */
async function snapshot(dir: string): Promise<[string, string][]> {
  const files: [string, string][] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await snapshot(path));
    else files.push([path, await Deno.readTextFile(path)]);
  }
  return files.sort(([a], [b]) => a.localeCompare(b));
}

Deno.test("init installs migrations after the app's newest, a self-contained function and its config", async () => {
  const app = await scratchApp();
  try {
    const run = await pgpayments(["init", "--dir", app]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /supabase db push/);
    assert.match(run.stdout, /supabase functions deploy payments/);
    assert.match(run.stdout, /webhooks\/stripe\/test/);

    const source = (await list(new URL("supabase/migrations/", ROOT).pathname))
      .filter((name) => name.endsWith(".sql"));
    const installed = (await list(`${app}/supabase/migrations`)).filter((name) =>
      name !== "20990101000000_orders.sql"
    );
    assert.equal(installed.length, source.length);
    for (const [i, name] of installed.entries()) {
      assert.ok(name > "20990101000000_orders.sql", `${name} comes after the app's newest`);
      assert.equal(
        await Deno.readTextFile(`${app}/supabase/migrations/${name}`),
        await Deno.readTextFile(new URL(`supabase/migrations/${source[i]}`, ROOT)),
        `${name} is ${source[i]}, in order`,
      );
    }

    const config = await Deno.readTextFile(`${app}/supabase/config.toml`);
    assert.ok(config.startsWith(APP_CONFIG), "the app's own settings are untouched");
    assert.match(config, /\[functions\.payments\]\n#[^\n]*\nverify_jwt = false\n$/);

    // Nothing in the installed function reaches outside the app's supabase/functions/.
    const functions = `${app}/supabase/functions`;
    for (const dir of [`${functions}/payments`, `${functions}/_shared/payments`]) {
      for (const name of await list(dir)) {
        const text = await Deno.readTextFile(`${dir}/${name}`);
        for (const [, specifier] of text.matchAll(/from\s+"(\.[^"]+)"/g)) {
          const target = new URL(specifier, `file://${dir}/${name}`).pathname;
          assert.ok(target.startsWith(`${functions}/`), `${name} imports ${specifier}`);
        }
      }
    }

    const again = await pgpayments(["init", "--dir", app]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already installed.*pgpayments upgrade/);
    const upgrade = await pgpayments(["upgrade", "--dir", app]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.match(upgrade.stdout, /Nothing to do/);
  } finally {
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("init refuses a folder that is not a Supabase app, and upgrade one without payments", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const init = await pgpayments(["init", "--dir", empty]);
    assert.equal(init.code, 1);
    assert.match(init.stderr, /no supabase\/config\.toml.*supabase init/);
    await Deno.mkdir(`${empty}/supabase`);
    await Deno.writeTextFile(`${empty}/supabase/config.toml`, "");
    const upgrade = await pgpayments(["upgrade", "--dir", empty]);
    assert.equal(upgrade.code, 1);
    assert.match(upgrade.stderr, /not installed.*pgpayments init/);
    assert.deepEqual(await list(`${empty}/supabase`), ["config.toml"], "nothing was written");
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("the installed function type-checks and serves health and a signed webhook from the app", async () => {
  const app = await scratchApp();
  try {
    await install("init", { dir: app, force: false });
    const entry = `${app}/supabase/functions/payments/index.ts`;
    const importMap = `${app}/supabase/functions/payments/deno.json`;
    // Only what Supabase gives a function: nothing of this shell's DATABASE_URL and the like.
    const inherited = Object.fromEntries(
      ["HOME", "PATH", "DENO_DIR", "TMPDIR"].flatMap((name) => {
        const value = Deno.env.get(name);
        return value ? [[name, value]] : [];
      }),
    );
    const deno = (args: string[], env: Record<string, string> = {}) =>
      new Deno.Command(Deno.execPath(), {
        args,
        cwd: app,
        clearEnv: true,
        env: { ...inherited, NO_COLOR: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      });
    const checked = await deno(["check", "--config", importMap, entry]).output();
    assert.equal(checked.code, 0, new TextDecoder().decode(checked.stderr));

    await withStack({ jwtSecret: null }, async (stack) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      listener.close();
      const url = `http://127.0.0.1:${port}/functions/v1/payments`;
      const child = deno(["run", "--allow-net", "--allow-env", "--config", importMap, entry], {
        DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
        SUPABASE_DB_URL: stack.databaseUrl,
        SUPABASE_SECRET_KEYS: JSON.stringify({ default: stack.secretKey }),
        SUPABASE_JWKS: JSON.stringify(stack.jwks),
        STRIPE_API_BASE: stack.emulatorUrl,
        PUBLIC_URL: `http://127.0.0.1:${port}`,
      }).spawn();
      try {
        const health = await eventually("the installed function to answer", async () => {
          try {
            const response = await fetch(`${url}/health`);
            return response.status === 200 ? await response.json() : undefined;
          } catch {
            return undefined;
          }
        });
        assert.deepEqual(health, { status: "ok", database: "ok" });

        // Connecting Stripe through the installed function points the emulator's signed
        // webhooks at it; a catalog edit then arrives as a verified event.
        const connected = await fetch(`${url}/stripe/test/config`, {
          method: "PUT",
          headers: { apikey: stack.secretKey, "content-type": "application/json" },
          body: JSON.stringify({ secretKey: EMULATOR_SECRET_KEY }),
        });
        assert.equal(connected.status, 200, await connected.text());
        const product = await stack.stripe.products.create({ name: "Installed" });
        const event = await eventually("the signed product.created event", async () => {
          const [row] = await stack.sql`
            select processing_status from payments.webhook_events
            where event_type = 'product.created' and payload -> 'data' -> 'object' ->> 'id' = ${product.id}`;
          return row;
        });
        assert.equal(event.processing_status, "processed");
      } finally {
        child.kill("SIGTERM");
        await child.output();
      }
    });
  } finally {
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("upgrade adds a newer release's migrations and files, and keeps local edits unless forced", async () => {
  const app = await scratchApp();
  const release = await Deno.makeTempDir({ prefix: "payments-release-" });
  try {
    await install("init", { dir: app, force: false });
    // The app moves on: a migration of its own, dated after ours.
    const ownNewest = "20991231235959_invoices.sql";
    await Deno.writeTextFile(`${app}/supabase/migrations/${ownNewest}`, "select 1;\n");

    // A newer release: everything as now, plus one migration and a changed function file.
    await copyRelease(release);
    await Deno.writeTextFile(
      `${release}/supabase/migrations/20270101000000_new_feature.sql`,
      "-- migrate:up\nselect 1;\n-- migrate:down\n",
    );
    const changed = "errors.ts";
    await Deno.writeTextFile(
      `${release}/functions/${changed}`,
      (await Deno.readTextFile(`${release}/functions/${changed}`)) + "\n// newer release\n",
    );
    const source = new URL(`file://${release}/`);

    const shared = `${app}/supabase/functions/_shared/payments`;
    await Deno.writeTextFile(`${shared}/${changed}`, "// edited by the app\n");
    await assert.rejects(
      () => install("upgrade", { dir: app, force: false, source }),
      new RegExp(`supabase/functions/_shared/payments/${changed}.*--force`),
    );
    assert.equal(await Deno.readTextFile(`${shared}/${changed}`), "// edited by the app\n");
    assert.ok(
      !(await list(`${app}/supabase/migrations`)).some((name) => name.includes("new_feature")),
      "a refused upgrade writes nothing",
    );

    const report = await install("upgrade", { dir: app, force: true, source });
    assert.equal(report.migrations.length, 1);
    const added = report.migrations[0].split("/").at(-1)!;
    assert.match(added, /^\d{14}_payments_new_feature\.sql$/);
    assert.ok(added > ownNewest, `${added} comes after the app's newest`);
    assert.deepEqual(report.written, [`supabase/functions/_shared/payments/${changed}`]);
    assert.match(await Deno.readTextFile(`${shared}/${changed}`), /newer release/);

    const again = await install("upgrade", { dir: app, force: false, source });
    assert.deepEqual({ migrations: again.migrations, written: again.written }, {
      migrations: [],
      written: [],
    });
  } finally {
    await Deno.remove(app, { recursive: true });
    await Deno.remove(release, { recursive: true });
  }
});

// An earlier commit's migrations that this release cannot continue: withdrawn names (the schema
// was regrouped before its first release) or the same names defined differently.
const EARLIER_RELEASES: [string, (migrations: string) => Promise<void>, number][] = [
  ["no longer ships", async (migrations) => {
    await Deno.remove(migrations, { recursive: true });
    await Deno.mkdir(migrations);
    for (
      const name of [
        "20261127000100_schemas_and_helpers.sql",
        "20261130007000_sync_checkpoints.sql",
      ]
    ) {
      await Deno.writeTextFile(
        `${migrations}/${name}`,
        "-- migrate:up\nselect 1;\n-- migrate:down\n",
      );
    }
  }, 2],
  ["ships with other content", async (migrations) => {
    const [first] = [...Deno.readDirSync(migrations)].map((entry) => entry.name)
      .filter((name) => name.endsWith(".sql")).sort();
    const path = `${migrations}/${first}`;
    await Deno.writeTextFile(path, (await Deno.readTextFile(path)) + "\n-- as it was\n");
  }, 1],
];

for (const [how, earlierMigrations, count] of EARLIER_RELEASES) {
  Deno.test(`upgrade refuses an install whose migrations this release ${how}, writing nothing`, async () => {
    const app = await scratchApp();
    const earlier = await Deno.makeTempDir({ prefix: "payments-earlier-" });
    try {
      await copyRelease(earlier);
      await earlierMigrations(`${earlier}/supabase/migrations`);
      await install("init", { dir: app, force: false, source: new URL(`file://${earlier}/`) });
      const before = await snapshot(app);

      for (const args of [["upgrade", "--dir", app], ["upgrade", "--dir", app, "--force"]]) {
        const upgrade = await pgpayments(args);
        assert.equal(upgrade.code, 1, upgrade.stdout);
        assert.match(
          upgrade.stderr,
          new RegExp(
            `^pgpayments: .* has ${count} payments migration\\(s\\) from an earlier release that this ` +
              "release no longer ships as they are \\(supabase/migrations/\\d{14}_payments_",
          ),
        );
        assert.match(upgrade.stderr, /Reinstall on a fresh database/);
        assert.deepEqual(await snapshot(app), before, `${args.join(" ")} wrote nothing`);
      }
    } finally {
      await Deno.remove(app, { recursive: true });
      await Deno.remove(earlier, { recursive: true });
    }
  });
}
