// Command line parsing: which command, and the flags that go with it. No I/O here.
import {
  type Filters,
  OPERATOR_FLAGS,
  OPERATOR_USAGE,
  type OperatorCommand,
  parseOperatorCommand,
} from "./operator.ts";

import type { Environment } from "../functions/wire.ts";

export type Command =
  | { name: "status" }
  | { name: "config set"; secretKey: string }
  | { name: "config remove" }
  | { name: "sync"; resume: boolean }
  | { name: "webhooks configure" }
  | { name: "events replay"; eventId: string }
  | { name: "events reconcile" }
  | { name: "trigger"; event: string }
  | OperatorCommand;

export interface Options {
  url?: string;
  serviceRoleKey?: string;
  /** Set only when the command line named one; commands that need one default to `test`. */
  environment?: Environment;
  functionName: string;
  json: boolean;
  /** `trigger` only: the Stripe emulator, and the API key naming the account to run in. */
  emulatorUrl?: string;
  apiKey?: string;
  /** Filters and fields of the operator verbs (cli/operator.ts). */
  filters: Filters;
}

export type Parsed =
  | { kind: "help" }
  | { kind: "run"; command: Command; options: Options };

/** A mistake on the command line: exit code 2, and usage is printed when `showUsage`. */
export class UsageError extends Error {
  constructor(message: string, readonly showUsage = false) {
    super(message);
    this.name = "UsageError";
  }
}

export const USAGE = `Usage: pgpayments payments stripe <command> [options]
       pgpayments init|upgrade [--dir <app>] [--force]   (install into an app's supabase/)
       pgpayments status --local [--json]   (the banner of npm start again: URLs, keys, JWT)

Commands:
  status                              Keys, account, webhook, last sync and row counts
  config set <secret key>             Validate and store a Stripe secret key, create the
                                      webhook endpoint and sync ('-' reads the key from stdin)
  config remove                       Remove the key and the managed webhook endpoint
  sync [--resume]                     Mirror products, prices, customers, subscriptions and
                                      recent payments, showing progress page by page;
                                      --resume continues an interrupted sync from its checkpoint
  webhooks configure                  Create or repair the managed webhook endpoint
  events replay <event id>            Process a stored webhook event again
  events reconcile [--since 72h] [--type T1,T2]
                                      Ingest the events Stripe's log holds (30 days) that
                                      the database has not stored (missed deliveries)
  trigger <event>                     Run the flow that emits <event> on the local Stripe
                                      emulator (checkout.session.completed, invoice.paid, ...)
${OPERATOR_USAGE}

Options:
  -e, --environment <test|live>       Stripe environment (default: test; status shows both)
      --url <url>                     Project URL (default: $SUPABASE_URL)
      --secret-key <key>              Secret API key, sb_secret_... (default: $SUPABASE_SECRET_KEY,
                                      then the legacy $SUPABASE_SERVICE_ROLE_KEY)
      --function-name <name>          Edge function name (default: payments)
      --json                          Print the API's JSON (NDJSON for sync) for scripts
      --emulator-url <url>            trigger: the emulator (default: $STRIPE_EMULATOR_URL, else
                                      http://127.0.0.1:$STRIPE_EMULATOR_PORT, else port 12111)
      --api-key <sk_test_...>         trigger: the emulator account to run in
  -h, --help                          Show this help

The dashboard on this machine, against any deployment: pgpayments dashboard --help

Exit codes: 0 success, 1 the server, the network or the webhook endpoint failed,
2 the command line is wrong.
Example: pgpayments payments stripe config set --environment test sk_test_...`;

type ValueKey =
  | "url"
  | "serviceRoleKey"
  | "environment"
  | "functionName"
  | "emulatorUrl"
  | "apiKey"
  | (typeof OPERATOR_FLAGS)[keyof typeof OPERATOR_FLAGS];

const VALUE_FLAGS: Record<string, ValueKey> = {
  ...OPERATOR_FLAGS,
  "--emulator-url": "emulatorUrl",
  "--api-key": "apiKey",
  "--url": "url",
  "--secret-key": "serviceRoleKey",
  // The legacy name of the same credential.
  "--service-role-key": "serviceRoleKey",
  "--environment": "environment",
  "-e": "environment",
  "--function-name": "functionName",
};

