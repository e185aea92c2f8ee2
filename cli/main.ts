// `payments stripe ...`: the admin API from a terminal. Run with
// `deno run --allow-net --allow-env cli/main.ts payments stripe status` or through the npm bin.
import type * as Wire from "../functions/wire.ts";
import { type Command, type Options, parseArgs, USAGE, UsageError } from "./args.ts";
import { runInstall } from "./install.ts";
import { type Api, apiFrom, CliError, ndjsonLines, readJson, send } from "./api.ts";
import { DEFAULT_EMULATOR_URL, trigger } from "./trigger.ts";
import {
  progressLine,
  reconcileSummary,
  statusTable,
  syncSummary,
  webhookFailure,
  webhookLine,
} from "./format.ts";
import { runDashboard } from "./dashboard.ts";
import { runLocalStatus } from "./local_status.ts";
import { runOperator } from "./operator.ts";

interface Io {
  out: (line: string) => void;
  /** stdout is a terminal (and NO_COLOR is unset): colour is allowed. */
  terminal?: boolean;
  env: (name: string) => string | undefined;
  readStdin: () => Promise<string>;
}

/** The program's own name, which starts every message. */
const PROGRAM = "pgpayments";

/** Runs one command line and returns the exit code; never throws. */
export async function run(argv: string[], io: Io): Promise<number> {
  if (argv[0] === "init" || argv[0] === "upgrade") return await runInstall(argv, io.out);
  let options: Options | undefined;
  try {
    if (argv[0] === "dashboard") return await runDashboard(argv.slice(1), io);
    if (argv[0] === "status") return await runLocalStatus(argv.slice(1), io);
    const parsed = parseArgs(argv);
    if (parsed.kind === "help") {
      io.out(USAGE);
      return 0;
    }
    options = parsed.options;
    const command = parsed.command;
    if (command.name === "trigger") {
      await trigger(command.event, {
        emulatorUrl: options.emulatorUrl ?? io.env("STRIPE_EMULATOR_URL") ??
          (io.env("STRIPE_EMULATOR_PORT")
            ? `http://127.0.0.1:${io.env("STRIPE_EMULATOR_PORT")}`
            : DEFAULT_EMULATOR_URL),
        apiKey: options.apiKey,
        json: options.json,
      }, io.out);
      return 0;
    }
    const api = connection(options, io);
    await execute(command, options, api, io);
    return 0;
  } catch (error) {
    // Scripts that asked for JSON get every failure as JSON too, on stdout.
    const json = options?.json ?? argv.includes("--json");
    const message = error instanceof Error ? error.message : String(error);
    if (json) {
      const code = error instanceof UsageError ? "usage" : "failed";
      const body = error instanceof CliError && error.body !== undefined
        ? error.body
        : { error: { code, message } };
      io.out(JSON.stringify(body, null, 2));
    }
    console.error(`${PROGRAM}: ${message}`);
    if (error instanceof UsageError) {
      if (error.showUsage) console.error(`\n${USAGE}`);
      return 2;
    }
    return 1;
  }
}

