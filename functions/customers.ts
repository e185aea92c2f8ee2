// The Stripe customer that bills a subject: found in customer_mappings, or created once.
import { asServer } from "./db.ts";
import type { Deps } from "./deps.ts";
import { callStripe, type Environment, type Stripe } from "./stripe.ts";
import type { Subject } from "./validate.ts";

/** Metadata that lets webhooks attribute Stripe objects to the subject they bill. */
export function subjectMetadata(subject: Subject): Record<string, string> {
  return { payments_subject_type: subject.type, payments_subject_id: subject.id };
}

export async function resolveCustomer(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
  subject: Subject,
  email: string | undefined,
): Promise<string> {
  const [found] = await asServer(deps.sql`
    select payments.customer_for_subject(${environment}, ${subject.type}, ${subject.id}) as id`);
  if (found?.id) return found.id;

  const customer = await callStripe("create the customer", () =>
    stripe.customers.create(
      { email, metadata: subjectMetadata(subject) },
      // Two concurrent first checkouts for one subject create one customer, not two.
      { idempotencyKey: `payments-customer-${environment}-${subject.type}-${subject.id}` },
    ));
  // Whoever recorded a mapping first wins; link_customer returns the subject's customer.
  const [linked] = await asServer(deps.sql`
    select payments.link_customer(${environment}, ${subject.type}, ${subject.id}, ${customer.id}) as id`);
  return linked.id;
}
