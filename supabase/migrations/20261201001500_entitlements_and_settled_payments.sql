-- migrate:up

--------------------------------------------------------------------------------
-- Money safety for apps: what a settled payment is, and entitlements that ignore test mode
--------------------------------------------------------------------------------

-- security invoker on purpose: the caller's RLS on stripe_subscriptions applies, so a user can
-- only learn about subjects whose subscriptions they may read (their own, or their team's with
-- the app's policies). Called from an app's policy it answers for the current user's view.
-- plpgsql rather than sql: policies call it per row, and a SQL function that cannot be inlined
-- (it pins search_path) would be planned again on every call; plpgsql keeps the plan.
-- Entitlements count live subscriptions only, unless the caller asks for test by name: a
-- test-mode subscription paid with a test card must never unlock anything in production.
create function payments.has_active_subscription(
  p_subject_type text,
  p_subject_id text,
  p_environment text default 'live',
  p_product_id text default null,
  p_price_id text default null,
  p_lookup_key text default null
)
returns boolean
language plpgsql stable security invoker set search_path = ''
as $$
begin
  return exists (
    select 1
    from payments.stripe_subscriptions s
    where s.subject_type = p_subject_type and s.subject_id = p_subject_id
      and s.status in ('active', 'trialing') and s.archived_at is null
      and s.environment = coalesce(p_environment, 'live')
      and (
        (p_product_id is null and p_price_id is null and p_lookup_key is null)
        or exists (
          select 1
          from payments.stripe_subscription_items i
          left join payments.stripe_prices p on p.environment = i.environment and p.price_id = i.price_id
          where i.environment = s.environment and i.subscription_id = s.subscription_id
            and (p_product_id is null or i.product_id = p_product_id)
            and (p_price_id is null or i.price_id = p_price_id)
            -- A deactivated price is hidden from users; the item keeps the price it was sold at.
            and (p_lookup_key is null or coalesce(p.lookup_key, payments.stripe_object(i) -> 'price' ->> 'lookup_key') = p_lookup_key)
        )
      )
  );
end;
$$;
comment on function payments.has_active_subscription(text, text, text, text, text, text) is 'True when the subject has an active or trialing, unarchived subscription in the environment (live unless test is asked for by name; null means live), optionally with an item of the given product, price or price lookup_key. Security invoker: the caller''s RLS on stripe_subscriptions applies, so use it in policies for subjects the user may see.';

-- The safe way to fulfil is the easy way: an app trigger on payments.webhook_events asks this
-- function instead of reading the payload. Only a Checkout Session whose money has arrived is a
-- settled payment: `checkout.session.completed` with payment_status 'paid' (an asynchronous
-- method completes 'unpaid' and settles later with `checkout.session.async_payment_succeeded`).
-- The subject comes from the payments_ metadata keys, which only the edge function can write;
-- the app must still compare amount, currency, subject and environment with its own order.
create function payments.settled_payment(p_event payments.webhook_events)
returns table (
  order_id text,
  amount bigint,
  currency text,
  subject_type text,
  subject_id text,
  environment text,
  checkout_session_id text,
  payment_intent_id text,
  settled_at timestamptz
)
language sql immutable set search_path = ''
as $$
  select
    o -> 'metadata' ->> 'order_id',
    (o ->> 'amount_total')::bigint,
    lower(o ->> 'currency'),
    case when coalesce(o -> 'metadata' ->> 'payments_subject_id', '') <> ''
      then o -> 'metadata' ->> 'payments_subject_type' end,
    nullif(o -> 'metadata' ->> 'payments_subject_id', ''),
    p_event.environment::text,
    o ->> 'id',
    case jsonb_typeof(o -> 'payment_intent') when 'string' then o ->> 'payment_intent'
      when 'object' then o -> 'payment_intent' ->> 'id' end,
    p_event.event_created_at
  from (select p_event.payload -> 'data' -> 'object' as o) session
  where p_event.provider = 'stripe'
    and p_event.processing_status = 'processed'
    and p_event.event_type in ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
    and o ->> 'object' = 'checkout.session'
    and o ->> 'payment_status' = 'paid'
    and jsonb_typeof(o -> 'amount_total') = 'number'
    -- The environment column is where the event was received; livemode is what Stripe says.
    and p_event.livemode = (p_event.environment = 'live')
$$;
comment on function payments.settled_payment(payments.webhook_events) is 'For a processed webhook event that settles a Checkout Session (checkout.session.completed or checkout.session.async_payment_succeeded with payment_status paid): one row with metadata.order_id, amount_total, currency, the billing subject, environment, session and payment intent ids and the event time; no row otherwise. Fulfil only when amount, currency, subject and environment match the order (sql/examples/fulfillment.sql).';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.has_active_subscription(text, text, text, text, text, text),
  payments.settled_payment(payments.webhook_events)
from public;
grant execute on function
  payments.has_active_subscription(text, text, text, text, text, text)
to authenticated, service_role;
grant execute on function
  payments.settled_payment(payments.webhook_events)
to service_role;

-- migrate:down
