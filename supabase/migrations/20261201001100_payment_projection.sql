-- migrate:up

--------------------------------------------------------------------------------
-- Projection of payments: checkout sessions, PaymentIntents, invoices, refunds and charges, from
-- every API shape Stripe sends (invoice payments under API 2025+, refunds before their payment,
-- one-off PaymentIntents without metadata, pre-2022-11-15 charges)
--------------------------------------------------------------------------------

-- p_event_type null (sync): the session's own status decides.
create function payments_private.project_checkout_session(p_environment text, p_session jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
  v_reference text := p_session ->> 'client_reference_id';
  v_attempt text := p_session -> 'metadata' ->> 'payments_attempt';
  v_customer text := payments_private.stripe_id(p_session -> 'customer');
  v_payment_intent text := payments_private.stripe_id(p_session -> 'payment_intent');
  v_subscription text := payments_private.stripe_id(p_session -> 'subscription');
  v_payment_status text := p_session ->> 'payment_status';
  v_paid boolean := coalesce(p_session ->> 'payment_status' = 'paid', false);
  v_status text;
  v_mode text;
  v_subject record;
begin
  v_status := case
    when p_event_type in ('checkout.session.completed', 'checkout.session.async_payment_succeeded',
                          'checkout.session.async_payment_failed') then 'completed'
    when p_event_type = 'checkout.session.expired' then 'expired'
    when p_event_type is null and p_session ->> 'status' = 'complete' then 'completed'
    when p_event_type is null and p_session ->> 'status' = 'expired' then 'expired'
  end;
  if v_status is null then
    return;
  end if;
  if v_payment_status not in ('paid', 'unpaid', 'no_payment_required') then
    v_payment_status := null;
  end if;

  select * into v_row from payments.stripe_checkout_sessions s
  where s.environment = p_environment and s.checkout_session_id = p_session ->> 'id'
  for update;
  -- The webhook may beat record_checkout_session_result: find the row by client_reference_id,
  -- but only while it waits for its session (a recorded, different session id means this event
  -- is about an earlier attempt).
  if v_row.id is null and v_reference ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_row from payments.stripe_checkout_sessions s
    where s.id = v_reference::uuid and s.environment = p_environment and s.checkout_session_id is null
      and (v_attempt is null or v_attempt = s.attempt::text)
    for update;
  end if;

  if v_row.id is not null then
    update payments.stripe_checkout_sessions s
    set status = v_status,
        payment_status = coalesce(v_payment_status, s.payment_status),
        checkout_session_id = coalesce(s.checkout_session_id, p_session ->> 'id'),
        customer_id = coalesce(v_customer, s.customer_id),
        payment_intent_id = coalesce(v_payment_intent, s.payment_intent_id),
        subscription_id = coalesce(v_subscription, s.subscription_id),
        amount_total = coalesce((p_session ->> 'amount_total')::bigint, s.amount_total),
        currency = coalesce(lower(p_session ->> 'currency'), s.currency),
        completed_at = case when v_status = 'completed' then coalesce(s.completed_at, p_at) else s.completed_at end,
        stripe_updated_at = p_at
    where s.id = v_row.id
      and (s.stripe_updated_at is null or p_at >= s.stripe_updated_at)
      and not (s.status = 'completed' and v_status = 'expired');
  end if;

  if v_status <> 'completed' then
    return;
  end if;

  -- The checkout row's subject, else the one the session's metadata names.
  v_subject := payments_private.billed_subject(p_environment,
    case when v_row.id is null then p_session -> 'metadata'
      else jsonb_build_object('payments_subject_type', v_row.subject_type, 'payments_subject_id', v_row.subject_id) end,
    v_customer);

  v_mode := coalesce(p_session ->> 'mode', v_row.mode);
  if v_mode = 'subscription' and v_subscription is not null and v_subject.subject_type is not null then
    update payments.stripe_subscriptions s
    set subject_type = v_subject.subject_type, subject_id = v_subject.subject_id
    where s.environment = p_environment and s.subscription_id = v_subscription and s.subject_type is null;
  elsif v_mode = 'payment' and v_payment_intent is not null
        and (v_paid or p_event_type = 'checkout.session.async_payment_failed') then
    -- Paid: a one-time payment; an asynchronous payment that failed later: a failed payment.
    perform payments_private.merge_transaction(
      p_environment => p_environment,
      p_type => case when v_paid then 'one_time_payment' else 'failed_payment' end,
      p_status => case when v_paid then 'succeeded' else 'failed' end,
      p_provider_object_id => v_payment_intent, p_subject_type => v_subject.subject_type,
      p_subject_id => v_subject.subject_id, p_customer_id => v_customer,
      p_customer_email => p_session -> 'customer_details' ->> 'email',
      p_checkout_session_id => p_session ->> 'id', p_payment_intent_id => v_payment_intent,
      p_amount => (p_session ->> 'amount_total')::bigint, p_currency => p_session ->> 'currency',
      p_description => case when not v_paid then 'Delayed payment failed.' end,
      p_paid_at => case when v_paid then p_at end, p_failed_at => case when not v_paid then p_at end,
      p_stripe_created_at => payments_private.stripe_time(p_session -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_session);
    if v_paid then
      perform payments_private.refresh_refunded_amount(p_environment, v_payment_intent, null);
    end if;
  end if;
end;
$$;
comment on function payments_private.project_checkout_session(text, jsonb, timestamptz, text) is 'Completes or expires the checkout row of a Stripe Checkout Session (found by session id or client_reference_id), maps its customer to the subject and records a one-time payment.';

-- p_event_type null (sync): the payment intent's own status decides.
create function payments_private.project_payment_intent(p_environment text, p_intent jsonb, p_at timestamptz, p_event_type text default null)
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
  v_subject record;
  v_invoice text;
begin
  -- Invoice payments are reported by invoice events (older API versions name the invoice here).
  if payments_private.stripe_id(p_intent -> 'invoice') is not null then
    return;
  end if;
  if not v_succeeded and p_event_type is distinct from 'payment_intent.payment_failed' then
    return;
  end if;

  v_subject := payments_private.billed_subject(p_environment, p_intent -> 'metadata', v_customer);

  -- API 2025+ payment intents no longer say whether an invoice created them: one is an invoice
  -- payment when invoice_payment.paid (or an expanded invoice) linked it; otherwise it is recorded
  -- as a one-time payment (transactions is the reporting projection: a Payment Link or Dashboard
  -- payment counts too, its subject filled once its customer is mapped). A link that arrives
  -- later folds the row into the invoice's (payments_private.link_invoice_payment).
  select l.invoice_id into v_invoice from payments_private.invoice_payments l
  where l.environment = p_environment and l.payment_intent_id = v_id;
  if v_invoice is not null then
    perform payments_private.link_invoice_payment(p_environment, v_invoice, v_id, v_charge, null);
    return;
  end if;
  if exists (select 1 from payments.transactions t
             where t.environment = p_environment and t.type = 'subscription_invoice' and t.payment_intent_id = v_id) then
    return;
  end if;

  perform payments_private.merge_transaction(
    p_environment => p_environment,
    p_type => case when v_succeeded then 'one_time_payment' else 'failed_payment' end,
    p_status => case when v_succeeded then 'succeeded' else 'failed' end,
    p_provider_object_id => v_id, p_subject_type => v_subject.subject_type, p_subject_id => v_subject.subject_id,
    p_customer_id => v_customer, p_customer_email => p_intent ->> 'receipt_email',
    p_payment_intent_id => v_id, p_charge_id => v_charge,
    -- A failed attempt received nothing: its amount is the one asked for.
    p_amount => coalesce(nullif((p_intent ->> 'amount_received')::bigint, 0), (p_intent ->> 'amount')::bigint),
    p_currency => p_intent ->> 'currency',
    p_description => case when v_succeeded then p_intent ->> 'description'
      else coalesce(p_intent -> 'last_payment_error' ->> 'message', 'Payment failed.') end,
    p_paid_at => case when v_succeeded then p_at end, p_failed_at => case when v_succeeded then null else p_at end,
    p_stripe_created_at => payments_private.stripe_time(p_intent -> 'created'), p_stripe_updated_at => p_at,
    p_raw => p_intent);
  if v_succeeded then
    perform payments_private.refresh_refunded_amount(p_environment, v_id, v_charge);
  end if;
end;
$$;
comment on function payments_private.project_payment_intent(text, jsonb, timestamptz, text) is 'Records a one-time payment (succeeded) or a failed payment for a PaymentIntent that is not an invoice payment.';

-- p_event_type null (sync): the invoice's own status decides.
create function payments_private.project_invoice(p_environment text, p_invoice jsonb, p_at timestamptz, p_event_type text default null)
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
  v_subject record;
  v_paid boolean := coalesce(p_event_type = 'invoice.paid', p_invoice ->> 'status' = 'paid');
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
    v_subject := payments_private.billed_subject(p_environment,
      coalesce(p_invoice -> 'parent' -> 'subscription_details' -> 'metadata', p_invoice -> 'subscription_details' -> 'metadata'),
      v_customer);
    v_subject_type := v_subject.subject_type;
    v_subject_id := v_subject.subject_id;
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

create function payments_private.project_invoice_payment(p_environment text, p_payment jsonb, p_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
begin
  if p_payment ->> 'status' is distinct from 'paid' then
    return;
  end if;
  perform payments_private.link_invoice_payment(p_environment,
    payments_private.stripe_id(p_payment -> 'invoice'),
    payments_private.stripe_id(p_payment -> 'payment' -> 'payment_intent'),
    payments_private.stripe_id(p_payment -> 'payment' -> 'charge'),
    coalesce(payments_private.stripe_time(p_payment -> 'status_transitions' -> 'paid_at'), p_at));
end;
$$;
comment on function payments_private.project_invoice_payment(text, jsonb, timestamptz) is 'Applies a paid Stripe InvoicePayment (invoice_payment.paid): links the invoice to its PaymentIntent and charge.';

create function payments_private.project_refund(p_environment text, p_refund jsonb, p_at timestamptz, p_charge_id text default null, p_payment_intent_id text default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_payment_intent text := coalesce(payments_private.stripe_id(p_refund -> 'payment_intent'), p_payment_intent_id);
  v_charge text := coalesce(payments_private.stripe_id(p_refund -> 'charge'), p_charge_id);
  v_payment payments.transactions;
  v_subject record;
  v_status text;
begin
  select * into v_payment from payments.transactions t
  where t.environment = p_environment and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = v_payment_intent or t.charge_id = v_charge)
  limit 1;

  v_status := case p_refund ->> 'status'
    when 'succeeded' then 'succeeded'
    when 'failed' then 'failed'
    when 'canceled' then 'failed'
    else 'pending'
  end;
  if v_payment.id is null and payments_private.stripe_id(p_refund -> 'customer') is not null then
    v_subject := payments_private.billed_subject(p_environment, null, payments_private.stripe_id(p_refund -> 'customer'));
    v_payment.subject_type := v_subject.subject_type;
    v_payment.subject_id := v_subject.subject_id;
  end if;

  perform payments_private.merge_transaction(
    p_environment => p_environment, p_type => 'refund', p_status => v_status,
    p_provider_object_id => p_refund ->> 'id', p_refund_id => p_refund ->> 'id',
    p_subject_type => v_payment.subject_type, p_subject_id => v_payment.subject_id,
    p_customer_id => coalesce(payments_private.stripe_id(p_refund -> 'customer'), v_payment.customer_id),
    p_customer_email => v_payment.customer_email, p_checkout_session_id => v_payment.checkout_session_id,
    p_payment_intent_id => coalesce(v_payment_intent, v_payment.payment_intent_id),
    p_charge_id => coalesce(v_charge, v_payment.charge_id), p_invoice_id => v_payment.invoice_id,
    p_subscription_id => v_payment.subscription_id, p_amount => (p_refund ->> 'amount')::bigint,
    p_currency => p_refund ->> 'currency', p_description => p_refund ->> 'reason',
    p_refunded_at => case when v_status = 'succeeded' then payments_private.stripe_time(p_refund -> 'created') end,
    p_failed_at => case when v_status = 'failed' then p_at end,
    p_stripe_created_at => payments_private.stripe_time(p_refund -> 'created'), p_stripe_updated_at => p_at,
    p_raw => p_refund);
  perform payments_private.refresh_refunded_amount(p_environment,
    coalesce(v_payment_intent, v_payment.payment_intent_id), coalesce(v_charge, v_payment.charge_id));
end;
$$;
comment on function payments_private.project_refund(text, jsonb, timestamptz, text, text) is 'Records a refund row and keeps amount_refunded and status right on the payment it refunds.';

create function payments_private.project_charge(p_environment text, p_charge jsonb, p_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_charge text := p_charge ->> 'id';
  v_payment_intent text := payments_private.stripe_id(p_charge -> 'payment_intent');
  v_refunded bigint := coalesce((p_charge ->> 'amount_refunded')::bigint, 0);
  v_refund jsonb;
begin
  -- The refunds list is only present when Stripe includes it (older API versions, or expanded).
  if jsonb_typeof(p_charge -> 'refunds' -> 'data') = 'array' then
    for v_refund in select value from jsonb_array_elements(p_charge -> 'refunds' -> 'data') loop
      perform payments_private.project_refund(p_environment, v_refund, p_at, v_charge, v_payment_intent);
    end loop;
  end if;

  update payments.transactions t
  set charge_id = coalesce(t.charge_id, v_charge),
      payment_intent_id = coalesce(t.payment_intent_id, v_payment_intent),
      amount_refunded = greatest(t.amount_refunded, v_refunded),
      status = payments_private.payment_status(t.amount, greatest(t.amount_refunded, v_refunded)),
      refunded_at = case when v_refunded > t.amount_refunded then p_at else t.refunded_at end,
      stripe_updated_at = greatest(t.stripe_updated_at, p_at)
  where t.environment = p_environment and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = v_payment_intent or t.charge_id = v_charge);
end;
$$;
comment on function payments_private.project_charge(text, jsonb, timestamptz) is 'Applies a refunded charge: its refunds and the amount refunded on the payment it belongs to.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.project_checkout_session(text, jsonb, timestamptz, text),
  payments_private.project_payment_intent(text, jsonb, timestamptz, text),
  payments_private.project_invoice(text, jsonb, timestamptz, text),
  payments_private.project_invoice_payment(text, jsonb, timestamptz),
  payments_private.project_refund(text, jsonb, timestamptz, text, text),
  payments_private.project_charge(text, jsonb, timestamptz)
from public;

-- migrate:down
