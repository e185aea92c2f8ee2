// The Stripe customer that bills a subject: found in customer_mappings, or created once.
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { callStripe, type Environment, type Stripe } from "./stripe.ts";

/** Who a session bills: {type, id}, as the database validated it. */
export interface Subject {
  type: string;
  id: string;
}

/** Metadata that lets webhooks attribute Stripe objects to the subject they bill. */
export function subjectMetadata(subject: Subject): Record<string, string> {
  return { payments_subject_type: subject.type, payments_subject_id: subject.id };
}

/**
 * The subject's Stripe customer, created when it has none. `requestKey` names the request that
 * needs it (the checkout row and attempt): a retry of that request gets the same customer from
 * Stripe's idempotency, while concurrent first checkouts of one subject race to link theirs and
 * the losers' customers are deleted again.
 */
export async function resolveCustomer(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
  subject: Subject,
  email: string | undefined,
  requestKey: string,
): Promise<string> {
  const [found] = await mapDatabaseErrors(deps.sql`
    select payments.customer_for_subject(${environment}, ${subject.type}, ${subject.id}) as id`);
  if (found?.id) return found.id;

  const customer = await callStripe("create the customer", () =>
    stripe.customers.create(
      { email, metadata: subjectMetadata(subject) },
      { idempotencyKey: `${requestKey}-customer` },
    ));
  const [linked] = await mapDatabaseErrors(deps.sql`
    select payments.link_customer(${environment}, ${subject.type}, ${subject.id}, ${customer.id}) as id`);
  if (linked.id !== customer.id) {
    try {
      await stripe.customers.del(customer.id);
    } catch (error) {
      deps.log(
        `could not delete surplus customer ${customer.id}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }
  return linked.id;
}
