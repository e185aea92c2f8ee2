/** What a request handler may reach: its account partition, the public URL, and events. */
import { unixNow } from "./clock.ts";
import { render } from "./expand.ts";
import { noSuch } from "./errors.ts";
import { newId } from "./ids.ts";
import type { EmulatorEvent, EventRequest, Partition, Store } from "./store.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

/** The version the pinned `stripe` SDK sends; event payloads claim to follow it. */
export const API_VERSION = "2026-10-28.endive";

export class Context {
  constructor(
    readonly partition: Partition,
    readonly publicUrl: string,
    private readonly webhooks: WebhookDispatcher,
    private readonly request: EventRequest = { id: null, idempotency_key: null },
  ) {}

  /**
   * The time objects are stamped with: a test clock's frozen time while its objects are being
   * worked on (see `atTime`), the wall clock otherwise.
   */
  private frozenTime: number | null = null;

  now(): number {
    return this.frozenTime ?? unixNow();
  }

  /** Runs `fn` with `now()` fixed to `time` (a test clock's moment); `null` is the wall clock. */
  atTime<T>(time: number | null, fn: () => T): T {
    const saved = this.frozenTime;
    this.frozenTime = time;
    try {
      return fn();
    } finally {
      this.frozenTime = saved;
    }
  }

  get livemode(): boolean {
    return this.partition.livemode;
  }

  /** Records an event with a snapshot of `object` as it is now, and queues its deliveries. */
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>): EmulatorEvent {
    const event: EmulatorEvent = {
      id: newId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: unixNow(),
      data: previousAttributes
        ? {
          object: render(object),
          previous_attributes: render(previousAttributes),
        }
        : { object: render(object) },
      livemode: this.partition.livemode,
      pending_webhooks: 0,
      request: { ...this.request },
      type,
    };
    this.partition.insert(this.partition.events, event.id, event);
    this.webhooks.dispatch(this.partition, event);
    return event;
  }

  /**
   * Emits an `*.updated` event whose `previous_attributes` holds the old value of each
   * top-level field that changed; nothing is emitted when nothing changed.
   */
  emitUpdated(type: string, before: object, after: object): void {
    const previous: Record<string, unknown> = {};
    const old = render(before) as Record<string, unknown>;
    for (const [key, value] of Object.entries(render(after))) {
      if (JSON.stringify(old[key]) !== JSON.stringify(value)) previous[key] = old[key] ?? null;
    }
    if (Object.keys(previous).length > 0) this.emit(type, after, previous);
  }
}

/**
 * What hosted pages and test controls work with. They carry no API key, so they act in
 * whichever account holds the object they were given the id of.
 */
export interface KeylessDependencies {
  store: Store;
  webhooks: WebhookDispatcher;
  publicUrl: () => string;
}

export function keylessContext(deps: KeylessDependencies, partition: Partition): Context {
  return new Context(partition, deps.publicUrl(), deps.webhooks);
}

/** The object with `id` in `table` of the account that holds it, with a context there; else 404. */
export function locate<T>(
  deps: KeylessDependencies,
  table: (partition: Partition) => Map<string, T>,
  kind: string,
  id: string,
): { ctx: Context; value: T } {
  const found = deps.store.locate(table, id);
  if (!found) throw noSuch(kind, id);
  return { ctx: keylessContext(deps, found.partition), value: found.value };
}
