/**
 * Webhook delivery: signing, one ordered queue per endpoint, retries with back-off, and a log of
 * every attempt for `GET /_emulator/deliveries`.
 */
import { unixNow } from "./clock.ts";
import { newId } from "./ids.ts";
import type { EmulatorEvent, Partition } from "./store.ts";

export interface DeliveryOptions {
  retryDelaysMs: number[];
  timeoutMs: number;
}

export interface DeliveryRecord {
  id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  endpoint_url: string;
  livemode: boolean;
  attempt: number;
  status_code: number | null;
  error: string | null;
  succeeded: boolean;
  response_body: string | null;
  started_at: string;
  finished_at: string | null;
  next_retry_at: string | null;
}

interface Job {
  partition: Partition;
  endpointId: string;
  event: EmulatorEvent;
  attempt: number;
  generation: number;
}

const RESPONSE_BODY_LIMIT = 1000;

/** `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, Stripe's `Stripe-Signature` header. */
export async function signatureHeader(
  secret: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`));
  const hex = Array.from(new Uint8Array(mac), (byte) => byte.toString(16).padStart(2, "0"));
  return `t=${timestamp},v1=${hex.join("")}`;
}

function matchesEnabledEvents(enabledEvents: string[], type: string): boolean {
  return enabledEvents.includes("*") || enabledEvents.includes(type);
}

export class WebhookDispatcher {
  private readonly queues = new Map<string, Job[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Set<AbortController>();
  private records: DeliveryRecord[] = [];
  // Bumped by reset and stop, so that work started before them is dropped instead of retried.
  private generation = 0;
  private stopped = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Queues `event` for every matching endpoint and counts them in `pending_webhooks`. */
  dispatch(partition: Partition, event: EmulatorEvent): void {
    if (this.stopped) return;
    const targets = [...partition.webhookEndpoints.values()].filter(({ endpoint }) =>
      endpoint.status === "enabled" && matchesEnabledEvents(endpoint.enabled_events, event.type)
    );
    event.pending_webhooks = targets.length;
    for (const { endpoint } of targets) {
      this.enqueue({
        partition,
        endpointId: endpoint.id,
        event,
        attempt: 1,
        generation: this.generation,
      });
    }
  }

  deliveries(): DeliveryRecord[] {
    return this.records.map((record) => ({ ...record }));
  }

  async reset(): Promise<void> {
    await this.cancelAll();
    this.records = [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.cancelAll();
  }

  private async cancelAll(): Promise<void> {
    this.generation++;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.queues.clear();
    for (const controller of this.inFlight) controller.abort();
    await Promise.allSettled([...this.workers.values()]);
  }

  private enqueue(job: Job): void {
    const queue = this.queues.get(job.endpointId) ?? [];
    queue.push(job);
    this.queues.set(job.endpointId, queue);
    this.startWorker(job.endpointId);
  }

  // One worker per endpoint delivers its queue in order, so a receiver sees creation order.
  private startWorker(endpointId: string): void {
    if (this.workers.has(endpointId)) return;
    const worker = this.drain(endpointId).finally(() => {
      this.workers.delete(endpointId);
      if (this.queues.get(endpointId)?.length) this.startWorker(endpointId);
    });
    this.workers.set(endpointId, worker);
  }

  private async drain(endpointId: string): Promise<void> {
    for (let job = this.nextJob(endpointId); job; job = this.nextJob(endpointId)) {
      await this.deliver(job);
    }
  }

  private nextJob(endpointId: string): Job | undefined {
    const queue = this.queues.get(endpointId);
    const job = queue?.shift();
    if (queue && queue.length === 0) this.queues.delete(endpointId);
    return job;
  }

  private async deliver(job: Job): Promise<void> {
    if (job.generation !== this.generation) return;
    const record = job.partition.webhookEndpoints.get(job.endpointId);
    // A deleted or disabled endpoint stops receiving, retries included, as in Stripe.
    if (!record || record.endpoint.status !== "enabled") return;

    const body = JSON.stringify(job.event, null, 2);
    const signature = await signatureHeader(record.secret, unixNow(), body);
    const delivery: DeliveryRecord = {
      id: newId("whdel"),
      event_id: job.event.id,
      event_type: job.event.type,
      endpoint_id: record.endpoint.id,
      endpoint_url: record.endpoint.url,
      livemode: job.event.livemode,
      attempt: job.attempt,
      status_code: null,
      error: null,
      succeeded: false,
      response_body: null,
      started_at: new Date().toISOString(),
      finished_at: null,
      next_retry_at: null,
    };
    this.records.push(delivery);

    const controller = new AbortController();
    this.inFlight.add(controller);
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutMs);
    try {
      const response = await fetch(record.endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": signature,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
        body,
        signal: controller.signal,
      });
      delivery.status_code = response.status;
      delivery.response_body = (await response.text()).slice(0, RESPONSE_BODY_LIMIT);
      delivery.succeeded = response.ok;
    } catch (error) {
      delivery.error = timedOut
        ? `Timed out after ${this.options.timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
    } finally {
      clearTimeout(timeout);
      this.inFlight.delete(controller);
      delivery.finished_at = new Date().toISOString();
    }

    if (delivery.succeeded) {
      job.event.pending_webhooks = Math.max(0, job.event.pending_webhooks - 1);
    } else {
      this.scheduleRetry(job, delivery);
    }
  }

  private scheduleRetry(job: Job, delivery: DeliveryRecord): void {
    const delay = this.options.retryDelaysMs[job.attempt - 1];
    if (delay === undefined || job.generation !== this.generation) return;
    delivery.next_retry_at = new Date(Date.now() + delay).toISOString();
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.enqueue({ ...job, attempt: job.attempt + 1 });
    }, delay);
    this.retryTimers.add(timer);
  }
}
