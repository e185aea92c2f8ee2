-- migrate:up

--------------------------------------------------------------------------------
-- Money movements, for reporting (each payload stored once, as on payments.customers)
--------------------------------------------------------------------------------
create table payments.transactions (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  type text not null check (type in ('one_time_payment', 'subscription_invoice', 'refund', 'failed_payment')),
  status text not null
    check (status in ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
  -- The Stripe object this row stands for (pi_, in_ or re_): one row per type and object.
  provider_object_id text not null,
  subject_type payments.subject_type,
  subject_id text,
  customer_id text,
  customer_email text,
  checkout_session_id text,
  payment_intent_id text,
  charge_id text,
  invoice_id text,
  subscription_id text,
  refund_id text,
  amount bigint not null default 0,
  amount_refunded bigint not null default 0 check (amount_refunded >= 0),
  currency text,
  description text,
  paid_at timestamptz,
  failed_at timestamptz,
  refunded_at timestamptz,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  raw jsonb default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  source_event_id text,
  unique (provider, environment, type, provider_object_id),
  check ((subject_type is null) = (subject_id is null)),
  constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null))
);
comment on table payments.transactions is 'Reporting projection of payments, subscription invoices, failed payments and refunds, with Stripe reference ids. Keep order and entitlement state in app tables.';
comment on column payments.transactions.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s newest Stripe object; raw is null then. Null when raw holds the object (sync, or an object nested in another event''s). Read it with payments.stripe_object(row).';
create index transactions_subject_idx on payments.transactions (environment, subject_type, subject_id);
create index transactions_customer_idx on payments.transactions (environment, customer_id);
-- A row carries only the Stripe ids of its kind (a refund id only on refunds, ...): these lookup
-- indexes skip the nulls, so an insert maintains only the indexes it can be found by.
create index transactions_checkout_session_idx on payments.transactions (environment, checkout_session_id)
  where checkout_session_id is not null;
create index transactions_payment_intent_idx on payments.transactions (environment, payment_intent_id);
create index transactions_charge_idx on payments.transactions (environment, charge_id)
  where charge_id is not null;
create index transactions_invoice_idx on payments.transactions (environment, invoice_id)
  where invoice_id is not null;
create index transactions_subscription_idx on payments.transactions (environment, subscription_id)
  where subscription_id is not null;
create index transactions_refund_idx on payments.transactions (environment, refund_id)
  where refund_id is not null;
-- The admin list's order: Stripe's creation time orders the history; rows projected without one
-- fall back to insert time. (No index on status alone: a status matches a large share of rows.)
create index transactions_created_idx
  on payments.transactions (environment, (coalesce(stripe_created_at, created_at)) desc, id desc);
grant select on payments.transactions to authenticated;
grant select, insert, update, delete on payments.transactions to service_role;
alter table payments.transactions enable row level security;
create policy "Users can read their own transactions" on payments.transactions
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.transactions
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- Transactions: merged, not overwritten
--------------------------------------------------------------------------------