export function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const values: Partial<Record<ValueKey, string>> = {};
  let json = false;
  let help = false;
  let resume = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    if (arg === "--json") {
      json = true;
      continue;
    }
    if (arg === "--resume") {
      resume = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const key = VALUE_FLAGS[name];
    if (key) {
      let value: string | undefined;
      if (name !== arg) value = arg.slice(eq + 1);
      else {
        value = argv[++i];
        if (value === undefined || (value.startsWith("-") && value !== "-")) {
          throw new UsageError(`${name} needs a value.`);
        }
      }
      values[key] = value;
      continue;
    }
    if (arg.startsWith("-") && arg !== "-") {
      throw new UsageError(`unknown option '${name}'.`, true);
    }
    positional.push(arg);
  }

  if (help) return { kind: "help" };

  let environment: Environment | undefined;
  if (values.environment !== undefined) {
    if (values.environment !== "test" && values.environment !== "live") {
      throw new UsageError(`unknown environment '${values.environment}': use test or live.`);
    }
    environment = values.environment;
  }
  const functionName = values.functionName ?? "payments";
  if (!/^[A-Za-z0-9_-]+$/.test(functionName)) {
    throw new UsageError(`--function-name '${functionName}' is not a function name.`);
  }

  // `payments stripe status` and `stripe status` both work: the first word names the module.
  const words = positional[0] === "payments" ? positional.slice(1) : positional;
  if (words.length === 0) return { kind: "help" };
  const command = parseCommand(words);
  if (resume) {
    if (command.name !== "sync") throw new UsageError("--resume only applies to sync.");
    command.resume = true;
  }
  return {
    kind: "run",
    command,
    options: {
      url: values.url,
      serviceRoleKey: values.serviceRoleKey,
      environment,
      functionName,
      json,
      emulatorUrl: values.emulatorUrl,
      apiKey: values.apiKey,
      filters: Object.fromEntries(
        Object.values(OPERATOR_FLAGS).flatMap((name) =>
          values[name] === undefined ? [] : [[name, values[name]]]
        ),
      ),
    },
  };
}

function parseCommand(words: string[]): Command {
  const [provider, verb, ...rest] = words;
  const unknown = () =>
    new UsageError(`unknown command '${["payments", ...words].join(" ")}'.`, true);
  if (provider !== "stripe") throw unknown();
  const extra = (allowed: number) => {
    if (rest.length > allowed) {
      throw new UsageError(`unexpected argument '${rest[allowed]}'.`, true);
    }
  };
  const operator = parseOperatorCommand(verb, rest);
  if (operator) return operator;
  switch (verb) {
    case "status":
      extra(0);
      return { name: "status" };
    case "sync":
      extra(0);
      return { name: "sync", resume: false };
    case "config":
      if (rest[0] === "set") {
        if (rest.length < 2) {
          throw new UsageError(
            "config set needs a secret key: payments stripe config set --environment test sk_test_...",
          );
        }
        extra(2);
        return { name: "config set", secretKey: rest[1] };
      }
      if (rest[0] === "remove") {
        extra(1);
        return { name: "config remove" };
      }
      throw unknown();
    case "webhooks":
      if (rest[0] !== "configure") throw unknown();
      extra(1);
      return { name: "webhooks configure" };
    case "events":
      if (rest[0] === "reconcile") {
        extra(1);
        return { name: "events reconcile" };
      }
      if (rest[0] !== "replay") throw unknown();
      if (rest.length < 2) {
        throw new UsageError(
          "events replay needs an event id: payments stripe events replay evt_... --environment test",
        );
      }
      extra(2);
      return { name: "events replay", eventId: rest[1] };
    case "trigger":
      if (rest.length < 1) {
        throw new UsageError("trigger needs an event type: payments stripe trigger invoice.paid");
      }
      extra(1);
      return { name: "trigger", event: rest[0] };
    default:
      throw unknown();
  }
}
