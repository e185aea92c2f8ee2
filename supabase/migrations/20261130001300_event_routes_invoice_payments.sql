-- migrate:up

--------------------------------------------------------------------------------
-- The event router and the payment projections, with invoice payments
-- (see 20261130001200_invoice_payments.sql for the link they use)
--------------------------------------------------------------------------------

create or replace function payments_private.stripe_event_routes()
returns jsonb
language sql immutable parallel safe
as $$
  select '{
    "checkout.session.completed": "checkout_session",
    "checkout.session.async_payment_succeeded": "checkout_session",
    "checkout.session.async_payment_failed": "checkout_session",
    "checkout.session.expired": "checkout_session",
    "customer.created": "customer",
    "customer.updated": "customer",
    "customer.deleted": "customer",
    "customer.subscription.created": "subscription",
    "customer.subscription.updated": "subscription",
    "customer.subscription.deleted": "subscription",
    "customer.subscription.paused": "subscription",
    "customer.subscription.resumed": "subscription",
    "invoice.paid": "invoice",
    "invoice.payment_failed": "invoice",
    "invoice_payment.paid": "invoice_payment",
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "charge.refunded": "charge",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
    "product.created": "product",
    "product.updated": "product",
    "product.deleted": "product",
    "price.created": "price",
    "price.updated": "price",
    "price.deleted": "price"
  }'::jsonb
$$;
comment on function payments_private.stripe_event_routes() is 'The Stripe event types the projection handles, each mapped to the projection it runs. Every other type is recorded as ignored.';

create or replace function payments_private.project_stripe_event(p_environment text, p_event jsonb)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_at timestamptz := payments_private.stripe_time(p_event -> 'created');
  v_projection text := payments_private.stripe_event_routes() ->> (p_event ->> 'type');
begin
  case v_projection
    when 'checkout_session' then
      perform payments_private.project_checkout_session(p_environment, v_object, v_at, v_type);
    when 'customer' then
      perform payments_private.upsert_customer(p_environment, v_object, v_at, v_type = 'customer.deleted');
    when 'subscription' then
      perform payments_private.upsert_subscription(p_environment, v_object, v_at, v_type);
    when 'invoice' then
      perform payments_private.project_invoice(p_environment, v_object, v_at, v_type);
    when 'invoice_payment' then
      perform payments_private.project_invoice_payment(p_environment, v_object, v_at);
    when 'payment_intent' then
      perform payments_private.project_payment_intent(p_environment, v_object, v_at, v_type);
    when 'charge' then
      perform payments_private.project_charge(p_environment, v_object, v_at);
    when 'refund' then
      perform payments_private.project_refund(p_environment, v_object, v_at);
    when 'product' then
      perform payments_private.upsert_product(p_environment, v_object, v_at, v_type = 'product.deleted');
    when 'price' then
      perform payments_private.upsert_price(p_environment, v_object, v_at, v_type = 'price.deleted');
    else
      return false;
  end case;
  return true;
end;
$$;
comment on function payments_private.project_stripe_event(text, jsonb) is 'Projects one Stripe event into the mirror tables through the route of its type; false for types without a route.';

