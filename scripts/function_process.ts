// One function instance in its own process, configured from the environment exactly as the
// deployed function is (functions/config.ts), serving the local stack's paths on PORT (0 picks
// a free one). Prints `listening <port>` once it accepts requests. Used to run several instances
// against one database (scripts/instances.ts) and to measure one instance's memory.
import { depsFromEnv } from "../functions/config.ts";
import { createHandler } from "../functions/handler.ts";

const handler = createHandler(depsFromEnv());
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, handler);
