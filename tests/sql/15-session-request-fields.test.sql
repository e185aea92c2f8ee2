-- Session requests name their unknown fields, and the Billing Portal configuration is the
-- deployment's choice (payments.portal_configurations), never a user's.
begin;
select plan(12);

\set alice '11111111-1111-1111-1111-111111111111'

insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
values ('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice');
select tests.authenticate_as(:'alice');

-- unknown fields
select throws_ok(call, 'PT400', message, description)
from (values
  ($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_a"}],"successUrl":"https://app.test/ok","successURL":"https://app.test/typo","cancelUrl":"https://app.test/no"}')$$,
   'successURL is not a field of this request; use mode, subject, lineItems, successUrl, cancelUrl, customerEmail, metadata, idempotencyKey.',
   'A misspelled checkout field is refused by its name.'),
  ($$select payments.validate_session_request('checkout', 'test', '{"mode":"payment","lineItems":[{"priceId":"price_a"},{"price_data":{"unit_amount":1}}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
   '2 fields are invalid; first lineItems[1].price_data is not a field of this request; use priceId, quantity.',
   'An unknown line item field (price_data) is refused with its index, before the fields it left out.'),
  ($$select payments.validate_session_request('portal', 'test', '{"subject":{"type":"user","id":"x","name":"Alice"}}')$$,
   'subject.name is not a field of this request; use type, id.',
   'An unknown subject field is refused by its path.'),
  ($$select payments.validate_session_request('portal', 'test', '{"return_url":"https://app.test/billing"}')$$,
   'return_url is not a field of this request; use subject, returnUrl, configurationId.',
   'An unknown portal field is refused by its name.'),
  ($$select payments.validate_session_request('checkout', 'test', '[{"mode":"payment"}]')$$,
   'request must be a JSON object.', 'A checkout request that is not an object is refused as a whole.'),
  ($$select payments.validate_session_request('portal', 'test', null)$$,
   'request must be a JSON object.', 'A missing portal request is refused as a whole.'),
  ($$select payments.validate_session_request('refund', 'test', '{}')$$,
   'session must be checkout or portal.', 'Only checkout and portal requests are known.')
) as refused (call, message, description);
select lives_ok($$select payments.validate_session_request('checkout', 'test', '{"mode":"payment","subject":{"type":"user","id":"x"},"lineItems":[{"priceId":"price_a","quantity":2}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","customerEmail":"a@b.test","metadata":{"order_id":"1"},"idempotencyKey":"k"}')$$,
  'A checkout request with every known field passes.');

-- portal configurations
select throws_ok($$select payments.create_customer_portal_session('test', '{"configurationId":"bpc_anything"}')$$,
  'PT400', 'configurationId is not accepted from users on this deployment (PAYMENTS_PORTAL_CONFIGURATIONS is not set).',
  'Without an allow-list, a user cannot pick a Billing Portal configuration.');
select set_config('payments.portal_configurations', 'bpc_basic,bpc_pro', true);
select throws_ok($$select payments.create_customer_portal_session('test', '{"configurationId":"bpc_admin"}')$$,
  'PT400', 'configurationId must be one of the allowed configurations (bpc_basic, bpc_pro).',
  'A configuration outside the allow-list is refused, naming the allowed ones.');
select is((payments.create_customer_portal_session('test', '{"configurationId":"bpc_pro"}')).configuration_id, 'bpc_pro',
  'A configuration on the allow-list is accepted.');
select is((payments.create_customer_portal_session('test', '{}')).configuration_id, null,
  'Without configurationId the portal uses Stripe''s default configuration.');

select * from finish();
rollback;
