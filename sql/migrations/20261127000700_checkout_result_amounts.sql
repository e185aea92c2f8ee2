-- migrate:up

-- The function's 201 answer reports the session's total and currency as soon as Stripe has
-- created it, not only after the completion webhook.
create or replace function payments.record_checkout_session_result(p_id uuid, p_session jsonb)
returns payments.stripe_checkout_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
  v_amount bigint := (p_session ->> 'amount_total')::bigint;
  v_currency text := lower(p_session ->> 'currency');
begin
  if p_session is null or jsonb_typeof(p_session -> 'id') is distinct from 'string' then
    perform payments.invalid_request('session.id', 'must be the id of a Stripe Checkout Session.');
  end if;
  select * into v_row from payments.stripe_checkout_sessions s where s.id = p_id for update;
  if v_row.id is null then
    raise exception using errcode = 'PT404', message = format('Checkout session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_checkout_sessions row.';
  end if;

  if v_row.status in ('completed', 'expired') then
    -- A webhook got here first and holds newer state: only fill in what it did not know.
    update payments.stripe_checkout_sessions s
    set checkout_session_id = coalesce(s.checkout_session_id, p_session ->> 'id'),
        url = coalesce(s.url, p_session ->> 'url'),
        expires_at = coalesce(s.expires_at, payments.stripe_time(p_session -> 'expires_at')),
        customer_id = coalesce(s.customer_id, payments.stripe_id(p_session -> 'customer')),
        amount_total = coalesce(s.amount_total, v_amount),
        currency = coalesce(s.currency, v_currency)
    where s.id = p_id
    returning * into v_row;
  else
    update payments.stripe_checkout_sessions s
    set checkout_session_id = p_session ->> 'id',
        url = p_session ->> 'url',
        expires_at = payments.stripe_time(p_session -> 'expires_at'),
        customer_id = coalesce(payments.stripe_id(p_session -> 'customer'), s.customer_id),
        amount_total = coalesce(v_amount, s.amount_total),
        currency = coalesce(v_currency, s.currency),
        status = case when p_session ->> 'status' = 'expired' then 'expired' else 'open' end,
        last_error = null
    where s.id = p_id
    returning * into v_row;
  end if;
  return v_row;
end;
$$;
comment on function payments.record_checkout_session_result(uuid, jsonb) is 'Records the Stripe Checkout Session created for a row (id, url, expiry, customer, total, currency) and marks it open, without undoing a completion or expiry a webhook already recorded.';

-- migrate:down
