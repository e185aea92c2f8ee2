// The client SDK as an app installs it: the packed npm package (small, no runtime dependency),
// and the snippet of its README run as printed, in Node, against the local stack.
import assert from "node:assert/strict";
import { withStack } from "../support/stack.ts";

const ROOT = new URL("../..", import.meta.url);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function run(command: string, args: string[], options: Deno.CommandOptions = {}) {
  const output = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Packs client/ with npm and unpacks it where Node finds it as `@pgpayments/client`. */
async function installPackedClient(app: string): Promise<{ size: number; files: string[] }> {
  const packed = await run("npm", ["pack", "--json", "--pack-destination", app], {
    cwd: new URL("client/", ROOT).pathname,
  });
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout);
  const target = `${app}/node_modules/@pgpayments/client`;
  await Deno.mkdir(target, { recursive: true });
  const unpacked = await run("tar", [
    "xzf",
    `${app}/${info.filename}`,
    "-C",
    target,
    "--strip-components=1",
  ]);
  assert.equal(unpacked.code, 0, unpacked.stderr);
  return { size: info.size, files: info.files.map((file: { path: string }) => file.path).sort() };
}

Deno.test("the client package is small, has no runtime dependency, and its README snippet runs", async () => {
  // Inside the repository, so that Node finds @supabase/supabase-js in its node_modules.
  await Deno.mkdir(new URL("test-output/", ROOT), { recursive: true });
  const app = await Deno.makeTempDir({
    dir: new URL("test-output/", ROOT).pathname,
    prefix: "client-app-",
  });
  try {
    const { size, files } = await installPackedClient(app);
    assert.ok(size < 50 * 1024, `packed size ${size} bytes is under 50 KB`);
    assert.deepEqual(files, ["README.md", "index.d.ts", "index.js", "package.json"]);
    const manifest = JSON.parse(
      await Deno.readTextFile(`${app}/node_modules/@pgpayments/client/package.json`),
    );
    assert.equal(manifest.dependencies, undefined, "no runtime dependency");
    assert.ok(manifest.peerDependencies["@supabase/supabase-js"]);

    const readme = await Deno.readTextFile(new URL("client/README.md", ROOT));
    const snippet = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(snippet, "the README has a js snippet");
    await Deno.writeTextFile(`${app}/snippet.mjs`, snippet);

    await withStack({}, async (stack) => {
      const connected = await stack.connectStripe();
      assert.equal(connected.status, 200, await connected.text());
      const product = await stack.stripe.products.create({ name: "Snippet" });
      const price = await stack.stripe.prices.create({
        product: product.id,
        currency: "usd",
        unit_amount: 900,
      });
      const major = Number(/^v(\d+)/.exec((await run("node", ["--version"])).stdout)?.[1]);
      // supabase-js's realtime client needs a global WebSocket: built in from Node 22.
      const flags = major < 22 ? ["--experimental-websocket"] : [];
      const result = await run("node", [...flags, "snippet.mjs"], {
        cwd: app,
        env: {
          SUPABASE_URL: stack.baseUrl,
          SUPABASE_PUBLISHABLE_KEY: stack.publishableKey,
          USER_JWT: await stack.userToken(crypto.randomUUID()),
          PRICE_ID: price.id,
        },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(
        result.stdout.trim().startsWith(stack.emulatorUrl),
        `prints the hosted Checkout URL: ${result.stdout}`,
      );
    });
  } finally {
    await Deno.remove(app, { recursive: true });
  }
});
