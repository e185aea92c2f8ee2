-- migrate:up

--------------------------------------------------------------------------------
-- Reconciliation and delivery health: events read back from Stripe's event log are ingested
-- like webhooks (payments.webhook_events.received_via tells them apart)
--------------------------------------------------------------------------------

-- security invoker: the service role reads webhook_events itself.
create function payments.unseen_stripe_event_ids(p_environment text, p_event_ids text[])
returns text[]
language sql stable security invoker set search_path = ''
as $$
  select coalesce(array_agg(i.id order by i.ord), '{}')
  from unnest(p_event_ids) with ordinality as i(id, ord)
  where not exists (
    select 1 from payments.webhook_events e
    where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = i.id)
$$;
comment on function payments.unseen_stripe_event_ids(text, text[]) is 'The ids among p_event_ids that payments.webhook_events does not hold for the environment, in their order (what reconciliation ingests, and what delivery health counts as pending).';

-- security invoker: as above.
create function payments.webhook_delivery_times(p_environment text)
returns table (last_delivery_at timestamptz, last_reconciled_at timestamptz)
language sql stable security invoker set search_path = ''
as $$
  -- Each max walks webhook_events_received_idx from its newest end.
  select (select max(e.received_at) from payments.webhook_events e
          where e.environment = p_environment and e.received_via = 'webhook'),
         (select max(e.received_at) from payments.webhook_events e
          where e.environment = p_environment and e.received_via = 'reconcile')
$$;
comment on function payments.webhook_delivery_times(text) is 'When the environment last received a verified webhook delivery, and last stored an event through reconciliation.';

--------------------------------------------------------------------------------
-- Retention for payments.webhook_events. A schedule (pg_cron, docs/sql.md) calls
-- payments.prune_webhook_events; its arguments are the policy.
--------------------------------------------------------------------------------

-- security definer: the policy checks use the private validators, which the service role cannot
-- reach. Before removing a batch, the rows that name one of its events take their object into
-- raw: an object outlives the event that brought it.
create function payments.prune_webhook_events(
  p_older_than interval default interval '90 days',
  p_statuses text[] default array['processed', 'ignored'],
  p_environment text default null,
  p_batch_size integer default 10000
)
returns integer
language plpgsql volatile security definer set search_path = ''
as $$
declare
  v_cutoff timestamptz := now() - p_older_than;
  v_ids uuid[];
begin
  if p_environment is not null then
    perform payments_private.require_environment(p_environment);
  end if;
  -- Stripe resends an event, and its event log (which reconciliation reads) keeps it, for 30
  -- days: an event removed sooner would be stored again as new and fulfilled twice.
  if p_older_than is null or p_older_than < interval '30 days' then
    perform payments_private.invalid_request('older_than',
      'must be at least 30 days, the time Stripe can still resend an event.');
  end if;
  -- Failed and pending events are work still to do: they are never removed.
  if p_statuses is null or cardinality(p_statuses) = 0
     or not p_statuses <@ array['processed', 'ignored'] then
    perform payments_private.invalid_request('statuses',
      'must list only processed and ignored (failed and pending events are never removed).');
  end if;
  if p_batch_size is null or p_batch_size not between 1 and 1000000 then
    perform payments_private.invalid_request('batch_size', 'must be between 1 and 1000000.');
  end if;

  -- One bounded batch per call keeps each transaction short; the schedule calls again while a
  -- call removes a whole batch.
  select array_agg(o.id) into v_ids from (
    select o.id from payments.webhook_events o
    where (p_environment is null or o.environment = p_environment)
      and o.processing_status = any (p_statuses)
      and o.received_at < v_cutoff
      and o.event_created_at < now() - interval '30 days'
    limit p_batch_size
    for update skip locked) o;
  if v_ids is null then
    return 0;
  end if;

  -- One statement, one pass over the batch; each mirror is joined on its index on the object id,
  -- which the event records.
  with batch as (
    select e.id, e.environment, e.provider_event_id, e.object_type, e.object_id, e.payload -> 'data' -> 'object' as object
    from payments.webhook_events e where e.id = any (v_ids)
  ), customers as (
    update payments.customers m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type = 'customer' and m.environment = b.environment and m.customer_id = b.object_id
      and m.source_event_id = b.provider_event_id
  ), subscriptions as (
    update payments.stripe_subscriptions m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type = 'subscription' and m.environment = b.environment and m.subscription_id = b.object_id
      and m.source_event_id = b.provider_event_id
  ), items as (
    update payments.stripe_subscription_items m set raw = i, source_event_id = null
    from batch b, jsonb_array_elements(b.object -> 'items' -> 'data') i
    where b.object_type = 'subscription' and m.environment = b.environment and m.subscription_id = b.object_id
      and m.source_event_id = b.provider_event_id and i ->> 'id' = m.subscription_item_id
  ), transactions as (
    update payments.transactions m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type in ('checkout.session', 'payment_intent', 'invoice', 'refund')
      and m.environment = b.environment and m.source_event_id = b.provider_event_id
      and b.object_id in (m.provider_object_id, m.checkout_session_id, m.payment_intent_id, m.invoice_id, m.refund_id)
  )
  delete from payments.webhook_events e where e.id = any (v_ids);
  return cardinality(v_ids);
end;
$$;
comment on function payments.prune_webhook_events(interval, text[], text, integer) is 'Retention: removes up to batch_size processed or ignored events received more than older_than ago (default 90 days, at least 30, and never an event Stripe created in the last 30 days); failed and pending events stay, and rows naming a removed event keep its object in raw. Returns how many it removed; PT400 for a policy that would break dedupe.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.unseen_stripe_event_ids(text, text[]),
  payments.webhook_delivery_times(text),
  payments.prune_webhook_events(interval, text[], text, integer)
from public;
grant execute on function
  payments.unseen_stripe_event_ids(text, text[]),
  payments.webhook_delivery_times(text),
  payments.prune_webhook_events(interval, text[], text, integer)
to service_role;

-- migrate:down