-- One parameter per column (callers name them; omitted ones are null): typed values go straight
-- into the insert. Building a jsonb object in the caller and reading it back into a row made each
-- call about a third dearer. A new row's amount_refunded is 0 (refunds raise it later).
-- Several events describe one row (a one-time payment is seen by checkout.session.completed,
-- payment_intent.succeeded and charge.refunded), in any order: ids fill in, amounts only grow,
-- the earliest payment time wins, and a payment's status follows from its amounts; refund and
-- failure rows keep the status of the newest event.
create function payments_private.merge_transaction(
  p_environment text, p_type text, p_status text, p_provider_object_id text,
  p_subject_type text default null, p_subject_id text default null,
  p_customer_id text default null, p_customer_email text default null,
  p_checkout_session_id text default null, p_payment_intent_id text default null,
  p_charge_id text default null, p_invoice_id text default null,
  p_subscription_id text default null, p_refund_id text default null,
  p_amount bigint default null, p_currency text default null, p_description text default null,
  p_paid_at timestamptz default null, p_failed_at timestamptz default null,
  p_refunded_at timestamptz default null, p_stripe_created_at timestamptz default null,
  p_stripe_updated_at timestamptz default null, p_raw jsonb default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_event text := payments_private.projected_event(p_raw);
begin
  insert into payments.transactions as t (
    environment, type, status, provider_object_id, subject_type, subject_id, customer_id,
    customer_email, checkout_session_id, payment_intent_id, charge_id, invoice_id, subscription_id,
    refund_id, amount, amount_refunded, currency, description, paid_at, failed_at, refunded_at,
    stripe_created_at, stripe_updated_at, raw, source_event_id
  ) values (
    p_environment, p_type,
    case when p_type in ('one_time_payment', 'subscription_invoice')
      then payments_private.payment_status(p_amount, 0) else p_status end,
    p_provider_object_id,
    case when p_subject_id is not null then p_subject_type end,
    case when p_subject_type is not null then p_subject_id end,
    p_customer_id, p_customer_email, p_checkout_session_id, p_payment_intent_id, p_charge_id, p_invoice_id,
    p_subscription_id, p_refund_id, coalesce(p_amount, 0), 0, lower(p_currency),
    p_description, p_paid_at, p_failed_at, p_refunded_at, p_stripe_created_at, p_stripe_updated_at,
    case when v_event is null then coalesce(p_raw, '{}'::jsonb) end, v_event
  )
  on conflict (provider, environment, type, provider_object_id) do update set
    status = case
      when t.type in ('one_time_payment', 'subscription_invoice') then payments_private.payment_status(
        greatest(t.amount, excluded.amount), greatest(t.amount_refunded, excluded.amount_refunded))
      when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.status
      else t.status
    end,
    subject_type = coalesce(t.subject_type, excluded.subject_type),
    subject_id = case when t.subject_type is null then excluded.subject_id else t.subject_id end,
    customer_id = coalesce(t.customer_id, excluded.customer_id),
    customer_email = coalesce(excluded.customer_email, t.customer_email),
    checkout_session_id = coalesce(t.checkout_session_id, excluded.checkout_session_id),
    payment_intent_id = coalesce(t.payment_intent_id, excluded.payment_intent_id),
    charge_id = coalesce(t.charge_id, excluded.charge_id),
    invoice_id = coalesce(t.invoice_id, excluded.invoice_id),
    subscription_id = coalesce(t.subscription_id, excluded.subscription_id),
    refund_id = coalesce(t.refund_id, excluded.refund_id),
    amount = greatest(t.amount, excluded.amount),
    amount_refunded = greatest(t.amount_refunded, excluded.amount_refunded),
    currency = coalesce(t.currency, excluded.currency),
    description = coalesce(excluded.description, t.description),
    -- least() skips nulls: the first time money moved, whichever event reported it first.
    paid_at = least(t.paid_at, excluded.paid_at),
    failed_at = greatest(t.failed_at, excluded.failed_at),
    refunded_at = greatest(t.refunded_at, excluded.refunded_at),
    stripe_created_at = coalesce(t.stripe_created_at, excluded.stripe_created_at),
    stripe_updated_at = greatest(t.stripe_updated_at, excluded.stripe_updated_at),
    raw = case when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.raw else t.raw end,
    source_event_id = case when excluded.stripe_updated_at >= t.stripe_updated_at
      then excluded.source_event_id else t.source_event_id end;
end;
$$;
comment on function payments_private.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb) is 'Inserts or merges one transactions row, independent of the order in which events arrive.';

-- A refund may be seen before the payment it refunds: whenever either side changes, the refund
-- rows take the payment's customer and subject (so the user sees them under RLS), and the
-- payment takes the sum of its succeeded refunds (never less than what Stripe reported).
create function payments_private.refresh_refunded_amount(p_environment text, p_payment_intent_id text, p_charge_id text)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_has_refund boolean := false;
begin
  -- Nearly every payment has no refund: an index probe per id settles that. Each probe is a
  -- statement of its own, run only with a non-null id: a null argument would be folded into a
  -- cheaper custom plan, and plpgsql would then plan the statement again on every call.
  if p_payment_intent_id is not null then
    v_has_refund := exists (
      select 1 from payments.transactions x
      where x.environment = p_environment and x.payment_intent_id = p_payment_intent_id and x.type = 'refund');
  end if;
  if not v_has_refund and p_charge_id is not null then
    v_has_refund := exists (
      select 1 from payments.transactions x
      where x.environment = p_environment and x.charge_id = p_charge_id and x.type = 'refund');
  end if;
  if not v_has_refund then
    return;
  end if;

  update payments.transactions x
  set subject_type = coalesce(x.subject_type, p.subject_type),
      subject_id = case when x.subject_type is null then p.subject_id else x.subject_id end,
      customer_id = coalesce(x.customer_id, p.customer_id),
      payment_intent_id = coalesce(x.payment_intent_id, p.payment_intent_id),
      charge_id = coalesce(x.charge_id, p.charge_id),
      invoice_id = coalesce(x.invoice_id, p.invoice_id),
      subscription_id = coalesce(x.subscription_id, p.subscription_id),
      checkout_session_id = coalesce(x.checkout_session_id, p.checkout_session_id)
  from payments.transactions p
  where x.environment = p_environment and x.type = 'refund'
    and (x.payment_intent_id = p_payment_intent_id or x.charge_id = p_charge_id)
    and p.environment = p_environment and p.type in ('one_time_payment', 'subscription_invoice')
    and (p.payment_intent_id = p_payment_intent_id or p.charge_id = p_charge_id)
    and ((x.subject_type is null and p.subject_type is not null) or (x.customer_id is null and p.customer_id is not null)
         or (x.invoice_id is null and p.invoice_id is not null));

  update payments.transactions t
  set amount_refunded = r.total,
      status = payments_private.payment_status(t.amount, r.total),
      refunded_at = greatest(t.refunded_at, r.last_refunded_at)
  from (
    select coalesce(sum(x.amount), 0)::bigint as total, max(x.refunded_at) as last_refunded_at
    from payments.transactions x
    where x.environment = p_environment and x.type = 'refund' and x.status = 'succeeded'
      and (x.payment_intent_id = p_payment_intent_id or x.charge_id = p_charge_id)
  ) r
  where t.environment = p_environment
    and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = p_payment_intent_id or t.charge_id = p_charge_id)
    and r.total > t.amount_refunded;
