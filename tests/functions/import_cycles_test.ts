// The function's modules form no import cycle, type-only imports included: a cycle makes a
// module's meaning depend on which file is loaded first, and hides which module owns a rule.
// The graph comes from `deno info --json`, Deno's own parser, so every form of import counts.
import assert from "node:assert/strict";

const FUNCTIONS = new URL("../../functions/", import.meta.url);

interface Dependency {
  code?: { specifier: string };
  type?: { specifier: string };
}

/** Import edges among the .ts files of `dir`, code and type-only alike (file names). */
async function importGraph(dir: URL): Promise<Map<string, string[]>> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ts")) names.push(entry.name);
  }
  const local = (specifier: string) =>
    specifier.startsWith(dir.href) && !specifier.slice(dir.href.length).includes("/")
      ? specifier.slice(dir.href.length)
      : undefined;
  const graph = new Map<string, string[]>();
  for (const name of names.sort()) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(name, dir).href],
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const info = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: { specifier: string; dependencies?: Dependency[] }[];
    };
    const module = info.modules.find((m) => m.specifier === new URL(name, dir).href);
    const targets = (module?.dependencies ?? []).flatMap((d) =>
      [d.code?.specifier, d.type?.specifier].map((s) => s && local(s)).filter((s) => s)
    ) as string[];
    graph.set(name, [...new Set(targets)].sort());
  }
  return graph;
}

/**
 * Cycles as the paths that close them (`a.ts -> b.ts -> a.ts`): at least one for every group of
 * modules that reach one another, so none at all means the graph has no cycle.
 */
function importCycles(graph: Map<string, string[]>): string[] {
  const cycles = new Set<string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      const loop = path.slice(at);
      // One spelling per cycle, whichever module it is entered from.
      const first = loop.indexOf([...loop].sort()[0]);
      const rotated = [...loop.slice(first), ...loop.slice(0, first)];
      cycles.add([...rotated, rotated[0]].join(" -> "));
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node, []);
  return [...cycles].sort();
}

Deno.test("the cycle check finds a cycle through type-only, re-export and dynamic imports", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = {
      "a.ts":
        `import type { C } from "./b.ts";\n// import { d } from "./d.ts";\nexport type A = C;`,
      "b.ts": `export type { C } from "./c.ts";`,
      "c.ts": `export type C = number;\nexport const a = () => import("./a.ts");\n` +
        `import {\n  d,\n} from "./d.ts";\nexport const e = d;`,
      "d.ts": `/* import "./a.ts"; */ export const d = 1;`,
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const graph = await importGraph(new URL(`file://${dir}/`));
    assert.deepEqual(Object.fromEntries(graph), {
      "a.ts": ["b.ts"],
      "b.ts": ["c.ts"],
      "c.ts": ["a.ts", "d.ts"],
      "d.ts": [],
    });
    assert.deepEqual(importCycles(graph), ["a.ts -> b.ts -> c.ts -> a.ts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("functions/*.ts import one another without a cycle, type-only imports included", async () => {
  const graph = await importGraph(FUNCTIONS);
  assert.ok(graph.get("handler.ts")?.includes("operator_routes.ts"), "the graph has edges");
  assert.ok(graph.get("admin.ts")?.includes("deps.ts"), "type-only imports are edges");
  assert.deepEqual(importCycles(graph), []);
});
