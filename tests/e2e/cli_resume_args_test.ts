import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../../cli/args.ts";

Deno.test("cli: sync --resume asks for a resumed sync; other commands refuse --resume", () => {
  const parsed = parseArgs(["payments", "stripe", "sync", "--resume", "-e", "test"]);
  assert.equal(parsed.kind, "run");
  if (parsed.kind !== "run") return;
  assert.deepEqual(parsed.command, { name: "sync", resume: true });
  const plain = parseArgs(["payments", "stripe", "sync"]);
  assert.ok(plain.kind === "run" && plain.command.name === "sync" && !plain.command.resume);
  assert.throws(
    () => parseArgs(["payments", "stripe", "status", "--resume"]),
    (error) => error instanceof UsageError && /--resume only applies to sync/.test(error.message),
  );
});