end;
$$;
comment on function payments_private.refresh_refunded_amount(text, text, text) is 'Gives refund rows the customer and subject of the payment they refund, and raises the payment''s amount_refunded (and status) to the sum of its succeeded refund rows.';

-- Customers mapped after their payments were recorded (a Payment Link or Dashboard payment,
-- linked later): the reporting rows take the subject then. security definer: the mapping may be
-- written by the service role or an app's own function, neither of which writes transactions.
create function payments_private.fill_subject_of_customer()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update payments.transactions t
  set subject_type = new.subject_type, subject_id = new.subject_id
  where t.environment = new.environment and t.customer_id = new.provider_customer_id and t.subject_type is null;
  return null;
end;
$$;
comment on function payments_private.fill_subject_of_customer() is 'After a customer mapping is written: transactions of that customer without a subject take the mapped subject.';
create trigger fill_subject_of_customer after insert or update of provider_customer_id, subject_type, subject_id
  on payments.customer_mappings
  for each row execute function payments_private.fill_subject_of_customer();

--------------------------------------------------------------------------------
-- Invoice payments
--------------------------------------------------------------------------------

-- Under API versions from 2025-03-31 on, an invoice names neither its PaymentIntent nor its
-- charge, and webhooks carry invoice.payments only when expanded; `invoice_payment.paid` is what
-- links them. It may arrive before or after invoice.paid, so the link is kept here.
create table payments_private.invoice_payments (
  environment payments.environment not null,
  invoice_id text not null,
  payment_intent_id text not null,
  charge_id text,
  paid_at timestamptz,
  primary key (environment, payment_intent_id)
);
comment on table payments_private.invoice_payments is 'Which PaymentIntent (and charge) paid which invoice, from invoice_payment.paid events and expanded invoice.payments.';
create index invoice_payments_invoice_idx on payments_private.invoice_payments (environment, invoice_id);

-- The one place an invoice meets the PaymentIntent that paid it. A subscription invoice's
-- PaymentIntent under API 2025+ looks like a one-time payment until this link is known: that row
-- is folded into the invoice's row (its charge kept), so the invoice is counted once. The
-- one-time row is found with the provider named, through the unique key.
create function payments_private.link_invoice_payment(p_environment text, p_invoice_id text, p_payment_intent_id text,
  p_charge_id text, p_paid_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_charge text;
  v_linked_charge text;
  v_folded payments.transactions;
begin
  if p_invoice_id is null or p_payment_intent_id is null then
    return;
  end if;
  insert into payments_private.invoice_payments as l (environment, invoice_id, payment_intent_id, charge_id, paid_at)
  values (p_environment, p_invoice_id, p_payment_intent_id, p_charge_id, p_paid_at)
  on conflict (environment, payment_intent_id) do update
  set charge_id = coalesce(l.charge_id, excluded.charge_id), paid_at = least(l.paid_at, excluded.paid_at)
  returning l.charge_id into v_linked_charge;

  if not exists (select 1 from payments.transactions t
                 where t.environment = p_environment and t.invoice_id = p_invoice_id
                   and t.type = 'subscription_invoice') then
    return;
  end if;
  delete from payments.transactions t
  where t.provider = 'stripe' and t.environment = p_environment and t.type = 'one_time_payment'
    and t.provider_object_id = p_payment_intent_id and t.invoice_id is null
  returning * into v_folded;
  v_charge := coalesce(p_charge_id, v_folded.charge_id, v_linked_charge);

  -- Usually the invoice's row has all of it already (invoice.paid has just written it): the last
  -- condition skips that update, which would write a new row version and every index entry again.
  update payments.transactions t
  set payment_intent_id = coalesce(t.payment_intent_id, p_payment_intent_id),
      charge_id = coalesce(t.charge_id, v_charge),
      customer_id = coalesce(t.customer_id, v_folded.customer_id),
      customer_email = coalesce(t.customer_email, v_folded.customer_email),
      paid_at = least(t.paid_at, v_folded.paid_at, p_paid_at)
  where t.environment = p_environment and t.invoice_id = p_invoice_id and t.type = 'subscription_invoice'
    and (t.payment_intent_id is null or (t.charge_id is null and v_charge is not null) or v_folded.id is not null
         or p_paid_at < coalesce(t.paid_at, 'infinity'));
  perform payments_private.refresh_refunded_amount(p_environment, p_payment_intent_id, v_charge);
end;
$$;
comment on function payments_private.link_invoice_payment(text, text, text, text, timestamptz) is 'Records which PaymentIntent and charge paid an invoice and gives the invoice''s subscription_invoice row both (folding in a one-time row the PaymentIntent made before the link was known), then applies refunds already seen.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb),
  payments_private.refresh_refunded_amount(text, text, text),
  payments_private.fill_subject_of_customer(),
  payments_private.link_invoice_payment(text, text, text, text, timestamptz)
from public;

-- migrate:down
