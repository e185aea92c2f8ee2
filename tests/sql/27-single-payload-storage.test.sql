-- Each payload is stored once: rows projected from an event name the event instead of copying its
-- object, payments.stripe_object(row) returns the object wherever it is kept, users read it under
-- RLS, and retention moves the object into the row before it removes the event.
begin;
select plan(29);

select tests.fixture('current') as current \gset
create temporary table objects as
select
  f -> 'customer' || '{"metadata": {"payments_subject_type": "user", "payments_subject_id": "11111111-1111-1111-1111-111111111111"}}' as customer,
  jsonb_set(f -> 'subscription' || jsonb_build_object('status', 'active', 'customer', f -> 'customer' ->> 'id',
      'metadata', '{"payments_subject_type": "user", "payments_subject_id": "11111111-1111-1111-1111-111111111111"}'::jsonb),
    '{items,data,0,price,lookup_key}', '"pro_monthly"') as subscription,
  f -> 'checkout.session' || jsonb_build_object('status', 'complete', 'payment_status', 'paid', 'amount_total', 1099,
    'currency', 'usd', 'customer', f -> 'customer' ->> 'id',
    'metadata', '{"payments_subject_type": "user", "payments_subject_id": "11111111-1111-1111-1111-111111111111"}'::jsonb) as session,
  f -> 'payment_intent' || jsonb_build_object('status', 'succeeded', 'amount_received', 1099, 'customer', f -> 'customer' ->> 'id',
    'metadata', '{"payments_subject_type": "user", "payments_subject_id": "11111111-1111-1111-1111-111111111111"}'::jsonb) as intent,
  f -> 'customer' || '{"id": "cus_synced", "email": "synced@example.com"}' as synced_customer
from (select :'current'::jsonb as f) fx;
grant select on objects to authenticated, service_role;

-- as the service role: the webhook route
select tests.authenticate_as_service_role();
select is(tests.ingest('evt_customer', 'customer.created', 1700000000, (select customer from objects)), 'processed',
  'customer.created is processed.');
select is(tests.ingest('evt_sub_new', 'customer.subscription.created', 1700000100,
  (select subscription || '{"status": "incomplete"}' from objects)), 'processed', 'customer.subscription.created is processed.');
select is(tests.ingest('evt_sub', 'customer.subscription.updated', 1700000200, (select subscription from objects)), 'processed',
  'customer.subscription.updated is processed.');
select is(tests.ingest('evt_sub_stale', 'customer.subscription.updated', 1700000150,
  (select subscription || '{"status": "past_due"}' from objects)), 'processed', 'An older subscription event is processed too.');
select is(tests.ingest('evt_cs', 'checkout.session.completed', 1700000300, (select session from objects)), 'processed',
  'checkout.session.completed is processed.');
select is(tests.ingest('evt_pi', 'payment_intent.succeeded', 1700000310, (select intent from objects)), 'processed',
  'payment_intent.succeeded is processed.');

select results_eq($$
  select source_event_id, raw is null from payments.customers
  union all select source_event_id, raw is null from payments.stripe_subscriptions
  union all select source_event_id, raw is null from payments.stripe_subscription_items
  union all select source_event_id, raw is null from payments.transactions where provider_object_id like 'pi_%'$$,
  $$values ('evt_customer', true), ('evt_sub', true), ('evt_sub', true), ('evt_pi', true)$$,
  'Rows projected from events keep no copy of the object: they name the newest event that wrote them.');
select is((select payments.stripe_object(c) from payments.customers c),
  (select payload -> 'data' -> 'object' from payments.webhook_events where provider_event_id = 'evt_customer'),
  'stripe_object gives a customer row''s object from its event.');
select is((select payments.stripe_object(s) from payments.stripe_subscriptions s), (select subscription from objects),
  'stripe_object gives a subscription row the object of its newest event, not of the stale one.');
select is((select payments.stripe_object(i) from payments.stripe_subscription_items i),
  (select subscription -> 'items' -> 'data' -> 0 from objects),
  'stripe_object gives an item row its item, found in the subscription of the event.');
