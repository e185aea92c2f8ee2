-- migrate:up

--------------------------------------------------------------------------------
-- Retention for payments.webhook_events (issue 14). A schedule (pg_cron, docs/sql.md) calls
-- payments.prune_webhook_events; its arguments are the policy.
--------------------------------------------------------------------------------

-- security definer: the policy checks use the private validators, which the service role cannot reach.
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
  v_deleted integer;
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
  delete from payments.webhook_events e
  where e.id in (
    select o.id from payments.webhook_events o
    where (p_environment is null or o.environment = p_environment)
      and o.processing_status = any (p_statuses)
      and o.received_at < v_cutoff
      and o.event_created_at < now() - interval '30 days'
    limit p_batch_size
    for update skip locked);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function payments.prune_webhook_events(interval, text[], text, integer) is 'Retention: removes up to batch_size processed or ignored events received more than older_than ago (default 90 days, at least 30, and never an event Stripe created in the last 30 days); failed and pending events stay. Returns how many it removed; PT400 for a policy that would break dedupe.';
revoke execute on function payments.prune_webhook_events(interval, text[], text, integer) from public;
grant execute on function payments.prune_webhook_events(interval, text[], text, integer) to service_role;

-- migrate:down
