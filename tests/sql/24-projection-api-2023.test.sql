-- Projection of events built from API 2023-08-16 objects (period dates on the subscription,
-- invoice.subscription, invoice.payment_intent, payment_intent.invoice).
begin;
select plan(16);


select tests.fixture('api-2023-08-16') as old \gset
create temporary table fx as select :'old'::jsonb as f;
grant select on fx to service_role;

-- The subject's customer is known before its payments arrive.
select payments.link_customer('test', 'team', 'team-7', 'cus_Oaxlz8kB0PJWGa');

set local role service_role;
select is(tests.ingest('evt_prod', 'product.created', 1700000000, (select f -> 'product' from fx), '2023-08-16'), 'processed',
  'product.created (2023 shape) is processed.');
select is(tests.ingest('evt_price', 'price.created', 1700000000, (select f -> 'price' from fx), '2023-08-16'), 'processed',
  'price.created (2023 shape) is processed.');
select results_eq($$select p.name, r.product_id, r.type, r.recurring_interval, r.recurring_interval_count
    from payments.stripe_products p join payments.stripe_prices r using (environment, product_id)$$,
  $$values ('T-shirt', 'prod_Oaxlh23kWPWslc', 'recurring', 'month', 1)$$, 'The catalog is mirrored.');

select is(tests.ingest('evt_sub', 'customer.subscription.created', 1700000100, (select f -> 'subscription' from fx), '2023-08-16'), 'processed',
  'customer.subscription.created (2023 shape) is processed.');
select results_eq($$select subject_type::text, subject_id, status, current_period_start, current_period_end from payments.stripe_subscriptions$$,
  $$values ('team', 'team-7', 'active', to_timestamp(1234567890), to_timestamp(1234567890))$$,
  'The subscription takes its subject from the customer mapping and its period from the subscription.');
select results_eq($$select subscription_item_id, price_id, product_id from payments.stripe_subscription_items$$,
  $$values ('si_OayUGOTQ3S6pqQ', 'price_1NnlpZGPxmnHQRkJuWjM7eRV', 'prod_Oaxlh23kWPWslc')$$, 'Its item is mirrored.');

select is(tests.ingest('evt_in', 'invoice.paid', 1700000200, (select f -> 'invoice' || '{"subscription":"sub_1NnmX4GPxmnHQRkJrhGrFloA","payment_intent":"pi_old_invoice","charge":"ch_old_invoice","status":"paid","paid":true,"amount_paid":1000}' from fx), '2023-08-16'),
  'processed', 'invoice.paid (2023 shape) is processed.');
select results_eq($$select type, provider_object_id, subscription_id, payment_intent_id, charge_id, subject_id, amount
    from payments.transactions where invoice_id = 'in_1NnmX4GPxmnHQRkJyyhHiHYa'$$,
  $$values ('subscription_invoice', 'in_1NnmX4GPxmnHQRkJyyhHiHYa', 'sub_1NnmX4GPxmnHQRkJrhGrFloA', 'pi_old_invoice', 'ch_old_invoice', 'team-7', 1000::bigint)$$,
  'The invoice is a subscription invoice with its payment intent and charge.');
select is(tests.ingest('evt_pi_invoice', 'payment_intent.succeeded', 1700000200,
  (select f -> 'payment_intent' || '{"id":"pi_old_invoice","invoice":"in_1NnmX4GPxmnHQRkJyyhHiHYa","status":"succeeded","customer":"cus_Oaxlz8kB0PJWGa"}' from fx), '2023-08-16'),
  'processed', 'payment_intent.succeeded of an invoice is processed.');
select is((select count(*)::int from payments.transactions), 1, 'A payment intent naming its invoice adds no one-time payment.');

select is(tests.ingest('evt_pi', 'payment_intent.succeeded', 1700000300,
  (select f -> 'payment_intent' || '{"status":"succeeded","amount_received":1099,"customer":"cus_Oaxlz8kB0PJWGa","latest_charge":"ch_1NnlpSGPxmnHQRkJcYsK19E8"}' from fx), '2023-08-16'),
  'processed', 'payment_intent.succeeded without an invoice (2023 shape) is processed.');
select results_eq($$select type, status, subject_id, amount, charge_id from payments.transactions where provider_object_id = 'pi_1NnlpVGPxmnHQRkJNuz3w9tH'$$,
  $$values ('one_time_payment', 'succeeded', 'team-7', 1099::bigint, 'ch_1NnlpSGPxmnHQRkJcYsK19E8')$$,
  'It is a one-time payment of the customer''s subject.');
select is(tests.ingest('evt_cs', 'checkout.session.completed', 1700000310,
  (select f -> 'checkout.session' || '{"status":"complete","payment_status":"paid","amount_total":1099,"currency":"usd","customer":"cus_Oaxlz8kB0PJWGa"}' from fx), '2023-08-16'),
  'processed', 'checkout.session.completed (2023 shape) is processed.');
select is((select checkout_session_id from payments.transactions where provider_object_id = 'pi_1NnlpVGPxmnHQRkJNuz3w9tH'),
  'cs_test_a1GY7ro6JZfWvbmbDNpILk2Ztxg0pLRG2MPfzr3tSCMjolnYeNDhZx4HVz', 'The checkout completes the same transaction row.');

select is(tests.ingest('evt_re', 'refund.created', 1700000400, (select f -> 'refund' from fx), '2023-08-16'), 'processed',
  'refund.created (2023 shape) is processed.');
select results_eq($$select status, amount_refunded from payments.transactions where provider_object_id = 'pi_1NnlpVGPxmnHQRkJNuz3w9tH'$$,
  $$values ('partially_refunded', 100::bigint)$$, 'The refund is found through its charge and counted on the payment.');
reset role;

select * from finish();
rollback;
