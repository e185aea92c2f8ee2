// Command line parsing for every `pgpayments` command: which command, and the flags that go with
// it (scanArgs also serves `pgpayments dashboard`). No I/O here.
import type { Environment } from "../functions/wire.ts";

/** The operator verbs (cli/operator.ts runs them). */
export type OperatorCommand =
  | { name: "events list" }
  | { name: "events show"; eventId: string }
  | { name: "events tail" }
  | { name: "products list" }
  | { name: "products create" }
  | { name: "prices create" }
  | { name: "transactions list" };

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

/**
 * Every command after `payments stripe`: its words, and the one argument that follows them, if
 * any, with what to say when it is missing.
 */
const COMMANDS: { words: string; argument?: [field: string, missing: string] }[] = [
  { words: "status" },
  { words: "sync" },
  {
    words: "config set",
    argument: [
      "secretKey",
      "config set needs a secret key: payments stripe config set --environment test sk_test_...",
    ],
  },
  { words: "config remove" },
  { words: "webhooks configure" },
  {
    words: "events replay",
    argument: [
      "eventId",
      "events replay needs an event id: payments stripe events replay evt_... --environment test",
    ],
  },
  { words: "events reconcile" },
  {
    words: "trigger",
    argument: ["event", "trigger needs an event type: payments stripe trigger invoice.paid"],
  },
  { words: "events list" },
  {
    words: "events show",
    argument: ["eventId", "events show needs an event id: payments stripe events show evt_..."],
  },
  { words: "events tail" },
  { words: "products list" },
  { words: "products create" },
  { words: "prices create" },
  { words: "transactions list" },
];

/** Value flags of the operator verbs, by flag → the filter name they set. */
const OPERATOR_FLAGS = {
  "--status": "status",
  "--type": "type",
  "--limit": "limit",
  "--since": "since",
  "--customer": "customer",
  "--name": "name",
  "--description": "description",
  "--product": "product",
  "--currency": "currency",
  "--unit-amount": "unitAmount",
  "--interval": "interval",
  "--lookup-key": "lookupKey",
  "--idempotency-key": "idempotencyKey",
} as const;

export type Filters = Partial<Record<(typeof OPERATOR_FLAGS)[keyof typeof OPERATOR_FLAGS], string>>;

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
  events list [--status S] [--type T] [--limit N] [--since TIME]
                                      Received webhook events, newest first
  events show <event id>              One stored event: status, error, attempts, payload
  events tail [--type T]              Deliveries as they arrive: time, type, status, duration
  products list [--limit N]           The catalog, each product with its prices
  products create --name N [--description D] [--idempotency-key K]
                                      Create a product in Stripe (mirrored at once)
  prices create --product prod_... --currency usd --unit-amount 1900
                [--interval month] [--lookup-key K] [--idempotency-key K]
                                      Create a price (amount in the smallest currency unit);
                                      a create retried with the same key makes one object
  transactions list [--status S] [--type T] [--customer cus_...] [--since TIME] [--limit N]
                                      Payments, invoices and refunds, with totals

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

/**
 * Splits a command line into words, values of the value flags (`--flag value` or `--flag=value`)
 * and the switches given (`-h` counts as `--help`); `--` ends the flags. `unknown` makes the error
 * for an option that is neither, or for a word where `words` is false.
 */
export function scanArgs<K extends string>(
  argv: string[],
  flags: { values: Record<string, K>; switches: string[]; words?: boolean },
  unknown: (name: string, arg: string) => UsageError,
): { words: string[]; values: Partial<Record<K, string>>; switches: Set<string> } {
  const words: string[] = [];
  const values: Partial<Record<K, string>> = {};
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--" && flags.words !== false) {
      words.push(...argv.slice(i + 1));
      break;
    }
    const switchName = arg === "-h" ? "--help" : arg;
    if (flags.switches.includes(switchName)) {
      switches.add(switchName);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const key = flags.values[name];
    if (key) {
      const value = name !== arg ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || (name === arg && value.startsWith("-") && value !== "-")) {
        throw new UsageError(`${name} needs a value.`);
      }
      values[key] = value;
    } else if ((arg.startsWith("-") && arg !== "-") || flags.words === false) {
      throw unknown(name, arg);
    } else words.push(arg);
  }
  return { words, values, switches };
}

export function parseArgs(argv: string[]): Parsed {
  const { words: positional, values, switches } = scanArgs(
    argv,
    { values: VALUE_FLAGS, switches: ["--help", "--json", "--resume"] },
    (name) => new UsageError(`unknown option '${name}'.`, true),
  );
  if (switches.has("--help")) return { kind: "help" };
  const json = switches.has("--json");
  const resume = switches.has("--resume");
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
  const [provider, ...rest] = words;
  if (provider === "stripe") {
    const entry = COMMANDS.find((command) => {
      const named = command.words.split(" ");
      return named.every((word, index) => rest[index] === word);
    });
    if (entry) {
      const after = rest.slice(entry.words.split(" ").length);
      const command: Record<string, unknown> = { name: entry.words };
      if (entry.argument) {
        const [field, missing] = entry.argument;
        if (after.length === 0) throw new UsageError(missing);
        command[field] = after.shift();
      }
      if (after.length > 0) throw new UsageError(`unexpected argument '${after[0]}'.`, true);
      if (entry.words === "sync") command.resume = false;
      return command as Command;
    }
  }
  throw new UsageError(`unknown command '${["payments", ...words].join(" ")}'.`, true);
}
