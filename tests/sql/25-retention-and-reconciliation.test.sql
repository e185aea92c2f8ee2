-- Retention of webhook_events (prune_webhook_events) and the helpers reconciliation and delivery
-- health read: what was already stored, which way it came, and when.
begin;
select plan(20);

-- Events of every status and age, written directly: retention looks only at stored rows.
create temporary table aged (id text, status text, received_days integer, created_days integer, env text);
insert into aged values
  ('evt_old_processed', 'processed', 120, 120, 'test'),
  ('evt_old_ignored', 'ignored', 100, 100, 'test'),
  ('evt_old_failed', 'failed', 200, 200, 'test'),
  ('evt_old_pending', 'pending', 200, 200, 'test'),
  ('evt_recent_processed', 'processed', 10, 10, 'test'),
  ('evt_60_processed', 'processed', 60, 60, 'test'),
  -- received long ago for an event Stripe made recently: Stripe could still resend it
  ('evt_clock_skew', 'processed', 120, 5, 'test'),
  ('evt_live_old', 'processed', 120, 120, 'live');
insert into payments.webhook_events (environment, provider_event_id, event_type, livemode,
  event_created_at, payload, processing_status, received_at, attempt_count)
select a.env, a.id, 'product.updated', a.env = 'live', now() - make_interval(days => a.created_days),
  jsonb_build_object('id', a.id), a.status, now() - make_interval(days => a.received_days), 1
from aged a;

-- as the service role (a pg_cron job or the function)
select tests.authenticate_as_service_role();

select throws_ok($$select payments.prune_webhook_events(interval '29 days')$$, 'PT400',
  'older_than must be at least 30 days, the time Stripe can still resend an event.',
  'A policy shorter than Stripe''s 30-day resend window is refused.');
select throws_ok($$select payments.prune_webhook_events(interval '90 days', array['processed', 'failed'])$$, 'PT400',
  'statuses must list only processed and ignored (failed and pending events are never removed).',
  'A policy that would remove failed events is refused.');
select throws_ok($$select payments.prune_webhook_events(interval '90 days', array[]::text[])$$, 'PT400', null,
  'A policy with no status is refused.');
select throws_ok($$select payments.prune_webhook_events(p_environment => 'sandbox')$$, 'PT400', null,
  'An unknown environment is refused.');
select throws_ok($$select payments.prune_webhook_events(p_batch_size => 0)$$, 'PT400', null,
  'A batch size below 1 is refused.');

select is(payments.prune_webhook_events(p_environment => 'test', p_batch_size => 1), 1,
  'One call removes at most one batch.');
select is(payments.prune_webhook_events(p_environment => 'test'), 1,
  'The next call removes the rest of the test environment''s old processed and ignored events.');
select is(payments.prune_webhook_events(p_environment => 'test'), 0, 'Pruning again removes nothing.');
select set_eq($$select provider_event_id from payments.webhook_events where environment = 'test'$$,
  array['evt_old_failed', 'evt_old_pending', 'evt_recent_processed', 'evt_60_processed', 'evt_clock_skew'],
  'Failed, pending, recent events, and events Stripe created within 30 days stay.');
select is((select count(*)::int from payments.webhook_events where environment = 'live'), 1,
  'Pruning one environment leaves the other alone.');
select is(payments.prune_webhook_events(interval '45 days'), 2,
  'A shorter policy across both environments removes the 60-day event and the live one.');
select set_eq($$select provider_event_id from payments.webhook_events$$,
  array['evt_old_failed', 'evt_old_pending', 'evt_recent_processed', 'evt_clock_skew'],
  'Even a 45-day policy keeps events created within 30 days, failed and pending ones.');

-- Reconciliation asks which of a page of Stripe's events are not stored yet.
select is(payments.unseen_stripe_event_ids('test', array['evt_new_b', 'evt_recent_processed', 'evt_new_a', 'evt_old_failed']),
  array['evt_new_b', 'evt_new_a'], 'Only events the environment has not stored are unseen, in the order asked.');
select is(payments.unseen_stripe_event_ids('live', array['evt_recent_processed']), array['evt_recent_processed'],
  'An event stored in test is unseen in live.');
select is(payments.unseen_stripe_event_ids('test', array[]::text[]), array[]::text[], 'An empty page has nothing unseen.');

-- Which way an event came: a delivery by default, reconcile when the reconciler says so.
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_delivered', 'customer.tax_id.created', 1700000000, '{"id": "txi_1", "object": "tax_id"}')) ->> 'status',
  'ignored', 'A delivered event is ingested.');
select set_config('payments.received_via', 'reconcile', true);
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_reconciled', 'customer.tax_id.created', 1700000001, '{"id": "txi_2", "object": "tax_id"}')) ->> 'status',
  'ignored', 'A reconciled event goes through the same ingestion.');
select set_config('payments.received_via', '', true);
select results_eq($$select provider_event_id, received_via from payments.webhook_events where provider_event_id in ('evt_delivered', 'evt_reconciled') order by 1$$,
  $$values ('evt_delivered', 'webhook'), ('evt_reconciled', 'reconcile')$$,
  'Each event records whether it was delivered or reconciled.');
select ok((select last_delivery_at = (select received_at from payments.webhook_events where provider_event_id = 'evt_delivered')
           and last_reconciled_at = (select received_at from payments.webhook_events where provider_event_id = 'evt_reconciled')
           from payments.webhook_delivery_times('test')),
  'Delivery times name the newest delivered and the newest reconciled event.');
select is((select row(last_delivery_at, last_reconciled_at)::text from payments.webhook_delivery_times('live')), '(,)',
  'An environment without events has no delivery times.');

select * from finish();
rollback;
