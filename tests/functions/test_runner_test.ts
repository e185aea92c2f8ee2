// scripts/test.mjs takes test file paths relative to where the command was typed: the working
// directory under plain `node`, npm's INIT_CWD under `npm test --` (npm itself runs the script
// from the repository root).
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const HERE = `${ROOT}/tests/functions`;

/** The caller's environment without what an enclosing `npm test` set. */
function plainEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("npm_") || name === "INIT_CWD") delete env[name];
  }
  return env;
}

async function runner(cwd: string, args: string[], env: Record<string, string>) {
  const { code, stdout, stderr } = await new Deno.Command("node", {
    args: [`${ROOT}/scripts/test.mjs`, ...args],
    cwd,
    env,
    clearEnv: true,
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, output: decode(stdout) + decode(stderr) };
}

Deno.test("test file paths resolve against the caller's directory, under node and under npm", async () => {
  // A file that is not there names where it was looked for, before any database starts.
  const plain = await runner(HERE, ["missing_test.ts"], plainEnv());
  assert.equal(plain.code, 2, plain.output);
  assert.match(plain.output, new RegExp(`looked for ${HERE}/missing_test\\.ts\\)`));

  const npm = await runner(ROOT, ["missing_test.ts"], {
    ...plainEnv(),
    INIT_CWD: `${ROOT}/tests/sql`,
    npm_package_json: `${ROOT}/package.json`,
  });
  assert.equal(npm.code, 2, npm.output);
  assert.match(npm.output, new RegExp(`looked for ${ROOT}/tests/sql/missing_test\\.ts\\)`));

  // An INIT_CWD left by some other npm script does not apply to a run from elsewhere.
  const stale = await runner(HERE, ["missing_test.ts"], {
    ...plainEnv(),
    INIT_CWD: "/",
    npm_package_json: `${ROOT}/package.json`,
  });
  assert.match(stale.output, new RegExp(`looked for ${HERE}/missing_test\\.ts\\)`));
});

Deno.test("a test file named relative to tests/functions runs from there", async () => {
  const env = plainEnv();
  // Under `npm test`, a database of its own on the same server instead of another cluster.
  const server = env.TEST_ADMIN_DATABASE_URL;
  if (server) env.TEST_DATABASE_URL = server;
  const { code, output } = await runner(HERE, ["import_cycles_test.ts"], env);
  assert.equal(code, 0, output);
  assert.match(output, /Deno: 2 passed, 0 failed/);
});
