// A real cluster stopped under load (`pg_ctl stop -m immediate`) and started again: every
// request answers within its bound during the outage, with the 503 the one error mapping gives
// an unavailable database, and the function heals by itself.
import assert from "node:assert/strict";
import { toPaymentsError } from "../../functions/db.ts";
import { errorAnswer, PaymentsError } from "../../functions/errors.ts";
import { startCluster } from "../../scripts/lib/cluster.mjs";
import { createPrices, EMULATOR_SECRET_KEY, startStack } from "../../scripts/stack.ts";
import { paymentRequest } from "../support/checkout.ts";
import { customerUpdatedEvent, signPayload } from "../support/webhooks.ts";

const SECRET = "whsec_test_secret_for_outage_tests";
const SENDERS = 8;

type Cluster = Awaited<ReturnType<typeof startCluster>>;

/** What errors.ts answers for a lost database connection: 503 and its code, on every route. */
const UNAVAILABLE = (() => {
  const lost = toPaymentsError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
  const { status, body } = errorAnswer(lost, () => {});
  return { status, code: body.error.code };
})();

/** pg_ctl on the cluster's data directory, as `postgres` when we are root (as startCluster). */
async function pgCtl(cluster: Cluster, args: string[]) {
  const pgCtlPath = `${cluster.binDir}/pg_ctl`;
  const argv = ["-D", `${cluster.dir}/data`, ...args];
  const [command, commandArgs] = Deno.uid() === 0
    ? ["runuser", ["-u", "postgres", "--", pgCtlPath, ...argv]]
    : [pgCtlPath, argv];
  const { code, stderr } = await new Deno.Command(command, {
    args: commandArgs,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

interface Sample {
  kind: string;
  status: number;
  /** The error body's code, when there is one. */
  code?: string;
  ms: number;
  started: number;
}

/** Sends `request` and samples its answer (kind, status, error code, time taken). */
async function sample(kind: string, request: Request): Promise<Sample> {
  const started = Date.now();
  const response = await fetch(request);
  const text = await response.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text)?.error?.code;
  } catch {
    // not JSON: no code
  }
  return { kind, status: response.status, code, ms: Date.now() - started, started };
}

Deno.test({
  name:
    "a database outage under load answers 503 database_unavailable within bounds on user, webhook and operator routes, and the function heals itself",
  // Calls abandoned at their bound, and the pools replaced, finish after the test.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster();
    const stack = await startStack({ databaseUrl: cluster.url });
    try {
      const connected = await stack.connectStripe();
      assert.equal(connected.status, 200, await connected.text());
      await stack.sql`
        select payments_private.set_provider_secret('test', 'webhook_secret', ${SECRET})`;
      const [price] = await createPrices(stack.stripe, "Outage", [
        { currency: "usd", unitAmount: 700 },
      ]);

      let sequence = 0;
      const send = async (kind: typeof kinds[number]): Promise<Sample> => {
        const n = sequence++;
        let request: Request;
        if (kind === "health") request = new Request(`${stack.functionsUrl}/health`);
        else if (kind === "webhook") {
          const id = `evt_outage_${n}`;
          const body = JSON.stringify(customerUpdatedEvent(id, { customerId: `cus_${id}` }));
          request = new Request(`${stack.functionsUrl}/webhooks/stripe/test`, {
            method: "POST",
            headers: { "stripe-signature": await signPayload(body, SECRET) },
            body,
          });
        } else {
          // A user per checkout: the per-user session cap is not what this test is about.
          const token = await stack.userToken(crypto.randomUUID());
          request = new Request(`${stack.functionsUrl}/stripe/test/checkout-sessions`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify(paymentRequest(price, { idempotencyKey: `outage-${n}` })),
          });
        }
        return await sample(kind, request);
      };

      // The operator routes, each once during the outage: the lists, one stored event, replay,
      // config, sync (plain and streamed) and a catalog create all reach the database.
      const operator = (method: string, path: string, body?: unknown, headers = {}) =>
        sample(
          `${method} ${path}${JSON.stringify(headers) === "{}" ? "" : " (streamed)"}`,
          new Request(`${stack.functionsUrl}/stripe/test/${path}`, {
            method,
            headers: {
              authorization: `Bearer ${stack.secretKey}`,
              ...(body === undefined ? {} : { "content-type": "application/json" }),
              ...headers,
            },
            body: body === undefined ? undefined : JSON.stringify(body),
          }),
        );
      const operatorRoutes = () =>
        Promise.all([
          operator("GET", "webhook-events"),
          operator("GET", "transactions"),
          operator("GET", "overview"),
          operator("GET", "webhook-events/evt_outage_0"),
          operator("POST", "events/evt_outage_0/replay"),
          operator("PUT", "config", { secretKey: EMULATOR_SECRET_KEY }),
          operator("POST", "sync"),
          operator("POST", "sync", undefined, { accept: "application/x-ndjson" }),
          operator("POST", "products", { name: "Made during the outage" }),
        ]);

      const kinds = ["health", "webhook", "checkout"] as const;
      const samples: Sample[] = [];
      let running = true;
      const senders = Array.from({ length: SENDERS }, async (_, i) => {
        for (let round = i; running; round++) {
          samples.push(await send(kinds[round % kinds.length]));
        }
      });

      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const stopping = Date.now();
      await pgCtl(cluster, ["-m", "immediate", "stop"]);
      const stoppedAt = Date.now();
      const [operatorSamples] = await Promise.all([
        operatorRoutes(),
        new Promise((resolve) => setTimeout(resolve, 6_000)),
      ]);
      const restartedAt = Date.now();
      await pgCtl(cluster, [
        "-w",
        "-l",
        `${cluster.dir}/restarted.log`,
        "-o",
        `-p ${cluster.port} -k ${cluster.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "start",
      ]);

      // Healed: every kind of request succeeds again, without a restart of the function.
      const healed = new Set<string>();
      const deadline = Date.now() + 20_000;
      while (healed.size < kinds.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        for (const sample of samples.filter((s) => s.started > restartedAt)) {
          if (sample.status === 200 || sample.status === 201) healed.add(sample.kind);
        }
      }
      running = false;
      await Promise.all(senders);

      const before = samples.filter((s) => s.started + s.ms < stopping);
      // Requests that ended before the database was back (later ones may rightly succeed).
      const during = samples.filter((s) =>
        s.started >= stoppedAt && s.started + s.ms < restartedAt
      );
      assert.ok(before.length > 0 && before.every((s) => s.status < 300), "healthy before");
      const bound = { health: 2_000, webhook: 5_000, checkout: 5_000 };
      for (const kind of kinds) {
        const ofKind = during.filter((s) => s.kind === kind);
        assert.ok(ofKind.length > 0, `${kind} requests were sent during the outage`);
        const slow = ofKind.filter((s) => s.ms > bound[kind]);
        assert.deepEqual(slow, [], `${kind} answers within ${bound[kind]} ms during the outage`);
        const wrong = ofKind.filter((s) =>
          s.status !== UNAVAILABLE.status || (kind !== "health" && s.code !== UNAVAILABLE.code)
        );
        assert.deepEqual(wrong, [], `${kind} answers ${UNAVAILABLE.status} ${UNAVAILABLE.code}`);
      }
      assert.deepEqual(
        operatorSamples.filter((s) =>
          s.status !== UNAVAILABLE.status || s.code !== UNAVAILABLE.code || s.ms > 5_000
        ),
        [],
        `operator routes answer ${UNAVAILABLE.status} ${UNAVAILABLE.code} within 5000 ms`,
      );
      assert.deepEqual([...healed].sort(), [...kinds].sort(), "every route recovered by itself");
    } finally {
      await stack.stop();
      cluster.stop();
    }
  },
});

Deno.test("a lost connection (EPIPE, crash shutdown 57P02 and the like) answers 503 database_unavailable", () => {
  assert.deepEqual(UNAVAILABLE, { status: 503, code: "database_unavailable" });
  for (const code of ["EPIPE", "ECONNRESET", "57P01", "57P02", "57P03", "08006", "08003"]) {
    const mapped = toPaymentsError(Object.assign(new Error("connection lost"), { code }));
    assert.ok(mapped instanceof PaymentsError, code);
    assert.deepEqual([mapped.status, mapped.code], [503, "database_unavailable"], code);
  }
});
