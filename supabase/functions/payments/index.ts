import { depsFromEnv } from "../../../functions/config.ts";
import { createHandler } from "../../../functions/handler.ts";

Deno.serve(createHandler(depsFromEnv()));
