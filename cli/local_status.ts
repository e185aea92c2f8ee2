// `pgpayments status --local`: the banner of the `npm start` running on this machine, again,
// read from its state folder (scripts/local_state.ts).
import { bannerLines, isRunning, readState, stateDir } from "../scripts/local_state.ts";
import { UsageError } from "./args.ts";

export const LOCAL_STATUS_USAGE = `Usage: pgpayments status --local [--json]

Prints the banner of the local stack (npm start) again: URLs, keys, a fresh user JWT and the
export lines. The state is read from .pgpayments/ at the repository root, or $PGPAYMENTS_STATE_DIR.
A deployment's status: pgpayments payments stripe status.`;

/** Exit code 0 with the banner, 1 when no local stack runs, 2 for a wrong command line. */
export async function runLocalStatus(
  argv: string[],
  io: { out: (line: string) => void; env: (name: string) => string | undefined },
): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    io.out(LOCAL_STATUS_USAGE);
    return 0;
  }
  const unknown = argv.find((arg) => arg !== "--local" && arg !== "--json");
  if (unknown !== undefined) throw new UsageError(`unknown argument '${unknown}'.`);
  if (!argv.includes("--local")) {
    throw new UsageError(
      "status needs --local (the stack npm start runs here); a deployment's status is " +
        "pgpayments payments stripe status.",
    );
  }
  const dir = stateDir(io.env);
  const state = await readState(dir);
  if (!state) {
    throw new Error(`no local stack state in ${dir}: npm start creates it.`);
  }
  if (!state.running || !(await isRunning(state.running))) {
    throw new Error(
      `the local stack is not running (its state is kept in ${dir}): npm start starts it again.`,
    );
  }
  const { pid: _pid, startedAt: _startedAt, ...banner } = state.running;
  if (argv.includes("--json")) io.out(JSON.stringify(banner, null, 2));
  else for (const line of bannerLines(banner)) io.out(line);
  return 0;
}
