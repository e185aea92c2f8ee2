-- migrate:up

--------------------------------------------------------------------------------
-- Reconciliation and delivery health (issue 14): events read back from Stripe's event log go
-- through payments.ingest_stripe_event like a webhook; the row remembers which way it came, so
-- the time of the last verified delivery stays visible when reconciliation fills the gaps.
--------------------------------------------------------------------------------

-- A constant default first (no table rewrite), then the default that reads the transaction's
-- setting: the reconciler sets payments.received_via = 'reconcile' around its ingest calls, so
-- the one ingestion function serves both paths unchanged.
alter table payments.webhook_events
  add column received_via text not null default 'webhook'
    constraint webhook_events_received_via_check check (received_via in ('webhook', 'reconcile'));
alter table payments.webhook_events
  alter column received_via set default coalesce(nullif(current_setting('payments.received_via', true), ''), 'webhook');
comment on column payments.webhook_events.received_via is 'webhook: a verified delivery; reconcile: read back from Stripe''s event log (POST /stripe/{environment}/reconcile).';

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
revoke execute on function payments.unseen_stripe_event_ids(text, text[]) from public;
grant execute on function payments.unseen_stripe_event_ids(text, text[]) to service_role;

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
revoke execute on function payments.webhook_delivery_times(text) from public;
grant execute on function payments.webhook_delivery_times(text) to service_role;

-- migrate:down
