// The CLI as a person or a script runs it: a subprocess against the local stack, checking exit
// codes, the one-line failures, the streamed sync progress, and that no secret is printed.
import assert from "node:assert/strict";
import { breakAppTrigger } from "../support/app_trigger.ts";
import { eventually, withStack } from "../support/stack.ts";
import { EMULATOR_SECRET_KEY } from "../../scripts/stack.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cli/main.ts` with only the given environment (no SUPABASE_* from the outer shell). */
async function cli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  const inherited: Record<string, string> = {};
  for (const name of ["HOME", "PATH", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value) inherited[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("--help prints the usage and exits 0", async () => {
  const run = await cli(["--help"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Usage: pgpayments payments stripe <command>/);
  assert.match(run.stdout, /events replay <event id>/);
  assert.equal(run.stderr, "");
});

Deno.test("an unknown command names itself, prints the usage and exits 2", async () => {
  const run = await cli(["payments", "stripe", "launch"], {
    SUPABASE_URL: "http://127.0.0.1:9",
    SUPABASE_SERVICE_ROLE_KEY: "key",
  });
  assert.equal(run.code, 2);
  assert.equal(lines(run.stderr)[0], "pgpayments: unknown command 'payments stripe launch'.");
  assert.match(run.stderr, /Usage: pgpayments payments stripe/);
  assert.equal(run.stdout, "");
});

Deno.test("an unknown environment is refused before any request is sent", async () => {
  let requests = 0;
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen() {} },
    () => {
      requests++;
      return new Response("{}");
    },
  );
  try {
    const run = await cli(["payments", "stripe", "sync", "--environment", "prod"], {
      SUPABASE_URL: `http://127.0.0.1:${server.addr.port}`,
      SUPABASE_SERVICE_ROLE_KEY: "key",
    });
    assert.equal(run.code, 2);
    assert.deepEqual(lines(run.stderr), [
      "pgpayments: unknown environment 'prod': use test or live.",
    ]);
    assert.equal(requests, 0);
  } finally {
    abort.abort();
    await server.finished;
  }
});

Deno.test("a missing URL or service role key is one line and exit 2", async () => {
  const noUrl = await cli(["payments", "stripe", "status"], { SUPABASE_SERVICE_ROLE_KEY: "key" });
  assert.equal(noUrl.code, 2);
  assert.deepEqual(lines(noUrl.stderr), [
    "pgpayments: no project URL: pass --url or set SUPABASE_URL.",
  ]);
  const noKey = await cli(["payments", "stripe", "status", "--url", "http://127.0.0.1:9"]);
  assert.equal(noKey.code, 2);
  assert.deepEqual(lines(noKey.stderr), [
    "pgpayments: no secret key: pass --secret-key or set SUPABASE_SECRET_KEY (or the legacy SUPABASE_SERVICE_ROLE_KEY).",
  ]);
});

Deno.test("an unreachable server is one line naming the URL and exit 1", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const run = await cli([
    "payments",
    "stripe",
    "status",
    "--url",
    url,
    "--service-role-key",
    "secret-service-role-key",
  ]);
  assert.equal(run.code, 1);
  assert.deepEqual(lines(run.stderr), [
    `pgpayments: cannot reach ${url} (connection refused). Is the stack running?`,
  ]);
  assert.equal(run.stdout, "");
  assert.ok(!run.stderr.includes("secret-service-role-key"));
});

