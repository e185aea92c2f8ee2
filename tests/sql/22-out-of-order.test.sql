-- The stale-event gate: events arrive in any order, an older one never overwrites newer state,
-- and deletions (and cancellation) are final.
begin;
select plan(24);

select tests.fixture('current') as current \gset
create temporary table fx as
select :'current'::jsonb -> 'subscription' || '{"metadata":{"payments_subject_type":"team","payments_subject_id":"team-1"}}' as sub,
       :'current'::jsonb -> 'product' as product,
       :'current'::jsonb -> 'price' as price,
       :'current'::jsonb -> 'customer' || '{"id":"cus_other"}' as customer;

-- Subscriptions: updated before created
select is(tests.ingest('evt_sub_updated', 'customer.subscription.updated', 1700000200,
  (select sub || '{"status":"past_due"}' from fx)), 'processed', 'An update arriving before its create is processed.');
select is(tests.ingest('evt_sub_created', 'customer.subscription.created', 1700000100,
  (select sub || '{"status":"incomplete"}' from fx)), 'processed', 'The older create is processed too.');
select results_eq($$select status, stripe_updated_at, subject_type::text, subject_id from payments.stripe_subscriptions$$,
  $$values ('past_due', to_timestamp(1700000200), 'team', 'team-1')$$,
  'The subscription keeps the state of the newer update.');

select is((select provider_customer_id from payments.customer_mappings where subject_type = 'team'), 'cus_QXg1o8vcGmoR32',
  'The subject in the subscription''s metadata maps its customer.');

-- An older update after a newer one
select is(tests.ingest('evt_sub_newer', 'customer.subscription.updated', 1700000400,
  (select sub || '{"status":"active","cancel_at_period_end":false}' from fx)), 'processed', 'A newer update is processed.');
select is(tests.ingest('evt_sub_older', 'customer.subscription.updated', 1700000300,
  (select sub || '{"status":"unpaid","cancel_at_period_end":true}' from fx)), 'processed', 'An older update is still recorded as processed.');
select results_eq($$select status, cancel_at_period_end, stripe_updated_at from payments.stripe_subscriptions$$,
  $$values ('active', false, to_timestamp(1700000400))$$, 'An older update changes nothing.');

-- Items follow the newest state: a replaced item disappears.
select is((select count(*)::int from payments.stripe_subscription_items), 1, 'The subscription item is mirrored.');
select tests.ingest('evt_sub_items', 'customer.subscription.updated', 1700000500,
  (select jsonb_set(sub, '{items,data,0}', (sub #> '{items,data,0}') || '{"id":"si_new","quantity":3}') from fx));
select results_eq($$select subscription_item_id, quantity from payments.stripe_subscription_items$$,
  $$values ('si_new', 3)$$, 'An item replaced in Stripe is replaced here.');

-- Cancellation is final.
select tests.ingest('evt_sub_deleted', 'customer.subscription.deleted', 1700000600, (select sub || '{"status":"canceled"}' from fx));
select tests.ingest('evt_sub_late', 'customer.subscription.updated', 1700000550, (select sub || '{"status":"active"}' from fx));
select is((select status from payments.stripe_subscriptions), 'canceled', 'A late older update does not revive a canceled subscription.');
select tests.ingest('evt_sub_resumed', 'customer.subscription.resumed', 1700000700, (select sub || '{"status":"active"}' from fx));
select is((select status from payments.stripe_subscriptions), 'canceled', 'Nothing after cancellation revives it.');

-- Products
select tests.ingest('evt_prod_updated', 'product.updated', 1700000200, (select product || '{"name":"Hoodie"}' from fx));
select tests.ingest('evt_prod_created', 'product.created', 1700000100, (select product from fx));
select is((select name from payments.stripe_products), 'Hoodie', 'An older product.created does not undo a newer rename.');
select tests.ingest('evt_prod_deleted', 'product.deleted', 1700000300, (select product || '{"name":"Hoodie"}' from fx));
select results_eq($$select active, deleted_at from payments.stripe_products$$, $$values (false, to_timestamp(1700000300))$$,
  'product.deleted marks the product deleted and inactive.');
select tests.ingest('evt_prod_revive', 'product.updated', 1700000250, (select product || '{"name":"Revived"}' from fx));
select results_eq($$select name, active, deleted_at is not null from payments.stripe_products$$, $$values ('Hoodie', false, true)$$,
  'A deleted product is never revived by an older event.');

-- Prices
select tests.ingest('evt_price_updated', 'price.updated', 1700000200, (select price || '{"nickname":"Monthly","lookup_key":"pro_monthly"}' from fx));
select tests.ingest('evt_price_created', 'price.created', 1700000100, (select price from fx));
select results_eq($$select nickname, lookup_key, recurring_interval, unit_amount from payments.stripe_prices$$,
  $$values ('Monthly', 'pro_monthly', 'month', 2000::bigint)$$, 'An older price.created does not undo a newer update.');
select tests.ingest('evt_price_deleted', 'price.deleted', 1700000300, (select price from fx));
select tests.ingest('evt_price_late', 'price.updated', 1700000250, (select price || '{"nickname":"Late"}' from fx));
select results_eq($$select nickname, active, deleted_at is not null from payments.stripe_prices$$, $$values (null::text, false, true)$$,
  'A deleted price stays deleted.');

-- as anon: deleted catalog is hidden
set local role anon;
select is_empty('select 1 from payments.stripe_products', 'Anon does not see a deleted product.');
select is_empty('select 1 from payments.stripe_prices', 'Anon does not see a deleted price.');
reset role;

-- Customers: the subject in metadata maps them; deletion is final and frees the subject.
select tests.ingest('evt_cus_updated', 'customer.updated', 1700000200,
  (select customer || '{"email":"new@example.com","metadata":{"payments_subject_type":"user","payments_subject_id":"u-1"}}' from fx));
select tests.ingest('evt_cus_created', 'customer.created', 1700000100, (select customer || '{"email":"old@example.com"}' from fx));
select is((select email from payments.customers), 'new@example.com', 'An older customer.created does not undo a newer update.');
select is((select provider_customer_id from payments.customer_mappings where subject_id = 'u-1'), 'cus_other',
  'A customer carrying a subject in its metadata is mapped to it.');
select tests.ingest('evt_cus_deleted', 'customer.deleted', 1700000300, (select customer || '{"deleted":true,"email":"new@example.com"}' from fx));
select is((select deleted from payments.customers), true, 'customer.deleted marks the customer deleted.');
select is_empty($$select 1 from payments.customer_mappings where provider_customer_id = 'cus_other'$$, 'A deleted customer no longer bills its subject.');
select tests.ingest('evt_cus_late', 'customer.updated', 1700000250,
  (select customer || '{"email":"late@example.com","metadata":{"payments_subject_type":"user","payments_subject_id":"u-1"}}' from fx));
select results_eq($$select deleted, email from payments.customers$$, $$values (true, 'new@example.com')$$,
  'A deleted customer is never revived by an older event.');
select is_empty($$select 1 from payments.customer_mappings where provider_customer_id = 'cus_other'$$, 'An older event does not map a deleted customer again.');

select * from finish();
rollback;
