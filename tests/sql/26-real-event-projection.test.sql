-- Projection of events as real Stripe accounts send them: invoice payments under API 2025+
-- (invoice_payment.paid, no invoice.payments, no charge.refunds), a refund before its payment,
-- the earliest paid_at, one-off PaymentIntents without metadata, and pre-2022-11-15 charges.
begin;
select plan(12);

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as f;
grant select on fx to service_role;

\set bob '22222222-2222-2222-2222-222222222222'
insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
values ('test', 'user', :'bob', 'cus_bob');

create function pg_temp.intent(p_id text, p_customer text, p_charge text, p_amount bigint, p_metadata jsonb default '{}')
returns jsonb language sql as $$
  select (select f -> 'payment_intent' from fx) || jsonb_build_object('id', p_id, 'status', 'succeeded',
    'amount', p_amount, 'amount_received', p_amount, 'customer', p_customer, 'latest_charge', p_charge, 'metadata', p_metadata)
$$;
create function pg_temp.invoice(p_id text, p_subscription text, p_amount bigint)
returns jsonb language sql as $$
  select (select f -> 'invoice' from fx) - 'payments' || jsonb_build_object('id', p_id, 'status', 'paid', 'customer', 'cus_bob',
    'amount_paid', p_amount, 'currency', 'usd', 'status_transitions', jsonb_build_object('paid_at', 1700000100),
    'parent', jsonb_build_object('type', 'subscription_details',
      'subscription_details', jsonb_build_object('subscription', p_subscription, 'metadata', null)))
$$;
create function pg_temp.invoice_payment(p_invoice text, p_intent text)
returns jsonb language sql as $$
  select (select f -> 'invoice_payment' from fx) || jsonb_build_object('id', 'inpay_' || p_intent, 'invoice', p_invoice,
    'status', 'paid', 'amount_paid', 2000, 'currency', 'usd', 'livemode', false,
    'payment', jsonb_build_object('type', 'payment_intent', 'payment_intent', p_intent),
    'status_transitions', jsonb_build_object('paid_at', 1700000050, 'canceled_at', null))
$$;

-- as the service role, delivering events
select tests.authenticate_as_service_role();
insert into payments.stripe_subscriptions (environment, subscription_id, customer_id, subject_type, subject_id, status, stripe_updated_at)
values ('test', 'sub_bob', 'cus_bob', 'user', :'bob', 'active', now());

-- 13: Stripe's order for a subscription payment: PaymentIntent, invoice_payment.paid, invoice.paid.
select tests.ingest('evt_pi_sub', 'payment_intent.succeeded', 1700000010, pg_temp.intent('pi_sub', 'cus_bob', 'ch_sub', 2000));
select tests.ingest('evt_inpay_sub', 'invoice_payment.paid', 1700000020, pg_temp.invoice_payment('in_sub', 'pi_sub'));
select tests.ingest('evt_in_sub', 'invoice.paid', 1700000030, pg_temp.invoice('in_sub', 'sub_bob', 2000));
select results_eq($$select type, payment_intent_id, charge_id, subject_id, status from payments.transactions where invoice_id = 'in_sub'$$,
  $$values ('subscription_invoice', 'pi_sub', 'ch_sub', '22222222-2222-2222-2222-222222222222', 'succeeded')$$,
  'invoice_payment.paid gives a subscription invoice''s transaction its PaymentIntent and charge.');
select is_empty($$select 1 from payments.transactions where type = 'one_time_payment' and provider_object_id = 'pi_sub'$$,
  'The invoice''s PaymentIntent is not also counted as a one-time payment.');
select tests.ingest('evt_refunded_sub', 'charge.refunded', 1700000040, (select f -> 'charge' from fx) - 'refunds'
  || jsonb_build_object('id', 'ch_sub', 'payment_intent', 'pi_sub', 'amount', 2000, 'amount_refunded', 2000, 'customer', 'cus_bob'));
select results_eq($$select status, amount_refunded from payments.transactions where invoice_id = 'in_sub'$$,
  $$values ('refunded', 2000::bigint)$$, 'A full refund of a subscription invoice turns its transaction refunded.');

-- 13, the other order: invoice.paid first, then invoice_payment.paid, then the refund itself.
select tests.ingest('evt_in_2', 'invoice.paid', 1700000130, pg_temp.invoice('in_2', 'sub_bob', 2000));
select tests.ingest('evt_inpay_2', 'invoice_payment.paid', 1700000140,
  pg_temp.invoice_payment('in_2', 'pi_2') || '{"payment": {"type": "charge", "charge": "ch_2", "payment_intent": "pi_2"}}');