create or replace function payments_private.project_payment_intent(p_environment text, p_intent jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_id text := p_intent ->> 'id';
  v_customer text := payments_private.stripe_id(p_intent -> 'customer');
  -- API versions before 2022-11-15 list the charge in charges.data instead of latest_charge.
  v_charge text := coalesce(payments_private.stripe_id(p_intent -> 'latest_charge'),
                            payments_private.stripe_id(p_intent -> 'charges' -> 'data' -> 0));
  v_succeeded boolean := coalesce(p_event_type = 'payment_intent.succeeded',
                                  p_intent ->> 'status' = 'succeeded');
  v_subject_type text;
  v_subject_id text;
begin
  -- Invoice payments are reported by invoice events (older API versions name the invoice here).
  if payments_private.stripe_id(p_intent -> 'invoice') is not null then
    return;
  end if;
  if not v_succeeded and p_event_type is distinct from 'payment_intent.payment_failed' then
    return;
  end if;

  v_subject_type := payments_private.metadata_subject_type(p_intent -> 'metadata');
  v_subject_id := case when v_subject_type is not null then p_intent -> 'metadata' ->> 'payments_subject_id' end;
  if v_subject_type is not null then
    perform payments_private.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
  end if;

  -- API 2025+ payment intents no longer say whether an invoice created them: one is an invoice
  -- payment when invoice_payment.paid (or an expanded invoice) linked it; otherwise it is recorded
  -- as a one-time payment (transactions is the reporting projection: a Payment Link or Dashboard
  -- payment counts too, its subject filled once its customer is mapped). A link that arrives
  -- later folds the row into the invoice's (payments_private.link_invoice_payment).
  if exists (select 1 from payments_private.invoice_payments l
             where l.environment = p_environment and l.payment_intent_id = v_id) then
    perform payments_private.link_invoice_payment(p_environment,
      (select l.invoice_id from payments_private.invoice_payments l
       where l.environment = p_environment and l.payment_intent_id = v_id), v_id, v_charge, null);
    return;
  end if;
  if exists (select 1 from payments.transactions t
             where t.environment = p_environment and t.type = 'subscription_invoice' and t.payment_intent_id = v_id) then
    return;
  end if;

  if v_subject_type is null and v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments_private.subject_of_customer(p_environment, v_customer) s;
  end if;

  if v_succeeded then
    perform payments_private.merge_transaction(
      p_environment => p_environment, p_type => 'one_time_payment', p_status => 'succeeded',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_intent ->> 'receipt_email',
      p_payment_intent_id => v_id, p_charge_id => v_charge,
      p_amount => coalesce(nullif((p_intent ->> 'amount_received')::bigint, 0), (p_intent ->> 'amount')::bigint),
      p_currency => p_intent ->> 'currency', p_description => p_intent ->> 'description', p_paid_at => p_at,
      p_stripe_created_at => payments_private.stripe_time(p_intent -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_intent);
    perform payments_private.refresh_refunded_amount(p_environment, v_id, v_charge);
  else
    perform payments_private.merge_transaction(
      p_environment => p_environment, p_type => 'failed_payment', p_status => 'failed',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_intent ->> 'receipt_email',
      p_payment_intent_id => v_id, p_charge_id => v_charge, p_amount => (p_intent ->> 'amount')::bigint,
      p_currency => p_intent ->> 'currency',
      p_description => coalesce(p_intent -> 'last_payment_error' ->> 'message', 'Payment failed.'),
      p_failed_at => p_at, p_stripe_created_at => payments_private.stripe_time(p_intent -> 'created'),
      p_stripe_updated_at => p_at, p_raw => p_intent);
  end if;
end;
$$;
comment on function payments_private.project_payment_intent(text, jsonb, timestamptz, text) is 'Records a one-time payment (succeeded) or a failed payment for a PaymentIntent that is not an invoice payment.';

create or replace function payments_private.project_invoice(p_environment text, p_invoice jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_id text := p_invoice ->> 'id';
  v_customer text := payments_private.stripe_id(p_invoice -> 'customer');
  v_subscription text;
  v_payment_intent text;
  v_charge text;
  v_subject_type text;
  v_subject_id text;
  v_paid boolean := coalesce(p_event_type = 'invoice.paid', p_invoice ->> 'status' = 'paid');
  v_metadata jsonb;
begin
  if not v_paid and p_event_type is distinct from 'invoice.payment_failed' then
    return;
  end if;

  -- Older API versions: invoice.subscription, invoice.payment_intent, invoice.charge.
  -- API 2025+: invoice.parent.subscription_details.subscription and invoice.payments.
  v_subscription := coalesce(
    payments_private.stripe_id(p_invoice -> 'subscription'),
    payments_private.stripe_id(p_invoice -> 'parent' -> 'subscription_details' -> 'subscription'));
  select payments_private.stripe_id(p -> 'payment' -> 'payment_intent'), payments_private.stripe_id(p -> 'payment' -> 'charge')
    into v_payment_intent, v_charge
  from jsonb_array_elements(case when jsonb_typeof(p_invoice -> 'payments' -> 'data') = 'array'
                                 then p_invoice -> 'payments' -> 'data' else '[]'::jsonb end) p
  order by (p ->> 'status' = 'paid') desc, (p ->> 'is_default')::boolean desc nulls last
  limit 1;
  v_payment_intent := coalesce(payments_private.stripe_id(p_invoice -> 'payment_intent'), v_payment_intent);
  v_charge := coalesce(payments_private.stripe_id(p_invoice -> 'charge'), v_charge);
  -- Without invoice.payments (not expanded), invoice_payment.paid may have told us already.
  if v_payment_intent is null then
    select l.payment_intent_id, l.charge_id into v_payment_intent, v_charge
    from payments_private.invoice_payments l
    where l.environment = p_environment and l.invoice_id = v_id
    order by l.paid_at nulls last
    limit 1;
  end if;

  if v_subscription is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.stripe_subscriptions s
    where s.environment = p_environment and s.subscription_id = v_subscription;
  end if;
  if v_subject_type is null then
    v_metadata := coalesce(p_invoice -> 'parent' -> 'subscription_details' -> 'metadata',
                           p_invoice -> 'subscription_details' -> 'metadata');
    v_subject_type := payments_private.metadata_subject_type(v_metadata);
    v_subject_id := case when v_subject_type is not null then v_metadata ->> 'payments_subject_id' end;
    if v_subject_type is not null then
      perform payments_private.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
      where not exists (select 1 from payments.customer_mappings m
                        where m.provider = 'stripe' and m.environment = p_environment
                          and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
    end if;
  end if;
  if v_subject_type is null and v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments_private.subject_of_customer(p_environment, v_customer) s;
  end if;

  if v_paid then
    -- An invoice outside a subscription is a one-time payment, keyed like its PaymentIntent so
    -- that payment_intent.succeeded lands on the same row.
    perform payments_private.merge_transaction(
      p_environment => p_environment,
      p_type => case when v_subscription is null then 'one_time_payment' else 'subscription_invoice' end,
      p_status => 'succeeded',
      p_provider_object_id => case when v_subscription is null then coalesce(v_payment_intent, v_id) else v_id end,
      p_subject_type => v_subject_type, p_subject_id => v_subject_id, p_customer_id => v_customer,
      p_customer_email => p_invoice ->> 'customer_email', p_payment_intent_id => v_payment_intent,
      p_charge_id => v_charge, p_invoice_id => v_id, p_subscription_id => v_subscription,
      p_amount => coalesce((p_invoice ->> 'amount_paid')::bigint, (p_invoice ->> 'total')::bigint),
      p_currency => p_invoice ->> 'currency', p_description => p_invoice ->> 'description',
      p_paid_at => coalesce(payments_private.stripe_time(p_invoice -> 'status_transitions' -> 'paid_at'), p_at),
      p_stripe_created_at => payments_private.stripe_time(p_invoice -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_invoice);
    if v_subscription is not null and v_payment_intent is not null then
      perform payments_private.link_invoice_payment(p_environment, v_id, v_payment_intent, v_charge,
        payments_private.stripe_time(p_invoice -> 'status_transitions' -> 'paid_at'));
    elsif v_payment_intent is not null or v_charge is not null then
      perform payments_private.refresh_refunded_amount(p_environment, v_payment_intent, v_charge);
    end if;
  else
    perform payments_private.merge_transaction(
      p_environment => p_environment, p_type => 'failed_payment', p_status => 'failed',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_invoice ->> 'customer_email',
      p_payment_intent_id => v_payment_intent, p_charge_id => v_charge, p_invoice_id => v_id,
      p_subscription_id => v_subscription, p_amount => (p_invoice ->> 'amount_due')::bigint,
      p_currency => p_invoice ->> 'currency', p_description => 'Invoice payment failed.', p_failed_at => p_at,
      p_stripe_created_at => payments_private.stripe_time(p_invoice -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_invoice);
  end if;
end;
$$;
comment on function payments_private.project_invoice(text, jsonb, timestamptz, text) is 'Records a paid subscription invoice (or one-off invoice as a one-time payment) or a failed invoice payment, from either invoice shape.';

-- migrate:down
