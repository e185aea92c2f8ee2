#!/usr/bin/env node
// The npm bin: runs the Deno CLI (cli/main.ts) with the Deno binary that the `deno` npm package
// installed, so `npx pgpayments payments stripe status` needs nothing beyond `npm install`.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));
// `pgpayments dashboard` serves the files of dashboard/ and nothing else.
const dashboard = fileURLToPath(new URL("../dashboard/", import.meta.url));

function denoBinary() {
  try {
    // The deno package's own resolver: finds (or links) the platform binary it ships.
    return createRequire(import.meta.url)("deno/install_api.cjs").runInstall();
  } catch {
    return process.platform === "win32" ? "deno.exe" : "deno";
  }
}

const child = spawn(
  denoBinary(),
  [
    "run",
    "--quiet",
    "--no-config",
    "--no-lock",
    "--allow-net",
    "--allow-env=SUPABASE_URL,SUPABASE_SECRET_KEY,SUPABASE_SERVICE_ROLE_KEY,NO_COLOR,STRIPE_EMULATOR_URL,STRIPE_EMULATOR_PORT,PGPAYMENTS_STATE_DIR",
    // init and upgrade write into the app's supabase/ folder; `status --local` reads the local
    // stack's state folder; the dashboard serves its files.
    ...(["init", "upgrade"].includes(process.argv[2])
      ? ["--allow-read", "--allow-write"]
      : process.argv[2] === "status"
      ? ["--allow-read"]
      : [`--allow-read=${dashboard}`]),
    main,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);
child.on("error", (error) => {
  console.error(`pgpayments: cannot start Deno (${error.message}). Run npm install first.`);
  process.exit(1);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1));
});