select tests.ingest('evt_re_2', 'refund.created', 1700000150, (select f -> 'refund' from fx)
  || jsonb_build_object('id', 're_2', 'payment_intent', 'pi_2', 'charge', 'ch_2', 'amount', 2000, 'status', 'succeeded'));
select results_eq($$select payment_intent_id, charge_id, status from payments.transactions where invoice_id = 'in_2' and type = 'subscription_invoice'$$,
  $$values ('pi_2', 'ch_2', 'refunded')$$, 'An invoice paid before its invoice_payment.paid is linked and refunded too.');

-- 14: a refund before its payment
select tests.ingest('evt_re_early', 'refund.created', 1700000200, (select f -> 'refund' from fx)
  || jsonb_build_object('id', 're_early', 'payment_intent', 'pi_early', 'charge', 'ch_early', 'amount', 300, 'status', 'succeeded'));
select results_eq($$select customer_id, subject_id from payments.transactions where refund_id = 're_early'$$,
  $$values (null::text, null::text)$$, 'A refund seen before its payment knows neither customer nor subject yet.');
select tests.ingest('evt_pi_early', 'payment_intent.succeeded', 1700000210,
  pg_temp.intent('pi_early', 'cus_bob', 'ch_early', 1000, jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', :'bob')));
select results_eq($$select customer_id, subject_type::text, subject_id from payments.transactions where refund_id = 're_early'$$,
  $$values ('cus_bob', 'user', '22222222-2222-2222-2222-222222222222')$$,
  'When the payment arrives, the refund takes its customer and subject.');
select is((select status from payments.transactions where provider_object_id = 'pi_early'), 'partially_refunded',
  'The payment counts the refund that came first.');

-- 15: paid_at is the earliest payment time, whichever event comes first
select tests.ingest('evt_pi_late', 'payment_intent.succeeded', 1700000400,
  pg_temp.intent('pi_order', 'cus_bob', 'ch_order', 1000, jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', :'bob')));
select tests.ingest('evt_cs_early', 'checkout.session.completed', 1700000300, (select f -> 'checkout.session' from fx)
  || jsonb_build_object('id', 'cs_order', 'mode', 'payment', 'status', 'complete', 'payment_status', 'paid', 'payment_intent', 'pi_order',
    'customer', 'cus_bob', 'amount_total', 1000, 'currency', 'usd', 'client_reference_id', null,
    'metadata', jsonb_build_object('payments_subject_type', 'user', 'payments_subject_id', :'bob')));
select is((select paid_at from payments.transactions where provider_object_id = 'pi_order'), to_timestamp(1700000300),
  'paid_at is the earliest payment time, not the time of the first event to arrive.');

-- 16: a Payment Link or Dashboard payment: no invoice field, no subject metadata
select tests.ingest('evt_pi_link', 'payment_intent.succeeded', 1700000500, pg_temp.intent('pi_link', 'cus_walkin', 'ch_link', 4200));
select results_eq($$select type, status, amount, subject_id from payments.transactions where provider_object_id = 'pi_link'$$,
  $$values ('one_time_payment', 'succeeded', 4200::bigint, null::text)$$,
  'A one-off PaymentIntent without metadata is recorded, with a null subject.');
reset role;
select payments.link_customer('test', 'user', '33333333-3333-3333-3333-333333333333', 'cus_walkin');
select results_eq($$select subject_type::text, subject_id from payments.transactions where provider_object_id = 'pi_link'$$,
  $$values ('user', '33333333-3333-3333-3333-333333333333')$$, 'Once its customer is mapped, the payment takes the subject.');

-- 17: PaymentIntents from API versions before 2022-11-15 carry the charge in charges.data
select tests.authenticate_as_service_role();
select tests.ingest('evt_pi_old', 'payment_intent.succeeded', 1700000600,
  (pg_temp.intent('pi_old', 'cus_bob', null, 700) - 'latest_charge')
  || '{"invoice": null, "charges": {"object": "list", "data": [{"id": "ch_old", "object": "charge"}], "has_more": false}}',
  '2020-08-27');
select is((select charge_id from payments.transactions where provider_object_id = 'pi_old'), 'ch_old',
  'A PaymentIntent of an API version before 2022-11-15 gives its charge from charges.data.');
select tests.ingest('evt_ch_old', 'charge.refunded', 1700000610, (select f -> 'charge' from fx) - 'refunds' - 'payment_intent'
  || '{"id": "ch_old", "amount": 700, "amount_refunded": 700}'::jsonb);
select is((select status from payments.transactions where provider_object_id = 'pi_old'), 'refunded',
  'A refund of that charge reaches the payment.');
reset role;

select * from finish();
rollback;
