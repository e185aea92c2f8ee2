/** `npm run emulator`: runs the Stripe emulator until SIGINT or SIGTERM. */
import { DEFAULT_PORT, startEmulator } from "./server.ts";

const portText = Deno.env.get("STRIPE_EMULATOR_PORT") ?? String(DEFAULT_PORT);
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`STRIPE_EMULATOR_PORT must be a port number, got "${portText}".`);
  Deno.exit(2);
}

const emulator = await startEmulator({
  port,
  hostname: Deno.env.get("STRIPE_EMULATOR_HOSTNAME") || undefined,
  publicUrl: Deno.env.get("STRIPE_EMULATOR_PUBLIC_URL") || undefined,
  stateFile: Deno.env.get("STRIPE_EMULATOR_STATE_FILE") || undefined,
});
console.log(`Stripe emulator listening on ${emulator.url}`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await emulator.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
