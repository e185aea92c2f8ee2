// Several function instances, each its own process, against one stack's database and emulator:
// what Supabase does when an edge function scales out. Nothing is shared but the database.
import type { Stack } from "./stack.ts";

export interface Instance {
  /** Base of the function's routes, like `stack.functionsUrl`. */
  functionsUrl: string;
  pid: number;
  /** Peak resident memory of the process so far, in bytes (Linux `VmHWM`). */
  peakRss(): Promise<number>;
}

export interface Instances {
  instances: Instance[];
  stop(): Promise<void>;
}

const DENO = Deno.execPath();

export interface InstanceOptions {
  env?: Record<string, string>;
  /** Flags for the runtime, such as `--v8-flags=--max-old-space-size=128`. */
  denoFlags?: string[];
}

export async function startInstances(
  stack: Stack,
  count: number,
  options: InstanceOptions = {},
): Promise<Instances> {
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    await Promise.all(children.map((child) => child.status));
  };
  try {
    const instances = await Promise.all(Array.from({ length: count }, async () => {
      const child = new Deno.Command(DENO, {
        args: [
          "run",
          "-A",
          ...(options.denoFlags ?? []),
          new URL("./function_process.ts", import.meta.url).pathname,
        ],
        env: {
          DATABASE_URL: stack.databaseUrl,
          SUPABASE_SECRET_KEYS: JSON.stringify({ default: stack.secretKey }),
          SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: stack.publishableKey }),
          SUPABASE_JWKS: JSON.stringify(stack.jwks),
          ...(stack.jwtSecret ? { JWT_SECRET: stack.jwtSecret } : {}),
          ...(stack.usesEmulator ? { STRIPE_API_BASE: stack.emulatorUrl } : {}),
          PUBLIC_URL: stack.baseUrl,
          PORT: "0",
          ...options.env,
        },
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      children.push(child);
      const port = await listeningPort(child);
      return {
        functionsUrl: `http://127.0.0.1:${port}/functions/v1/payments`,
        pid: child.pid,
        peakRss: () => peakRss(child.pid),
      };
    }));
    return { instances, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function listeningPort(child: Deno.ChildProcess): Promise<number> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) throw new Error("a function process exited before it listened");
      text += value;
      const match = /listening (\d+)/.exec(text);
      if (match) {
        // Keep draining stdout so the process never blocks on a full pipe.
        (async () => {
          while (!(await lines.read()).done) { /* discard */ }
        })().catch(() => {});
        return Number(match[1]);
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}
