// Running child processes: output streamed live and captured at once, and every running child
// known, so that a signal handler can end them before cleaning up.

import { spawn } from "node:child_process";
import process from "node:process";

const running = new Set();

/**
 * Runs a command to completion.
 * @param {string} command
 * @param {string[]} args
 * @param {{env?: Record<string, string>, cwd?: string, stream?: boolean | "stdout",
 *   input?: string}} options
 *   `stream`: copy the child's output to ours as it comes (default false: capture only;
 *   "stdout": copy stdout only).
 * @returns {Promise<{code: number | null, signal: string | null, output: string,
 *   stdout: string, stderr: string}>} `code` is null when the command could not start
 *   (`error` is then set) or was killed by a signal.
 */
export function run(command, args, options = {}) {
  const { env = process.env, cwd, stream = false, input } = options;
  return new Promise((resolve) => {
    let output = "";
    let stdout = "";
    let stderr = "";
    let child;
    try {
      child = spawn(command, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      resolve({ code: null, signal: null, output: "", stdout: "", stderr: "", error });
      return;
    }
    running.add(child);
    child.stdout.on("data", (chunk) => {
      const text = chunk.toString();
      output += text;
      stdout += text;
      if (stream) process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      const text = chunk.toString();
      output += text;
      stderr += text;
      if (stream === true) process.stderr.write(chunk);
    });
    child.stdin.on("error", () => {});
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    let startError;
    child.on("error", (error) => {
      startError = error;
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      resolve({
        code: startError ? null : code,
        signal,
        output,
        stdout,
        stderr,
        error: startError,
      });
    });
  });
}

/** Sends SIGTERM to every child started by `run` that is still running. */
export function killRunning() {
  for (const child of running) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
}
