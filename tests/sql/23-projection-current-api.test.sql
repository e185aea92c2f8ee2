-- Projection of events built from current Stripe objects (API 2025+: period dates on
-- subscription items, invoice.parent.subscription_details, invoice.payments): checkout,
-- one-time payments seen by three events, refunds, subscriptions and their invoices.
begin;
select plan(30);

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as f;

-- as alice: a one-time checkout
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select (payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_1PgafmB7WZ01zgkW6dKueIc5"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')).id as checkout_id \gset
select (payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_1PgafmB7WZ01zgkW6dKueIc5"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')).id as expiring_id \gset
select (payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_1PgafmB7WZ01zgkW6dKueIc5"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')).id as async_id \gset
reset role;

create temporary table objects as
select
  f -> 'checkout.session' || jsonb_build_object('status', 'complete', 'payment_status', 'paid', 'amount_total', 1099,
    'currency', 'usd', 'customer', 'cus_alice', 'client_reference_id', :'checkout_id'::text,
    'metadata', jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', '11111111-1111-1111-1111-111111111111')) as session,
  f -> 'payment_intent' || jsonb_build_object('status', 'succeeded', 'amount_received', 1099, 'customer', 'cus_alice',
    'latest_charge', 'ch_1PgafuB7WZ01zgkWXYmPNZs8',
    'metadata', jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', '11111111-1111-1111-1111-111111111111')) as intent,
  f -> 'charge' || jsonb_build_object('payment_intent', 'pi_1PgafyB7WZ01zgkWSjxsAJo3', 'amount', 1099, 'customer', 'cus_alice') as charge,
  f -> 'refund' as refund,
  f -> 'subscription' || jsonb_build_object('customer', 'cus_bob', 'status', 'active', 'latest_invoice', 'in_1Pgc6tB7WZ01zgkWu9fdqL6I',
    'metadata', jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', '22222222-2222-2222-2222-222222222222')) as subscription,
  jsonb_set(f -> 'invoice' || jsonb_build_object('status', 'paid', 'amount_paid', 2000, 'customer', 'cus_bob',
    'customer_email', 'bob@example.com',
    'status_transitions', jsonb_build_object('paid_at', 1700000500),
    'payments', jsonb_build_object('object', 'list', 'has_more', false, 'data', jsonb_build_array(jsonb_build_object(
      'object', 'invoice_payment', 'status', 'paid', 'is_default', true,
      'payment', jsonb_build_object('type', 'payment_intent', 'payment_intent', 'pi_invoice'))))),
    '{parent,subscription_details,subscription}', '"sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"') as invoice
from fx;
grant select on objects, fx to service_role;

-- as the service role: the webhook route
set local role service_role;

-- One-time payment: checkout.session.completed, payment_intent.succeeded, charge.succeeded
select is(tests.ingest('evt_cs', 'checkout.session.completed', 1700000100, (select session from objects)), 'processed',
  'checkout.session.completed (current shape) is processed.');
select is(tests.ingest('evt_pi', 'payment_intent.succeeded', 1700000090, (select intent from objects)), 'processed',
  'payment_intent.succeeded is processed.');
select is(tests.ingest('evt_ch', 'charge.succeeded', 1700000095, (select charge from objects)), 'ignored',
  'charge.succeeded is not projected.');
select results_eq($$select type, status, provider_object_id, subject_id, customer_id, checkout_session_id, charge_id, amount, currency
    from payments.transactions$$,
  $$values ('one_time_payment', 'succeeded', 'pi_1PgafyB7WZ01zgkWSjxsAJo3', '11111111-1111-1111-1111-111111111111', 'cus_alice',
            'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY', 'ch_1PgafuB7WZ01zgkWXYmPNZs8', 1099::bigint, 'usd')$$,
  'The three events of one payment give exactly one transaction, merged from all of them.');
select results_eq(format($$select status, payment_status, payment_intent_id, customer_id, amount_total, completed_at from payments.stripe_checkout_sessions where id = %L$$, :'checkout_id'),
  $$values ('completed', 'paid', 'pi_1PgafyB7WZ01zgkWSjxsAJo3', 'cus_alice', 1099::bigint, to_timestamp(1700000100))$$,
  'The checkout row is completed.');
select is(payments.customer_for_subject('test', 'user', '11111111-1111-1111-1111-111111111111'), 'cus_alice',
  'Completing the checkout maps the customer to the subject.');

-- Refunds: a partial refund, then the charge fully refunded, then a failed refund.
select is(tests.ingest('evt_re', 'refund.created', 1700000200, (select refund from objects)), 'processed',
  'refund.created is processed.');
select results_eq($$select status, amount, charge_id, payment_intent_id, subject_id from payments.transactions where type = 'refund'$$,
  $$values ('succeeded', 100::bigint, 'ch_1PgafuB7WZ01zgkWXYmPNZs8', 'pi_1PgafyB7WZ01zgkWSjxsAJo3', '11111111-1111-1111-1111-111111111111')$$,
  'The refund row is linked to the payment and its subject.');
select results_eq($$select status, amount_refunded from payments.transactions where type = 'one_time_payment'$$,
  $$values ('partially_refunded', 100::bigint)$$, 'A partial refund marks the payment partially refunded.');
select is(tests.ingest('evt_re_again', 'refund.updated', 1700000250, (select refund from objects)), 'processed',
  'refund.updated of the same refund is processed.');
select is((select amount_refunded from payments.transactions where type = 'one_time_payment'), 100::bigint,
  'The same refund seen twice is counted once.');
select is(tests.ingest('evt_ch_refunded', 'charge.refunded', 1700000300,
  (select charge || '{"amount_refunded":1099,"refunded":true}' from objects)), 'processed', 'charge.refunded is processed.');
select results_eq($$select status, amount_refunded, refunded_at from payments.transactions where type = 'one_time_payment'$$,
  $$values ('refunded', 1099::bigint, to_timestamp(1700000300))$$, 'A fully refunded charge marks the payment refunded.');
select is(tests.ingest('evt_re_failed', 'refund.failed', 1700000400, (select refund || '{"id":"re_failed","status":"failed"}' from objects)), 'processed',
  'refund.failed is processed.');
select is((select status from payments.transactions where provider_object_id = 're_failed'), 'failed', 'A failed refund is recorded as failed.');

-- Subscription from the current shape: the period lives on the item.
select is(tests.ingest('evt_sub', 'customer.subscription.created', 1700000400, (select subscription from objects)), 'processed',
  'customer.subscription.created (current shape) is processed.');
select results_eq($$select subject_id, status, current_period_start, current_period_end, cancel_at_period_end, latest_invoice_id from payments.stripe_subscriptions$$,
  $$values ('22222222-2222-2222-2222-222222222222', 'active', to_timestamp(1896570518), to_timestamp(976287773), true, 'in_1Pgc6tB7WZ01zgkWu9fdqL6I')$$,
  'The subscription takes its subject from metadata and its period from its items.');
select results_eq($$select subscription_item_id, price_id, product_id, quantity, current_period_end from payments.stripe_subscription_items$$,
  $$values ('si_QXhVnC2h0Jczwc', 'price_1PgafmB7WZ01zgkW6dKueIc5', 'prod_QXg1hqf4jFNsqG', 1, to_timestamp(976287773))$$,
  'Items are mirrored with price, product and period.');

-- Its invoice, named through invoice.parent.subscription_details and invoice.payments.
select is(tests.ingest('evt_in', 'invoice.paid', 1700000500, (select invoice from objects)), 'processed',
  'invoice.paid (current shape) is processed.');
select results_eq($$select type, status, provider_object_id, subscription_id, payment_intent_id, subject_id, amount, paid_at
    from payments.transactions where type = 'subscription_invoice'$$,
  $$values ('subscription_invoice', 'succeeded', 'in_1Pgc6tB7WZ01zgkWu9fdqL6I', 'sub_1Pgc6rB7WZ01zgkWNy0Cn5nw', 'pi_invoice',
            '22222222-2222-2222-2222-222222222222', 2000::bigint, to_timestamp(1700000500))$$,
  'A paid invoice is a subscription invoice of the subscription''s subject.');
select is(tests.ingest('evt_pi_invoice', 'payment_intent.succeeded', 1700000500,
  (select f -> 'payment_intent' || '{"id":"pi_invoice","status":"succeeded","amount_received":2000,"customer":"cus_bob"}' from fx)), 'processed',
  'The invoice''s payment_intent.succeeded is processed.');
select is_empty($$select 1 from payments.transactions where type = 'one_time_payment' and provider_object_id = 'pi_invoice'$$,
  'An invoice''s payment intent is not counted again as a one-time payment.');
select is(tests.ingest('evt_in_failed', 'invoice.payment_failed', 1700000600,
  (select invoice || '{"id":"in_failed","status":"open","amount_due":2000}' from objects)), 'processed', 'invoice.payment_failed is processed.');
select results_eq($$select type, status, subscription_id, subject_id, amount from payments.transactions where provider_object_id = 'in_failed'$$,
  $$values ('failed_payment', 'failed', 'sub_1Pgc6rB7WZ01zgkWNy0Cn5nw', '22222222-2222-2222-2222-222222222222', 2000::bigint)$$,
  'A failed invoice payment is recorded for the subject.');

-- Expiry, and an event about an earlier attempt of the same row.
update payments.stripe_checkout_sessions set checkout_session_id = 'cs_expiring', status = 'open' where id = :'expiring_id';
select is(tests.ingest('evt_expired', 'checkout.session.expired', 1700000700,
  (select session || '{"id":"cs_expiring","status":"expired","payment_status":"unpaid","client_reference_id":null}' from objects)), 'processed',
  'checkout.session.expired is processed.');
select is((select status from payments.stripe_checkout_sessions where id = :'expiring_id'), 'expired', 'The checkout row is expired.');
select tests.ingest('evt_old_attempt', 'checkout.session.completed', 1700000800,
  (select session || jsonb_build_object('id', 'cs_old_attempt', 'client_reference_id', :'expiring_id'::text, 'payment_intent', 'pi_old') from objects));
select is((select status from payments.stripe_checkout_sessions where id = :'expiring_id'), 'expired',
  'An event about another Stripe session of the same row does not change it.');

-- Delayed payment: completed unpaid, then async_payment_succeeded.
select tests.ingest('evt_async_completed', 'checkout.session.completed', 1700000900,
  (select session || jsonb_build_object('id', 'cs_async', 'client_reference_id', :'async_id'::text, 'payment_status', 'unpaid', 'payment_intent', 'pi_async') from objects));
select is_empty($$select 1 from payments.transactions where provider_object_id = 'pi_async'$$,
  'An unpaid completed checkout records no payment yet.');
select tests.ingest('evt_async_paid', 'checkout.session.async_payment_succeeded', 1700001000,
  (select session || jsonb_build_object('id', 'cs_async', 'client_reference_id', :'async_id'::text, 'payment_status', 'paid', 'payment_intent', 'pi_async') from objects));
select results_eq(format($$select c.status, c.payment_status, t.status from payments.stripe_checkout_sessions c
    join payments.transactions t on t.provider_object_id = c.payment_intent_id where c.id = %L$$, :'async_id'),
  $$values ('completed', 'paid', 'succeeded')$$, 'async_payment_succeeded marks the checkout paid and records the payment.');
select tests.ingest('evt_async_failed', 'checkout.session.async_payment_failed', 1700001100,
  (select session || jsonb_build_object('id', 'cs_async_failed', 'client_reference_id', null, 'payment_status', 'unpaid', 'payment_intent', 'pi_async_failed') from objects));
select results_eq($$select type, status, subject_id from payments.transactions where provider_object_id = 'pi_async_failed'$$,
  $$values ('failed_payment', 'failed', '11111111-1111-1111-1111-111111111111')$$,
  'async_payment_failed records a failed payment for the subject in the session''s metadata.');
reset role;

select * from finish();
rollback;
