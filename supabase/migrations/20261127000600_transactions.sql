-- migrate:up

--------------------------------------------------------------------------------
-- Money movements, for reporting
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
  raw jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, type, provider_object_id),
  check ((subject_type is null) = (subject_id is null))
);
comment on table payments.transactions is 'Reporting projection of payments, subscription invoices, failed payments and refunds, with Stripe reference ids. Keep order and entitlement state in app tables.';
create index transactions_subject_idx on payments.transactions (environment, subject_type, subject_id);
create index transactions_customer_idx on payments.transactions (environment, customer_id);
create index transactions_status_idx on payments.transactions (status);
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
-- and a payment's status follows from its amounts; refund and failure rows keep the status of
-- the newest event.
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
begin
  insert into payments.transactions as t (
    environment, type, status, provider_object_id, subject_type, subject_id, customer_id,
    customer_email, checkout_session_id, payment_intent_id, charge_id, invoice_id, subscription_id,
    refund_id, amount, amount_refunded, currency, description, paid_at, failed_at, refunded_at,
    stripe_created_at, stripe_updated_at, raw
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
    coalesce(p_raw, '{}'::jsonb)
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
    paid_at = coalesce(t.paid_at, excluded.paid_at),
    failed_at = greatest(t.failed_at, excluded.failed_at),
    refunded_at = greatest(t.refunded_at, excluded.refunded_at),
    stripe_created_at = coalesce(t.stripe_created_at, excluded.stripe_created_at),
    stripe_updated_at = greatest(t.stripe_updated_at, excluded.stripe_updated_at),
    raw = case when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.raw else t.raw end;
end;
$$;
comment on function payments_private.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb) is 'Inserts or merges one transactions row, independent of the order in which events arrive.';
revoke execute on function payments_private.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb) from public;

-- A refund may be seen before the payment it refunds: whenever either side changes, the payment
-- takes the sum of its succeeded refunds (never less than what Stripe reported on the charge).
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
comment on function payments_private.refresh_refunded_amount(text, text, text) is 'Raises a payment''s amount_refunded (and status) to the sum of its succeeded refund rows.';
revoke execute on function payments_private.refresh_refunded_amount(text, text, text) from public;

-- migrate:down
