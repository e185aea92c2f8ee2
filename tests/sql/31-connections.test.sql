-- Connection state: the edge function changes it only through these functions. Switching the
-- Stripe account is one transaction that never mixes two accounts' data.
begin;
select plan(16);

select tests.authenticate_as_service_role();

select is(payments.switch_stripe_account('test', 'sk_test_first_key_1234', 'acct_first', 'First', 'a@example.com'), false,
  'Connecting the first account is not a change of account.');
select results_eq($$select status, stripe_account_id, secret_key_last4, livemode from payments.provider_connections$$,
  $$values ('connected', 'acct_first', '1234', false)$$, 'The connection records the account and the key''s last four characters.');
reset role;
select is(payments_private.get_provider_secret('test', 'secret_key'), 'sk_test_first_key_1234', 'The key goes to the secret store.');

select tests.authenticate_as_service_role();
select payments.record_webhook_endpoint('test', 'we_first', 'https://x.test/hook', 'whsec_first');
select results_eq($$select webhook_endpoint_id, webhook_endpoint_url from payments.provider_connections$$,
  $$values ('we_first', 'https://x.test/hook')$$, 'The managed webhook endpoint is recorded.');
select payments.record_webhook_endpoint('test', 'we_first', 'https://x.test/hook');
reset role;
select is(payments_private.get_provider_secret('test', 'webhook_secret'), 'whsec_first',
  'Recording a kept endpoint without a secret keeps the stored signing secret.');

-- Data of the first account.
select tests.ingest('evt_c1', 'product.created', 1700000000, tests.fixture('current') -> 'product');
insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
values ('test', 'user', 'u-1', 'cus_first');

select tests.authenticate_as_service_role();
select is(payments.switch_stripe_account('test', 'sk_test_first_key_5678', 'acct_first'), false,
  'A new key of the same account is not a change of account.');
select is((select count(*)::int from payments.stripe_products where archived_at is null), 1,
  'The same account keeps its data.');
select is(payments.switch_stripe_account('test', 'sk_test_second_key_9999', 'acct_second', 'Second'), true,
  'Another account is a change of account.');
select is((select count(*)::int from payments.stripe_products where archived_at is null), 0,
  'The previous account''s catalog is archived.');
select is_empty('select 1 from payments.customer_mappings', 'The previous account''s customer mappings are removed.');
select results_eq($$select stripe_account_id, webhook_endpoint_id from payments.provider_connections$$,
  $$values ('acct_second', null::text)$$, 'The previous account''s webhook endpoint is forgotten.');
reset role;
select is(payments_private.get_provider_secret('test', 'webhook_secret'), null,
  'The previous account''s signing secret is removed.');

select tests.authenticate_as_service_role();
select payments.record_sync_status('test', 'succeeded', null, '{"product":3}');
select payments.record_sync_status('test', 'running');
select results_eq($$select last_sync_status, last_sync_counts, last_synced_at is not null from payments.provider_connections$$,
  $$values ('running', '{"product":3}'::jsonb, true)$$, 'A running sync keeps the counts and time of the last finished one.');
select results_eq($$select environment, has_key, status, products from payments.stripe_connection_status()$$,
  $$values ('live', false, null::text, 0), ('test', true, 'connected', 0)$$, 'The status answers for both environments.');

select is(payments.disconnect_stripe_account('test'), true, 'Disconnecting removes a stored key.');
select results_eq($$select status, secret_key_last4 from payments.provider_connections$$,
  $$values ('disconnected', null::text)$$, 'A disconnected environment keeps no key.');
reset role;

select * from finish();
rollback;
