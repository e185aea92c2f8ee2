-- The admin lists: newest first, keyset pages that yield every row once (ties in time included),
-- filters, cursors that cannot be forged into errors, totals, and who may call them.
begin;
select plan(24);

-- 250 events over 5 types and 3 statuses; every 50 share one received_at, so only the id breaks ties.
insert into payments.webhook_events (environment, provider_event_id, event_type, livemode, object_type, object_id,
  event_created_at, processing_status, attempt_count, last_error, payload, received_at)
select 'test', format('evt_%s', lpad(i::text, 4, '0')), (array['product.created', 'price.created', 'customer.created',
         'invoice.paid', 'charge.refunded'])[1 + i % 5], false, 'product', format('prod_%s', i % 7),
       timestamptz '2026-11-01 00:00:00+00' + (i / 50) * interval '1 hour',
       (array['processed', 'failed', 'ignored'])[1 + i % 3], 1, case when i % 3 = 1 then 'boom' end,
       jsonb_build_object('id', format('evt_%s', lpad(i::text, 4, '0'))),
       timestamptz '2026-11-01 00:00:00+00' + (i / 50) * interval '1 hour'
from generate_series(1, 250) as i;
insert into payments.webhook_events (environment, provider_event_id, event_type, livemode, event_created_at, payload)
values ('live', 'evt_live', 'product.created', true, now(), '{}');

insert into payments.transactions (environment, type, status, provider_object_id, amount, amount_refunded, currency,
  customer_id, stripe_created_at, stripe_updated_at)
select 'test', case when i % 4 = 0 then 'subscription_invoice' else 'one_time_payment' end,
       case when i % 5 = 0 then 'failed' else 'succeeded' end, format('pi_%s', i), 100 * i, case when i = 2 then 50 else 0 end,
       case when i % 2 = 0 then 'usd' else 'eur' end, format('cus_%s', i % 3),
       case when i <= 10 then now() - i * interval '1 day' end, now()
from generate_series(1, 30) as i;

create temporary table pages (kind text, n integer, page jsonb);
grant select, insert on pages to service_role;

create function pg_temp.walk(p_kind text, p_limit integer, p_status text default null)
returns integer
language plpgsql
as $$
declare
  v_page jsonb;
  v_cursor text;
  v_n integer := 0;
begin
  loop
    v_page := case p_kind
      when 'events' then payments.list_webhook_events('test', p_limit, v_cursor, p_status)
      when 'transactions' then payments.list_transactions('test', p_limit, v_cursor)
    end;
    v_n := v_n + 1;
    insert into pages values (p_kind || coalesce(':' || p_status, ''), v_n, v_page);
    v_cursor := v_page ->> 'nextCursor';
    exit when v_cursor is null;
  end loop;
  return v_n;
end;
$$;

-- as the service role (the edge function's admin routes)
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select is(pg_temp.walk('events', 7), 36, 'Paging 250 events by 7 takes 36 pages.');
select is((select count(*) from pages, jsonb_array_elements(page -> 'data') where kind = 'events'), 250::bigint,
  'The pages hold 250 events in all.');
select is((select count(distinct value ->> 'eventId') from pages, jsonb_array_elements(page -> 'data') where kind = 'events'),
  250::bigint, 'Every event appears exactly once, although 50 share each received_at.');
select ok((select bool_and(ordered) from (
  select (value ->> 'receivedAt')::timestamptz <= lag((value ->> 'receivedAt')::timestamptz)
           over (order by n, ordinality) or lag(value) over (order by n, ordinality) is null as ordered
  from pages, jsonb_array_elements(page -> 'data') with ordinality where kind = 'events') o),
  'Events come newest first across pages.');
select is((select jsonb_array_length(page -> 'data') from pages where kind = 'events' and n = 36), 5,
  'The last page holds the remainder.');
select ok((select page -> 'nextCursor' = 'null'::jsonb from pages where kind = 'events' and n = 36),
  'The last page has a null nextCursor.');
select is(jsonb_array_length(payments.list_webhook_events('test') -> 'data'), 25, 'A page holds 25 rows by default.');
select is(payments.list_webhook_events('test', 1) -> 'data' -> 0 ->> 'eventId', 'evt_0250',
  'The newest event comes first.');

select is(pg_temp.walk('events', 100, 'failed'), 1, 'The 84 failed events fit one page of 100.');
select ok((select bool_and(value ->> 'status' = 'failed' and value ->> 'lastError' = 'boom')
           from pages, jsonb_array_elements(page -> 'data') where kind = 'events:failed')
          and (select jsonb_array_length(page -> 'data') from pages where kind = 'events:failed') = 84,
  'The status filter returns only failed events, with their error.');
select is((select count(*) from jsonb_array_elements(payments.list_webhook_events('test', 100, null, null, 'invoice.paid', 'prod_3') -> 'data')),
  (select count(*) from payments.webhook_events where environment = 'test' and event_type = 'invoice.paid' and object_id = 'prod_3'),
  'Type and object filters combine.');
select is(jsonb_array_length(payments.list_webhook_events('test', 100, null, null, null, null, timestamptz '2026-11-01 05:00:00+00') -> 'data'), 1,
  'since keeps the events received at or after it.');
select is(payments.list_webhook_events('live') -> 'data' -> 0 ->> 'eventId', 'evt_live', 'Environments do not mix.');
select ok(not (payments.list_webhook_events('test', 1) -> 'data' -> 0 ? 'payload'), 'Lists leave out the payload.');

select is(payments.get_webhook_event('test', 'evt_0007') -> 'payload', '{"id":"evt_0007"}'::jsonb,
  'One event comes with its payload.');
select throws_ok($$select payments.get_webhook_event('test', 'evt_nope')$$, 'PT404',
  'Webhook event evt_nope not found in test.', 'An unknown event is a PT404.');
select throws_ok($$select payments.list_webhook_events('test', 101)$$, 'PT400',
  'limit must be from 1 to 100 (got 101).', 'More than 100 rows per page is refused.');
select throws_ok($$select payments.list_webhook_events('test', 10, 'bm90IGEgY3Vyc29y')$$, 'PT400',
  'cursor is not the nextCursor of a previous page.', 'A cursor that is not one is refused.');
select throws_ok($$select payments.list_customers('sandbox')$$, 'PT400', 'environment must be test or live.',
  'An unknown environment is refused.');

select is(pg_temp.walk('transactions', 4), 8, 'Paging 30 transactions by 4 takes 8 pages.');
select is((select count(distinct value ->> 'id') from pages, jsonb_array_elements(page -> 'data') where kind = 'transactions'),
  30::bigint, 'Every transaction appears once, dated ones and undated ones alike.');
select is(payments.list_transactions('test', 5, null, null, 'succeeded') -> 'totals',
  '[{"count": 12, "amount": 18000, "currency": "eur", "amountRefunded": 0},
    {"count": 12, "amount": 18000, "currency": "usd", "amountRefunded": 50}]'::jsonb,
  'The first page carries totals per currency of the whole filtered set.');
select ok(not ((select page from pages where kind = 'transactions' and n = 2) ? 'totals'),
  'Later pages carry no totals.');

-- as an authenticated user
reset role;
set local role authenticated;
select throws_ok($$select payments.list_webhook_events('test')$$, '42501', null,
  'Users cannot call the admin lists.');

select * from finish();
rollback;