select is((select payments.stripe_object(t) ->> 'id' from payments.transactions t where provider_object_id like 'pi_%'),
  (select intent ->> 'id' from objects), 'stripe_object gives a transaction row the newest object that wrote it.');

-- Sync has no event: its rows keep the object.
select payments.upsert_stripe_objects('test', 'customer', (select jsonb_build_array(synced_customer) from objects), now());
select results_eq($$select source_event_id is null, raw = (select synced_customer from objects) from payments.customers where customer_id = 'cus_synced'$$,
  $$values (true, true)$$, 'A synced row keeps its object in raw and names no event.');
select is((select payments.stripe_object(c) from payments.customers c where customer_id = 'cus_synced'),
  (select synced_customer from objects), 'stripe_object gives a synced row its raw.');
select throws_ok($$update payments.customers set raw = null where customer_id = 'cus_synced'$$, '23514', null,
  'A row cannot lose its object: it is kept either in raw or in the event the row names.');
select is(payments.event_object('test', 'evt_sub_stale') ->> 'status', 'past_due',
  'event_object gives the service role the object of any stored event.');

-- as alice: the owner of the subscription and the payment
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select is((select payments.stripe_object(s) from payments.stripe_subscriptions s), (select subscription from objects),
  'Alice reads the object of her subscription.');
select is((select payments.stripe_object(i) -> 'price' ->> 'lookup_key' from payments.stripe_subscription_items i), 'pro_monthly',
  'Alice reads the object of her subscription item.');
select is((select payments.stripe_object(t) ->> 'id' from payments.transactions t where provider_object_id like 'pi_%'),
  (select intent ->> 'id' from objects), 'Alice reads the object of her payment.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', 'test', p_lookup_key => 'pro_monthly'),
  'An entitlement by lookup key reads the item''s price from the event when the price is not mirrored.');
select set_eq($$select provider_event_id from payments.webhook_events$$, array['evt_sub', 'evt_pi'],
  'Alice can read only the events holding the objects of her rows.');
select throws_ok($$select processing_status from payments.webhook_events$$, '42501', null,
  'Alice cannot read the processing state of events.');
select is(payments.event_object('test', 'evt_pi') ->> 'id', (select intent ->> 'id' from objects),
  'event_object gives Alice the object of an event holding one of her rows.');
select is(payments.event_object('test', 'evt_sub_stale'), null,
  'event_object gives Alice nothing of an event her rows do not name.');

-- as bob: someone else, handed a copy of Alice's payment row
reset role;
create temporary table alice_payment as select t as payment from payments.transactions t where provider_object_id like 'pi_%';
grant select on alice_payment to authenticated;
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select is_empty($$select 1 from payments.webhook_events$$, 'Bob reads none of Alice''s events.');
select is(payments.event_object('test', 'evt_pi'), null, 'event_object gives Bob nothing of Alice''s events.');
select is((select payments.stripe_object(a.payment) from alice_payment a), null,
  'Bob reads nothing through stripe_object, even holding Alice''s row.');

-- Retention, months later: the rows take their objects before the events go.
reset role;
update payments.webhook_events set received_at = now() - interval '120 days', event_created_at = now() - interval '120 days';
select tests.authenticate_as_service_role();
select is(payments.prune_webhook_events(), 6, 'Retention removes the six old events.');
select results_eq($$
  select count(*)::int, count(*) filter (where r.source_event_id is null and r.raw is not null)::int from (
    select source_event_id, raw from payments.customers where customer_id <> 'cus_synced'
    union all select source_event_id, raw from payments.stripe_subscriptions
    union all select source_event_id, raw from payments.stripe_subscription_items
    union all select source_event_id, raw from payments.transactions) r$$,
  $$values (4, 4)$$, 'Every row that named a removed event now keeps its object in raw.');
select results_eq($$
  select payments.stripe_object(s), payments.stripe_object(i)
  from payments.stripe_subscriptions s join payments.stripe_subscription_items i using (environment, subscription_id)$$,
  $$select subscription, subscription -> 'items' -> 'data' -> 0 from objects$$,
  'stripe_object gives the same objects after retention.');

select * from finish();
rollback;
