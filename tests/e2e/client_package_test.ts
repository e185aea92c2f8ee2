// The client SDK as an app installs it: the packed npm package (small, no runtime dependency,
// its generated types standing alone and typing an app's calls), and the snippet of its README
// run as printed, in Node, against the local stack.
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

const DENO = new URL("node_modules/.bin/deno", ROOT).pathname;

// A TypeScript app of the installed package: what the wire types allow passes, what they refuse
// fails, so the types are checked to be there and to be the server's.
const TYPED_APP = `import { createPaymentsClient, PaymentsError } from "@pgpayments/client";
declare const supabase: Parameters<typeof createPaymentsClient>[0];
const payments = createPaymentsClient(supabase);
const { data, error } = await payments.stripe.createCheckoutSession("test", {
  mode: "subscription",
  lineItems: [{ priceId: "price_1", quantity: 1 }],
  successUrl: "https://example.com/thanks",
  cancelUrl: "https://example.com/cart",
});
const url: string | null = error === null ? data.checkoutSession.url : null;
const status: number = error instanceof PaymentsError ? error.statusCode : 0;
export { status, url };
`;
const MISTYPED_APP = TYPED_APP.replace('"subscription"', '"rental"')
  .replace("data.checkoutSession.url", "data.checkoutSession.total");

/** `deno check` of an app file importing the package as Node would resolve it. */
async function checkApp(app: string, name: string, source: string) {
  await Deno.writeTextFile(`${app}/${name}`, source);
  return await run(DENO, ["check", "--quiet", name], { cwd: app });
}

Deno.test("the client package is small, has no runtime dependency, types an app, and its README snippet runs", async () => {
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
    const types = await Deno.readTextFile(`${app}/node_modules/@pgpayments/client/index.d.ts`);
    assert.doesNotMatch(types, /^\s*import\b/m, "index.d.ts stands alone");
    await Deno.writeTextFile(
      `${app}/package.json`,
      JSON.stringify({ type: "module", dependencies: { "@pgpayments/client": "*" } }),
    );
    const typed = await checkApp(app, "typed.ts", TYPED_APP);
    assert.equal(typed.code, 0, typed.stderr);
    const mistyped = await checkApp(app, "mistyped.ts", MISTYPED_APP);
    assert.notEqual(mistyped.code, 0, "a wrong mode and a missing field fail to type-check");
    assert.match(mistyped.stderr, /"rental"/);
    assert.match(mistyped.stderr, /Property 'total' does not exist/);

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