Deno.test("the npm bin shim runs the Deno CLI with node", async () => {
  const output = await new Deno.Command("node", {
    args: ["cli/payments.mjs", "payments", "stripe", "status", "--environment", "staging"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.equal(
    new TextDecoder().decode(output.stderr).trim(),
    "pgpayments: unknown environment 'staging': use test or live.",
  );
});

Deno.test("the CLI connects, reports, syncs with progress, repairs webhooks and replays events", async (t) => {
  await withStack({}, async (stack) => {
    const env = { SUPABASE_URL: stack.baseUrl, SUPABASE_SECRET_KEY: stack.secretKey };
    const runs: Run[] = [];
    const payments = async (args: string[], stdin?: string) => {
      const run = await cli(["payments", "stripe", ...args], env, stdin);
      runs.push(run);
      return run;
    };

    await t.step("status before any key: both environments disconnected", async () => {
      const run = await payments(["status"]);
      assert.equal(run.code, 0, run.stderr);
      const [header, status] = lines(run.stdout);
      assert.match(header, /^\s+test\s+live$/);
      assert.match(status, /^status\s+disconnected\s+disconnected$/);
      const json = await payments(["status", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const body = JSON.parse(json.stdout);
      assert.equal(body.environments.test.configured, false);
      assert.equal(body.environments.live.configured, false);
    });

    await t.step("a live key for the test environment is refused in one line", async () => {
      const run = await payments([
        "config",
        "set",
        "--environment",
        "test",
        "sk_live_abcdefgh1234",
      ]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      const [line, ...more] = lines(run.stderr);
      assert.deepEqual(more, []);
      assert.match(line, /^pgpayments: secretKey: must be a test-mode secret or restricted key/);
      assert.match(line, /\(HTTP 400, validation_failed\)\.$/);
    });

    await t.step("config set stores the emulator key, creates the webhook and syncs", async () => {
      const run = await payments(["config", "set", "--environment", "test", EMULATOR_SECRET_KEY]);
      assert.equal(run.code, 0, run.stderr);
      const [connected, webhook, synced] = lines(run.stdout);
      assert.match(connected, /^test: connected to acct_[0-9a-f]{16} with key \.\.\.0000$/);
      assert.match(
        webhook,
        new RegExp(
          `^test: webhook endpoint we_\\w+ created -> ${stack.functionsUrl}/webhooks/stripe/test$`,
        ),
      );
      assert.match(synced, /^test: synced 0 products, 0 prices, 0 customers/);
    });

    await t.step("the key can also come from stdin", async () => {
      const run = await payments(
        ["config", "set", "-e", "test", "-", "--json"],
        `${EMULATOR_SECRET_KEY}\n`,
      );
      assert.equal(run.code, 0, run.stderr);
      const body = JSON.parse(run.stdout);
      assert.equal(body.secretKeyLast4, "0000");
      assert.equal(body.webhook.status, "configured");
    });

    await t.step(
      "status shows the connection; --environment narrows it to one column",
      async () => {
        const run = await payments(["status", "--environment", "test"]);
        assert.equal(run.code, 0, run.stderr);
        const table = lines(run.stdout);
        assert.match(table[0], /^\s+test$/);
        assert.ok(table.includes("status          connected"), run.stdout);
        assert.ok(table.includes("secret key      ...0000"), run.stdout);
        assert.ok(table.some((line) => /^account\s+acct_[0-9a-f]{16}/.test(line)), run.stdout);
        assert.ok(table.some((line) => /^webhook\s+we_\w+$/.test(line)), run.stdout);
        assert.ok(table.some((line) => /^last sync\s+\d{4}-\d\d-\d\d \S+Z succeeded$/.test(line)));
        const json = JSON.parse((await payments(["status", "--json", "-e", "test"])).stdout);
        assert.deepEqual(Object.keys(json.environments), ["test"]);
        assert.equal(json.environments.test.configured, true);
      },
    );

    await t.step("sync streams one line per page as the server reports it", async () => {
      const stripe = stack.stripe;
      for (let start = 0; start < 101; start += 20) {
        await Promise.all(
          Array.from(
            { length: Math.min(20, 101 - start) },
            (_, i) => stripe.products.create({ name: `Product ${start + i}` }),
          ),
        );
      }
      const run = await payments(["sync", "--environment", "test"]);
      assert.equal(run.code, 0, run.stderr);
      const out = lines(run.stdout);
      assert.equal(out[0], "test: syncing from Stripe ...");
      assert.ok(out.includes("product         page   1  +100  (100 total)"), run.stdout);
      assert.ok(out.includes("product         page   2  +  1  (101 total)"), run.stdout);
      assert.ok(out.some((line) => /^price\s+page\s+1\s+\+\s*0\s+\(0 total\)$/.test(line)));
      assert.match(out.at(-1)!, /^test: synced 101 products, 0 prices, 0 customers/);

      const json = await payments(["sync", "--environment", "test", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const steps = lines(json.stdout).map((line) => JSON.parse(line));
      assert.deepEqual(steps[0], {
        type: "page",
        object: "product",
        page: 1,
        count: 100,
        total: 100,
      });
      assert.equal(steps.at(-1).type, "done");
      assert.equal(steps.at(-1).counts.product, 101);
    });

    await t.step("webhooks configure keeps a healthy endpoint", async () => {
      const run = await payments(["webhooks", "configure", "--environment", "test"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout.trim(), /^test: webhook endpoint we_\w+ already up to date -> http/);
    });

    await t.step("events replay of an unknown event fails in one line", async () => {
      const run = await payments(["events", "replay", "evt_doesnotexist", "--environment", "test"]);
      assert.equal(run.code, 1);
      const [line, ...more] = lines(run.stderr);
      assert.deepEqual(more, []);
      assert.match(line, /^pgpayments: .*evt_doesnotexist.*\(HTTP 404, not_found\)\.$/);
    });

    await t.step(
      "events replay reports a failing event in one line, then processes it",
      async () => {
        // An app trigger that fails for one product makes its event fail, as a fulfillment bug would.
        const fix = await breakAppTrigger(
          stack.sql,
          "fulfillment is broken",
          "new.payload -> 'data' -> 'object' ->> 'name' = 'Boom'",
        );
        await stack.stripe.products.create({ name: "Boom" });
        const eventId = await eventually("the Boom event to fail every delivery", async () => {
          const [row] = await stack.sql`
          select provider_event_id from payments.webhook_events
          where event_type = 'product.created' and processing_status = 'failed'
            and payload -> 'data' -> 'object' ->> 'name' = 'Boom' and attempt_count >= 3`;
          return row?.provider_event_id as string | undefined;
        });

        const failing = await payments(["events", "replay", eventId, "-e", "test"]);
        assert.equal(failing.code, 1);
        const [line, ...more] = lines(failing.stderr);
        assert.deepEqual(more, []);
        assert.match(
          line,
          new RegExp(`^pgpayments: Event ${eventId} failed again: .*fulfillment is broken`),
        );
        assert.match(line, /\(HTTP 500, event_failed\)\.$/);

        await fix();
        const fixed = await payments(["events", "replay", eventId, "-e", "test"]);
        assert.equal(fixed.code, 0, fixed.stderr);
        assert.equal(fixed.stdout.trim(), `test: event ${eventId} processed`);
        const again = await payments(["events", "replay", eventId, "-e", "test"]);
        assert.equal(
          again.stdout.trim(),
          `test: event ${eventId} was already processed; nothing to replay`,
        );
      },
    );

    await t.step("a key that is not the service role is refused with a hint", async () => {
      const run = await cli(["payments", "stripe", "status"], {
        SUPABASE_URL: stack.baseUrl,
        SUPABASE_SECRET_KEY: stack.publishableKey,
      });
      assert.equal(run.code, 1);
      const [line, ...more] = lines(run.stderr);
      assert.deepEqual(more, []);
      assert.match(line, /\(HTTP 403, forbidden\)\. Check --secret-key/);
      assert.ok(!run.stderr.includes(stack.publishableKey));
    });

    await t.step("config remove disconnects the environment", async () => {
      const run = await payments(["config", "remove", "--environment", "test"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), "test: Stripe key removed and webhook endpoint deleted");
      const status = JSON.parse((await payments(["status", "--json"])).stdout);
      assert.equal(status.environments.test.configured, false);
    });

    await t.step("no output ever contains the service role key or the Stripe key", () => {
      assert.ok(runs.length > 10);
      for (const run of runs) {
        for (const text of [run.stdout, run.stderr]) {
          assert.ok(!text.includes(stack.secretKey));
          assert.ok(!text.includes(EMULATOR_SECRET_KEY));
        }
      }
    });
  });
});

Deno.test("the CLI fails clearly when the webhook endpoint cannot be configured", async (t) => {
  // Stripe refuses a webhook URL that is not http(s): the function's PUBLIC_URL is wrong.
  await withStack({ publicUrl: "ftp://payments.invalid" }, async (stack) => {
    const env = { SUPABASE_URL: stack.baseUrl, SUPABASE_SECRET_KEY: stack.secretKey };
    const payments = (args: string[]) => cli(["payments", "stripe", ...args], env);
    const refusal = "Stripe refused to create the webhook endpoint: Invalid URL: ftp://";
    const retry = "Fix that, then run: payments stripe webhooks configure --environment test";

    await t.step("config set stores the key and syncs, then fails on the endpoint", async () => {
      const run = await payments(["config", "set", "-e", "test", EMULATOR_SECRET_KEY]);
      assert.equal(run.code, 1);
      assert.ok(!run.stdout.includes("undefined"), run.stdout);
      const [connected, synced, ...more] = lines(run.stdout);
      assert.deepEqual(more, []);
      assert.match(connected, /^test: connected to acct_[0-9a-f]{16} with key \.\.\.0000$/);
      assert.match(synced, /^test: synced 0 products/);
      const [line, ...others] = lines(run.stderr);
      assert.deepEqual(others, []);
      assert.ok(
        line.startsWith(
          `pgpayments: test: the webhook endpoint could not be configured: ${refusal}`,
        ),
        line,
      );
      assert.ok(line.endsWith(retry), line);

      const json = await payments(["config", "set", "-e", "test", EMULATOR_SECRET_KEY, "--json"]);
      assert.equal(json.code, 1);
      const body = JSON.parse(json.stdout);
      assert.equal(body.secretKeyLast4, "0000");
      assert.equal(body.webhook.status, "failed");
      assert.ok(body.webhook.reason.startsWith(refusal), body.webhook.reason);
    });

    await t.step("webhooks configure passes Stripe's refusal on in one line", async () => {
      const run = await payments(["webhooks", "configure", "-e", "test"]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      const [line, ...more] = lines(run.stderr);
      assert.deepEqual(more, []);
      assert.ok(line.startsWith(`pgpayments: ${refusal}`), line);
      assert.match(line, /\(HTTP 502, stripe_error\)\.$/);
    });

    await t.step("without PUBLIC_URL, webhooks configure fails and says why", async () => {
      stack.deps.publicUrl = undefined;
      const run = await payments(["webhooks", "configure", "-e", "test"]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      assert.deepEqual(lines(run.stderr), [
        "pgpayments: test: the webhook endpoint could not be configured: PUBLIC_URL is not set, " +
        `so Stripe cannot reach the webhook. ${retry}`,
      ]);

      const json = await payments(["webhooks", "configure", "-e", "test", "--json"]);
      assert.equal(json.code, 1);
      const body = JSON.parse(json.stdout);
      assert.equal(body.error.code, "webhook_not_configured");
      assert.match(body.error.message, /PUBLIC_URL is not set/);
      assert.deepEqual(body.error.details.webhook, {
        status: "skipped",
        reason: "PUBLIC_URL is not set, so Stripe cannot reach the webhook.",
      });
      const status = JSON.parse((await payments(["status", "--json", "-e", "test"])).stdout);
      assert.equal(status.environments.test.webhook.endpointId, null);
    });
  });
});
