// `payments stripe trigger <event>`: asks the local Stripe emulator to run the real flow that
// produces <event> (its trigger control, see emulator/README.md), like `stripe trigger` does
// against Stripe's test mode. It talks to the emulator, not to the project.
import { CliError } from "./api.ts";

export const DEFAULT_EMULATOR_URL = "http://127.0.0.1:12111";

export interface TriggerOptions {
  emulatorUrl: string;
  /** The account to run in; the emulator picks the one with a webhook endpoint without it. */
  apiKey?: string;
  json: boolean;
}

interface TriggerResult {
  trigger: string;
  description: string;
  events: { id: string; type: string }[];
}

export async function trigger(
  event: string,
  options: TriggerOptions,
  out: (line: string) => void,
): Promise<void> {
  const origin = options.emulatorUrl.replace(/\/+$/, "");
  let response: Response;
  try {
    response = await fetch(`${origin}/_emulator/trigger/${encodeURIComponent(event)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(options.apiKey ? { api_key: options.apiKey } : {}),
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `cannot reach the Stripe emulator at ${origin} (${reason}). Is it running ` +
        `(npm start or npm run emulator)? Pass --emulator-url to point elsewhere.`,
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(
      `${origin} did not answer like the Stripe emulator (HTTP ${response.status}).`,
    );
  }
  if (!response.ok) {
    const message = (body as { error?: { message?: string } }).error?.message ?? text;
    throw new CliError(`trigger ${event} failed: ${message}`, body);
  }
  if (options.json) return out(JSON.stringify(body, null, 2));
  const result = body as TriggerResult;
  out(`Triggered ${result.trigger}: ${result.description} (${result.events.length} events)`);
  for (const emitted of result.events) out(`  ${emitted.id}  ${emitted.type}`);
}
