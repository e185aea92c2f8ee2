// npm run db:migrate — applies sql/compat/ and supabase/migrations/ to DATABASE_URL (or
// SUPABASE_DB_URL). Running it again applies nothing and says so. Any failure is one line on
// stderr and exit code 1; passwords are never printed.

import process from "node:process";
import { DatabaseUrlError } from "./lib/db_url.mjs";
import { DatabaseError, databaseUrlFromEnv, migrate } from "./lib/migrate.mjs";

const url = databaseUrlFromEnv();
const variable = process.env.DATABASE_URL ? "DATABASE_URL" : "SUPABASE_DB_URL";
if (!url) {
  console.error(
    "db:migrate: DATABASE_URL is not set. Set it (or SUPABASE_DB_URL) to a postgres:// URL, " +
      "e.g. DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres",
  );
  process.exit(1);
}

try {
  await migrate(url);
} catch (error) {
  if (error instanceof DatabaseUrlError) {
    console.error(`db:migrate: ${error.message}. Check ${variable}.`);
  } else if (error instanceof DatabaseError) {
    const hint = error.message.startsWith("cannot connect") ? ` Check ${variable}.` : "";
    console.error(`db:migrate: ${error.message}.${hint}`.replace(/\.\./g, "."));
  } else {
    console.error(`db:migrate: ${error?.message ?? error}`);
  }
  process.exit(1);
}
