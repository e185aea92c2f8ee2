-- Billing portal rows under RLS, and customer mappings kept by link_customer.
begin;
select plan(28);

-- as the service role: map customers
select tests.authenticate_as_service_role();
select is(payments.link_customer('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice'), 'cus_alice',
  'Linking a new subject records the mapping and returns its customer.');
select is(payments.link_customer('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_other'), 'cus_alice',
  'A subject that already has a customer keeps it: the mapping is never re-pointed.');
select throws_ok($$select payments.link_customer('test', 'user', '22222222-2222-2222-2222-222222222222', 'cus_alice')$$,
  'PT409', null, 'A customer that bills another subject cannot be linked again.');
select throws_ok($$select payments.link_customer('test', 'user', 'x', 'not-a-customer')$$, 'PT400', null,
  'Only Stripe customer ids can be linked.');
select throws_ok($$select payments.link_customer('staging', 'user', 'x', 'cus_x')$$, 'PT400', null,
  'Only the test and live environments exist.');
select is(payments.link_customer('live', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice_live'), 'cus_alice_live',
  'The live environment keeps its own mappings.');
select is(payments.customer_for_subject('test', 'user', '11111111-1111-1111-1111-111111111111'), 'cus_alice',
  'customer_for_subject finds the mapped customer.');
select is(payments.customer_for_subject('test', 'user', '22222222-2222-2222-2222-222222222222'), null,
  'customer_for_subject answers null for a subject without a customer.');
reset role;

create temporary table ids (name text primary key, id uuid);
grant select, insert on ids to authenticated, service_role;

-- as alice
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
insert into ids select 'alice', (payments.create_customer_portal_session('test', '{"returnUrl":"https://app.test/billing"}')).id;
select results_eq($$select subject_type::text, subject_id, customer_id, return_url, status from payments.stripe_customer_portal_sessions$$,
  $$values ('user', '11111111-1111-1111-1111-111111111111', 'cus_alice', 'https://app.test/billing', 'initialized')$$,
  'Alice opens a portal row for herself with her customer.');
select is((payments.create_customer_portal_session('live', null)).customer_id, 'cus_alice_live',
  'Without a request the portal is for the calling user, in the given environment.');
select throws_ok($$select payments.create_customer_portal_session('test', '{"subject":{"type":"user","id":"22222222-2222-2222-2222-222222222222"}}')$$,
  '42501', null, 'Alice cannot open Bob''s billing portal.');
select throws_ok($$select payments.create_customer_portal_session('test', '{"subject":{"type":"team","id":"team-1"}}')$$,
  '42501', null, 'Without app policies Alice cannot open a team''s billing portal (42501, not 404).');
select throws_ok($$select payments.create_customer_portal_session('test', '{"returnUrl":"ftp://x"}')$$,
  'PT400', 'returnUrl must be an http(s) URL of at most 2048 characters.', 'The return URL must be http(s).');
select throws_ok($$select payments.create_customer_portal_session('test', '{"configurationId":"x"}')$$,
  'PT400', null, 'The configuration id must be a bpc_ id.');
select throws_ok($$select payments.link_customer('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_x')$$,
  '42501', null, 'Users cannot link customers.');
select throws_ok($$select payments.customer_for_subject('test', 'user', '11111111-1111-1111-1111-111111111111')$$,
  '42501', null, 'Users cannot call customer_for_subject.');
select throws_ok(format($$select payments.record_customer_portal_session_result(%L, '{"id":"bps_1"}')$$, (select id from ids where name = 'alice')),
  '42501', null, 'Users cannot record portal results.');
reset role;

-- as bob, who has no customer yet
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select throws_ok($$select payments.create_customer_portal_session('test', '{}')$$, 'PT404', null,
  'A subject without a customer mapping is not found.');
reset role;
select is_empty($$select 1 from payments.stripe_customer_portal_sessions where created_by = '22222222-2222-2222-2222-222222222222'$$,
  'A portal request that was not found leaves no row behind.');

-- as anon
set local role anon;
select throws_ok($$select payments.create_customer_portal_session('test', '{}')$$, '42501', null,
  'Anon cannot execute create_customer_portal_session.');
reset role;

-- as the service role, after calling Stripe
set local role service_role;
select results_eq(format($$select status, portal_session_id, url from payments.record_customer_portal_session_result(%L, '{"id":"bps_1","url":"https://billing.stripe.test/bps_1","customer":"cus_alice"}')$$, (select id from ids where name = 'alice')),
  $$values ('created', 'bps_1', 'https://billing.stripe.test/bps_1')$$, 'Recording the portal session marks the row created with its url.');
select is((payments.record_customer_portal_session_failure((select id from ids where name = 'alice'), 'late')).status, 'created',
  'A late failure does not undo a created portal session.');
select throws_ok($$select payments.record_customer_portal_session_result('00000000-0000-0000-0000-000000000000', '{"id":"bps_x"}')$$,
  'PT404', 'Portal session 00000000-0000-0000-0000-000000000000 not found.', 'Recording a result for an unknown portal row is not found.');
select throws_ok($$select payments.record_customer_portal_session_failure('00000000-0000-0000-0000-000000000000', 'x')$$,
  'PT404', 'Portal session 00000000-0000-0000-0000-000000000000 not found.', 'Recording a failure for an unknown portal row is not found.');
select throws_ok(format($$select payments.record_customer_portal_session_result(%L, '{"id":7}')$$, (select id from ids where name = 'alice')),
  'PT400', 'session.id must be the id of a Stripe Billing Portal session.', 'A result without the Stripe session id is refused.');
reset role;

insert into payments.stripe_customer_portal_sessions (environment, created_by, subject_type, subject_id, customer_id)
values ('test', '11111111-1111-1111-1111-111111111111', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice')
returning id as failing_id \gset
set local role service_role;
select results_eq(format($$select status, last_error from payments.record_customer_portal_session_failure(%L, 'Stripe is down')$$, :'failing_id'),
  $$values ('failed', 'Stripe is down')$$, 'A Stripe failure marks the portal row failed with the error.');
reset role;

-- as alice again: she reads her rows, Bob reads none of hers
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select is_empty('select 1 from payments.stripe_customer_portal_sessions', 'Bob sees none of Alice''s portal rows.');
select is_empty('select 1 from payments.customer_mappings', 'Bob sees none of Alice''s customer mappings.');
reset role;

select * from finish();
rollback;
