// The session routes build their bodies against functions/wire.ts, the one owner of the HTTP
// shapes: a field added there and not answered by the handler fails the type check. Checked on a
// copy of functions/ with wire.ts changed, so the real sources stay as they are.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** `deno check` of `module` on a copy of functions/ whose wire.ts is changed by `edit`. */
async function checkWithWire(module: string, edit: (wire: string) => string) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/functions`);
    for await (const entry of Deno.readDir(new URL("functions/", ROOT))) {
      if (entry.isFile && entry.name.endsWith(".ts")) {
        await Deno.copyFile(
          new URL(`functions/${entry.name}`, ROOT),
          `${dir}/functions/${entry.name}`,
        );
      }
    }
    await Deno.copyFile(new URL("deno.json", ROOT), `${dir}/deno.json`);
    await Deno.symlink(new URL("node_modules", ROOT).pathname, `${dir}/node_modules`);
    const wire = await Deno.readTextFile(`${dir}/functions/wire.ts`);
    const edited = edit(wire);
    assert.notEqual(edited, wire, "the edit changes wire.ts");
    await Deno.writeTextFile(`${dir}/functions/wire.ts`, edited);
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", `functions/${module}`],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Adds a required field to one interface of wire.ts. */
const addField = (name: string) => (wire: string) =>
  wire.replace(
    `export interface ${name} {\n`,
    `export interface ${name} {\n  addedField: string;\n`,
  );

for (
  const [module, type] of [
    ["checkout.ts", "CheckoutSession"],
    ["portal.ts", "CustomerPortalSession"],
  ]
) {
  Deno.test(`${module} answers the ${type} of wire.ts: a field added there fails its type check`, async () => {
    const unchanged = await checkWithWire(module, (wire) => wire + "\n");
    assert.equal(unchanged.code, 0, unchanged.stderr);
    const changed = await checkWithWire(module, addField(type));
    assert.notEqual(changed.code, 0, `${module} type-checks with a field it does not answer`);
    assert.match(changed.stderr, /addedField/);
    assert.match(changed.stderr, new RegExp(`functions/${module.replace(".", "\\.")}`));
  });
}