function connection(options: Options, io: Io): Api {
  const url = options.url ?? io.env("SUPABASE_URL");
  const key = options.serviceRoleKey ?? io.env("SUPABASE_SECRET_KEY") ??
    io.env("SUPABASE_SERVICE_ROLE_KEY");
  if (!url) throw new UsageError("no project URL: pass --url or set SUPABASE_URL.");
  if (!key) {
    throw new UsageError(
      "no secret key: pass --secret-key or set SUPABASE_SECRET_KEY (or the legacy SUPABASE_SERVICE_ROLE_KEY).",
    );
  }
  try {
    return apiFrom(url, key, options.functionName);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function execute(
  command: Exclude<Command, { name: "trigger" }>,
  options: Options,
  api: Api,
  io: Io,
): Promise<void> {
  const environment: Wire.Environment = options.environment ?? "test";
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  switch (command.name) {
    case "status": {
      const body = await readJson<Wire.StatusResponse>(await send(api, "GET", "/stripe/status"));
      const names: Wire.Environment[] = options.environment
        ? [options.environment]
        : ["test", "live"];
      const shown = Object.fromEntries(names.map((name) => [name, body.environments[name]]));
      if (options.json) return print({ ...body, environments: shown });
      io.out(statusTable(shown));
      for (const warning of body.warnings ?? []) io.out(`warning: ${warning}`);
      return;
    }
    case "config set": {
      const secretKey = command.secretKey === "-"
        ? (await io.readStdin()).trim()
        : command.secretKey.trim();
      if (!secretKey) throw new UsageError("the secret key read from stdin is empty.");
      const body = await readJson<Wire.ConfigResponse>(
        await send(api, "PUT", `/stripe/${environment}/config`, { body: { secretKey } }),
      );
      // The key is stored either way; an endpoint that could not be configured still fails the
      // command, because no event would arrive.
      const webhook = webhookLine(environment, body.webhook);
      const failure = webhook ? undefined : webhookFailure(environment, body.webhook);
      if (options.json) {
        if (failure) throw new CliError(failure, body);
        return print(body);
      }
      io.out(
        `${environment}: connected to ${body.account.id} with key ...${body.secretKeyLast4}${
          body.account.accountChanged ? " (a different account: old rows were archived)" : ""
        }`,
      );
      if (webhook) io.out(webhook);
      if (body.sync?.type === "done") io.out(`${environment}: ${syncSummary(body.sync)}`);
      if (failure) throw new CliError(failure);
      return;
    }
    case "config remove": {
      const body = await readJson<Wire.ConfigRemovedResponse>(
        await send(api, "DELETE", `/stripe/${environment}/config`),
      );
      if (options.json) return print(body);
      if (!body.removed) return io.out(`${environment}: no Stripe key was configured`);
      return io.out(
        `${environment}: Stripe key removed${
          body.webhookRemoved ? " and webhook endpoint deleted" : ""
        }`,
      );
    }
    case "sync":
      return await sync(api, environment, command.resume, options.json, io);
    case "webhooks configure": {
      const body = await readJson<Wire.WebhookEndpointResponse>(
        await send(api, "POST", `/stripe/${environment}/webhook`),
      );
      const line = webhookLine(environment, body.webhook);
      if (!line) {
        const message = webhookFailure(environment, body.webhook);
        const error: Wire.ErrorBody = {
          error: { code: "webhook_not_configured", message, details: body },
        };
        throw new CliError(message, error);
      }
      if (options.json) return print(body);
      return io.out(line);
    }
    case "events replay": {
      const body = await readJson<Wire.ReplayResponse>(
        await send(
          api,
          "POST",
          `/stripe/${environment}/events/${encodeURIComponent(command.eventId)}/replay`,
        ),
      );
      if (options.json) return print(body);
      const outcome: Record<string, string> = {
        processed: "processed",
        ignored: "ignored (nothing to project for its type)",
        duplicate: "was already processed; nothing to replay",
      };
      return io.out(
        `${environment}: event ${body.event.eventId ?? command.eventId} ${
          outcome[body.event.status] ?? body.event.status
        }${body.event.error ? `: ${body.event.error}` : ""}`,
      );
    }
    case "events reconcile": {
      const { since, type } = options.filters;
      const body = await readJson<Wire.ReconcileResponse>(
        await send(api, "POST", `/stripe/${environment}/reconcile`, {
          body: {
            ...(since ? { since } : {}),
            ...(type ? { types: type.split(",").map((name) => name.trim()) } : {}),
          },
        }),
      );
      // Failed events are stored (a replay or the next run retries them), but the run did not
      // fully succeed: exit 1.
      const failure = body.failed > 0
        ? `${environment}: ${body.failed} reconciled event(s) failed; see payments stripe events list --status failed`
        : undefined;
      if (options.json) {
        if (failure) throw new CliError(failure, body);
        return print(body);
      }
      io.out(`${environment}: ${reconcileSummary(body)}`);
      if (failure) throw new CliError(failure);
      return;
    }
    default:
      return await runOperator(command, environment, options.filters, options.json, api, {
        out: io.out,
        terminal: io.terminal ?? false,
      });
  }
}

/** Streams the sync: one line per page as the server reports it. */
async function sync(
  api: Api,
  environment: Wire.Environment,
  resume: boolean,
  json: boolean,
  io: Io,
): Promise<void> {
  const response = await send(api, "POST", `/stripe/${environment}/sync`, {
    accept: "application/x-ndjson",
    body: { resume } satisfies Wire.SyncRequest,
  });
  if (!(response.headers.get("content-type") ?? "").includes("application/x-ndjson")) {
    // A server that does not stream answers once, at the end.
    const body = await readJson<Wire.SyncResponse>(response);
    if (json) return io.out(JSON.stringify(body, null, 2));
    if (body.sync?.type === "done") return io.out(`${environment}: ${syncSummary(body.sync)}`);
    throw new CliError(`sync did not finish: ${JSON.stringify(body.sync ?? body)}`);
  }
  if (!json) io.out(`${environment}: syncing from Stripe ...`);
  for await (const line of ndjsonLines(response)) {
    let step: Wire.SyncProgress;
    try {
      step = JSON.parse(line);
    } catch {
      throw new CliError(`the sync stream sent a line that is not JSON: ${line.slice(0, 120)}`);
    }
    if (json) io.out(line);
    if (step.type === "error") {
      throw new CliError(`sync failed: ${step.message} (${step.code}).`);
    }
    if (step.type === "done") {
      if (!json) io.out(`${environment}: ${syncSummary(step)}`);
      return;
    }
    const text = progressLine(step);
    if (text && !json) io.out(text);
  }
  throw new CliError("sync stopped before it finished (the server closed the stream).");
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

function optionalEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env for this name
  }
}

if (import.meta.main) {
  const code = await run(Deno.args, {
    out: (line) => console.log(line),
    env: optionalEnv,
    readStdin: () => readAll(Deno.stdin.readable),
    terminal: Deno.stdout.isTerminal() && !optionalEnv("NO_COLOR"),
  });
  Deno.exit(code);
}
