/**
 * The emulator's objects in a file, so a restart finds them again: loaded at start, written
 * shortly after every request that may change them (and on stop). Writes go to a temporary
 * file first and are renamed into place, so a crash leaves the previous snapshot intact.
 */
import type { Store } from "./store.ts";

/** Requests within this window are written once. */
const WRITE_DELAY_MS = 100;

export class StateFile {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly path: string, private readonly store: Store) {}

  /** Loads the file into the store; false when there is no file yet. */
  load(): boolean {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    try {
      this.store.restore(bytes);
    } catch (error) {
      throw new Error(
        `cannot read the emulator state in ${this.path} (${
          error instanceof Error ? error.message : error
        }): remove the file to start empty.`,
      );
    }
    return true;
  }

  /** Something may have changed: write soon. */
  changed(): void {
    this.timer ??= setTimeout(() => {
      try {
        this.save();
      } catch (error) {
        // A full disk must not take the emulator down; the next change or stop() tries again.
        console.error(
          `stripe emulator: cannot write ${this.path}: ${
            error instanceof Error ? error.message : error
          }`,
        );
      }
    }, WRITE_DELAY_MS);
  }

  save(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const temporary = `${this.path}.tmp`;
    // Webhook signing secrets are in there: readable by the owner only.
    Deno.writeFileSync(temporary, this.store.snapshot(), { mode: 0o600 });
    Deno.renameSync(temporary, this.path);
  }
}
