-- migrate:up

-- Admin lists of subscriptions, customers and products, and the dashboard's overview: the same
-- keyset pages as the event and transaction lists, through payments_private.admin_list_page
-- (20261201001800_admin_lists.sql).

--------------------------------------------------------------------------------
-- Subscriptions, customers, products
--------------------------------------------------------------------------------

create function payments.list_subscriptions(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_status text default null)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select payments_private.admin_list_page('payments.stripe_subscriptions', 's', 'coalesce(s.stripe_created_at, s.created_at)', $i$
      jsonb_build_object(
         'subscriptionId', s.subscription_id, 'customerId', s.customer_id,
         'subjectType', s.subject_type, 'subjectId', s.subject_id, 'status', s.status,
         'cancelAtPeriodEnd', s.cancel_at_period_end, 'cancelAt', s.cancel_at,
         'canceledAt', s.canceled_at, 'endedAt', s.ended_at, 'trialEnd', s.trial_end,
         'currentPeriodEnd', coalesce(s.current_period_end, (
           select min(i.current_period_end) from payments.stripe_subscription_items i
           where i.environment = s.environment and i.subscription_id = s.subscription_id)),
         'items', coalesce((
           select jsonb_agg(jsonb_build_object('priceId', i.price_id, 'productId', i.product_id,
                                               'quantity', i.quantity) order by i.subscription_item_id)
           from payments.stripe_subscription_items i
           where i.environment = s.environment and i.subscription_id = s.subscription_id), '[]'::jsonb),
         'metadata', s.metadata, 'archived', s.archived_at is not null,
         'createdAt', coalesce(s.stripe_created_at, s.created_at)
       )
    $i$, p_environment, p_limit, p_cursor, p_filters => array[['status', 'status', p_status]])
$$;
comment on function payments.list_subscriptions(text, integer, text, text) is 'One page {data, nextCursor} of mirrored subscriptions with their items, newest first, optionally by status. PT400 for a status the table does not have.';

create function payments.list_customers(
  p_environment text, p_limit integer default null, p_cursor text default null)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select payments_private.admin_list_page('payments.customers', 'c', 'coalesce(c.stripe_created_at, c.created_at)', $i$
      jsonb_build_object(
         'customerId', c.customer_id, 'email', c.email, 'name', c.name, 'metadata', c.metadata,
         'deleted', c.deleted, 'archived', c.archived_at is not null,
         'subject', (select jsonb_build_object('type', m.subject_type, 'id', m.subject_id)
                     from payments.customer_mappings m
                     where m.provider = 'stripe' and m.environment = c.environment
                       and m.provider_customer_id = c.customer_id),
         'createdAt', coalesce(c.stripe_created_at, c.created_at)
       )
    $i$, p_environment, p_limit, p_cursor)
$$;
comment on function payments.list_customers(text, integer, text) is 'One page {data, nextCursor} of mirrored customers with the billing subject mapped to each, newest first.';

create function payments.list_products(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_active boolean default null)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select payments_private.admin_list_page('payments.stripe_products', 'p', 'coalesce(p.stripe_created_at, p.created_at)', $i$
      jsonb_build_object(
         'productId', p.product_id, 'name', p.name, 'description', p.description,
         'active', p.active, 'defaultPriceId', p.default_price_id, 'metadata', p.metadata,
         'archived', p.archived_at is not null, 'createdAt', coalesce(p.stripe_created_at, p.created_at),
         'prices', coalesce((
           select jsonb_agg(jsonb_build_object(
                    'priceId', r.price_id, 'currency', r.currency, 'unitAmount', r.unit_amount,
                    'type', r.type, 'recurring', case when r.recurring_interval is not null then
                      jsonb_build_object('interval', r.recurring_interval,
                                         'intervalCount', r.recurring_interval_count) end,
                    'lookupKey', r.lookup_key, 'nickname', r.nickname, 'active', r.active,
                    'metadata', r.metadata, 'archived', r.archived_at is not null)
                  order by r.active desc, r.unit_amount, r.price_id)
           from payments.stripe_prices r
           where r.environment = p.environment and r.product_id = p.product_id and r.deleted_at is null),
           '[]'::jsonb)
       )
    $i$, p_environment, p_limit, p_cursor,
    -- Archived by sync (gone from Stripe) counts as inactive.
    p_where => 'p.deleted_at is null' || case when p_active is not null
      then format(' and (p.active and p.archived_at is null) = %L', p_active) else '' end)
$$;
comment on function payments.list_products(text, integer, text, boolean) is 'One page {data, nextCursor} of mirrored products, each with its prices, newest first, optionally only active (or only archived) ones.';

--------------------------------------------------------------------------------
-- Overview
--------------------------------------------------------------------------------

create function payments.admin_overview(p_environment text, p_since timestamptz default null)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_since timestamptz := coalesce(p_since, now() - interval '30 days');
  v_hours_since timestamptz := greatest(v_since, now() - interval '48 hours');
begin
  perform payments_private.require_environment(p_environment);
  return jsonb_build_object(
    'since', v_since,
    -- Net of refunds, on the day the payment was made (UTC).
    'revenuePerDay', coalesce((
      select jsonb_agg(jsonb_build_object('day', day, 'currency', currency, 'amount', amount, 'count', n)
                       order by day, currency)
      from (select (date_trunc('day', coalesce(t.stripe_created_at, t.created_at) at time zone 'UTC'))::date as day,
                   t.currency, sum(t.amount - t.amount_refunded) as amount, count(*) as n
            from payments.transactions t
            where t.provider = 'stripe' and t.environment = p_environment
              and coalesce(t.stripe_created_at, t.created_at) >= v_since
              and t.type in ('one_time_payment', 'subscription_invoice')
              and t.status in ('succeeded', 'partially_refunded', 'refunded')
            group by 1, 2) r), '[]'::jsonb),
    'eventsPerHour', coalesce((
      select jsonb_agg(jsonb_build_object('hour', hour, 'status', status, 'count', n) order by hour, status)
      from (select date_trunc('hour', e.received_at) as hour, e.processing_status as status, count(*) as n
            from payments.webhook_events e
            where e.provider = 'stripe' and e.environment = p_environment and e.received_at >= v_hours_since
            group by 1, 2) h), '[]'::jsonb),
    'subscriptionsByStatus', coalesce((
      select jsonb_object_agg(status, n)
      from (select s.status, count(*) as n from payments.stripe_subscriptions s
            where s.environment = p_environment and s.archived_at is null group by s.status) s), '{}'::jsonb),
    'failedEvents', (
      select count(*) from payments.webhook_events e
      where e.provider = 'stripe' and e.environment = p_environment and e.processing_status = 'failed')
  );
end;
$$;
comment on function payments.admin_overview(text, timestamptz) is 'Figures for the dashboard overview: net revenue per day and currency since p_since (30 days by default), webhook events per hour and status (48 hours at most), subscriptions by status and the number of failed events.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.list_subscriptions(text, integer, text, text),
  payments.list_customers(text, integer, text),
  payments.list_products(text, integer, text, boolean),
  payments.admin_overview(text, timestamptz)
from public;
grant execute on function
  payments.list_subscriptions(text, integer, text, text),
  payments.list_customers(text, integer, text),
  payments.list_products(text, integer, text, boolean),
  payments.admin_overview(text, timestamptz)
to service_role;

-- migrate:down
