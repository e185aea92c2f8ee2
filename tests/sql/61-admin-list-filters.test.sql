-- Admin list filters with a fixed set of values refuse any other value by name, listing the
-- values the table's check constraint allows, instead of answering an empty page.
begin;
select plan(7);

select tests.authenticate_as_service_role();

select throws_ok(call, 'PT400', message, description)
from (values
  ($$select payments.list_webhook_events('test', p_status => 'bogus')$$,
   'status must be one of pending, processed, failed, ignored.',
   'An unknown webhook event status is refused, naming the allowed ones.'),
  ($$select payments.list_transactions('test', p_status => 'paid')$$,
   'status must be one of pending, succeeded, failed, refunded, partially_refunded.',
   'An unknown transaction status is refused, naming the allowed ones.'),
  ($$select payments.list_transactions('test', p_type => 'payment')$$,
   'type must be one of one_time_payment, subscription_invoice, refund, failed_payment.',
   'An unknown transaction type is refused, naming the allowed ones.'),
  ($$select payments.list_subscriptions('test', p_status => 'bogus')$$,
   'status must be one of incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid, paused.',
   'An unknown subscription status is refused, naming the allowed ones.')
) as refused (call, message, description);
select is(payments.list_subscriptions('test', p_status => 'past_due') -> 'data', '[]'::jsonb,
  'A known status with no rows is an empty page.');
select is(payments.list_webhook_events('test', p_status => 'failed', p_since => '2026-01-01') -> 'data', '[]'::jsonb,
  'Known values pass with the other filters.');
select is(array(select page -> 'data' from (values
    (payments.list_webhook_events('test', p_type => 'no.such.type', p_object_id => 'nothing')),
    (payments.list_transactions('test', p_subject_type => 'team', p_subject_id => 'x', p_customer_id => 'cus_none')),
    (payments.list_products('test', p_active => false))) as lists (page)),
  array['[]', '[]', '[]']::jsonb[],
  'Filters without a fixed set of values take any value: no match is an empty page.');

select * from finish();
rollback;
