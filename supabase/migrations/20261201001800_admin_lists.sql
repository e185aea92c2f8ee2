-- migrate:up

-- Admin lists for the dashboard and the CLI (service role only): newest first, keyset-paginated
-- on (sort time, id), so a page deep in a large table costs what the first page costs. Each list
-- answers one JSON page {data, nextCursor}; the cursor is opaque to callers. The indexes that
-- serve each order live with their tables (*_created_idx, webhook_events_*received_idx).
--
-- One private function, payments_private.admin_list_page, does what every list does (checks,
-- filters, cursor, page); each list function names its table, order, filters and row shape. The
-- statement is built with only the filters the caller gave (values quoted with %L, names with %I)
-- and planned for those values: a cached generic plan with "p_x is null or col = p_x" branches
-- could not pick the index that fits the filters.
--
-- The helpers are private; the list functions are security definer so that the service role
-- (their only caller: EXECUTE is granted to it alone) reaches them without using the schema.

--------------------------------------------------------------------------------
-- Cursors, pages and filters
--------------------------------------------------------------------------------

-- A cursor names the last row of a page: its sort time (to the microsecond, in UTC) and id.
create function payments_private.encode_list_cursor(p_at timestamptz, p_id uuid)
returns text
language sql stable set search_path = ''
as $$
  select translate(encode(convert_to(
    to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ' ' || p_id::text, 'UTF8'),
    'base64'), E'+/=\n', '-_')
$$;
comment on function payments_private.encode_list_cursor(timestamptz, uuid) is 'The opaque cursor (base64url of sort time and id) of the last row of an admin list page.';

create function payments_private.decode_list_cursor(p_cursor text, out at timestamptz, out id uuid)
language plpgsql stable set search_path = ''
as $$
declare
  v_text text;
begin
  if p_cursor is null then
    return;
  end if;
  begin
    v_text := convert_from(decode(rpad(translate(p_cursor, '-_', '+/'),
      ((length(p_cursor) + 3) / 4) * 4, '='), 'base64'), 'UTF8');
    at := split_part(v_text, ' ', 1)::timestamptz;
    id := split_part(v_text, ' ', 2)::uuid;
  exception when others then
    at := null;
  end;
  if at is null or id is null then
    raise exception using errcode = 'PT400', message = 'cursor is not the nextCursor of a previous page.',
      hint = 'Pass nextCursor from the previous answer unchanged, or omit cursor for the first page.';
  end if;
end;
$$;
comment on function payments_private.decode_list_cursor(text) is 'Sort time and id named by an admin list cursor; PT400 for anything that is not such a cursor.';

-- Filters on a column with a fixed set of values (status, transaction type) refuse any other
-- value with a 400 naming the filter and the allowed values, instead of answering an empty page.
-- The allowed values are read from the column's check constraint (column in ('a', 'b', ...)):
-- one list, the table's.
create function payments_private.column_check_values(p_table regclass, p_column name)
returns text[]
language sql stable set search_path = ''
as $$
  select array(
    select replace(m.v[1], '''''', '''')
    from pg_catalog.pg_constraint c
    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    cross join lateral regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), '''((?:[^'']|'''')*)''', 'g')
      with ordinality as m(v, n)
    where c.conrelid = p_table and c.contype = 'c' and cardinality(c.conkey) = 1 and a.attname = p_column
      and pg_catalog.pg_get_constraintdef(c.oid) ~ '= ANY \(ARRAY\['
    order by c.conname, m.n
  )
$$;
comment on function payments_private.column_check_values(regclass, name) is 'The values a column''s check constraint lists as the only ones allowed (its quoted literals, in order); empty for any other column.';

-- Every list function is one call of this. The page holds the rows of `p_table` (aliased
-- `p_alias`) in the environment that match `p_where` and the filters the caller gave, after the
-- cursor, newest `p_sort` first (ties by id), each shown as `p_item`. A filter is a row
-- [field, column, value], left out when the value is null; `p_since` keeps the rows sorted at or
-- after it. `p_totals`, a query over the filtered rows (%s stands for their where-clause), is
-- answered as `totals` with the first page only: it describes the whole filtered set. One row
-- past the limit tells whether a next page exists.
create function payments_private.admin_list_page(
  p_table regclass, p_alias text, p_sort text, p_item text,
  p_environment text, p_limit integer, p_cursor text,
  p_filters text[] default '{}', p_since timestamptz default null,
  p_where text default null, p_totals text default null)
returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_limit integer := coalesce(p_limit, 25);
  v_where text := format('%I.environment = %L', p_alias, p_environment);
  v_field text;
  v_column text;
  v_value text;
  v_allowed text[];
  v_after record;
  v_totals jsonb;
  v_page jsonb;
begin
  perform payments_private.require_environment(p_environment);
  if v_limit not between 1 and 100 then
    raise exception using errcode = 'PT400', message = format('limit must be from 1 to 100 (got %s).', p_limit),
      hint = 'Page through larger results with nextCursor.';
  end if;
  for i in 1 .. coalesce(array_length(p_filters, 1), 0) loop
    v_field := p_filters[i][1];
    v_column := p_filters[i][2];
    v_value := p_filters[i][3];
    continue when v_value is null;
    v_allowed := payments_private.column_check_values(p_table, v_column);
    if cardinality(v_allowed) > 0 and not (v_value = any (v_allowed)) then
      perform payments_private.invalid_request(v_field, format('must be one of %s.', array_to_string(v_allowed, ', ')));
    end if;
    v_where := v_where || format(' and %I.%I = %L', p_alias, v_column, v_value);
  end loop;
  if p_since is not null then
    v_where := v_where || format(' and %s >= %L::timestamptz', p_sort, p_since);
  end if;
  if p_where is not null then
    v_where := v_where || ' and ' || p_where;
  end if;
  if p_totals is not null and p_cursor is null then
    execute format(p_totals, v_where) into v_totals;
  end if;

  v_after := payments_private.decode_list_cursor(p_cursor);
  if v_after.at is not null then
    v_where := v_where || format(' and (%s, %I.id) < (%L::timestamptz, %L::uuid)', p_sort, p_alias, v_after.at, v_after.id);
  end if;
  execute format($q$
    with page as (
      select %2$I.id, %3$s as sort_at, %4$s as item
      from %1$s %2$I
      where %5$s
      order by %3$s desc, %2$I.id desc
      limit %6$s
    ), numbered as (select *, row_number() over (order by sort_at desc, id desc) as n from page)
    select jsonb_build_object(
      'data', coalesce(jsonb_agg(item order by n) filter (where n <= %7$s), '[]'::jsonb),
      'nextCursor', max(payments_private.encode_list_cursor(sort_at, id)) filter (where n = %7$s and %7$s < (select count(*) from page)))
    from numbered
  $q$, p_table, p_alias, p_sort, p_item, v_where, v_limit + 1, v_limit) into v_page;
  if v_totals is not null then
    v_page := v_page || jsonb_build_object('totals', v_totals);
  end if;
  return v_page;
end;
$$;
comment on function payments_private.admin_list_page(regclass, text, text, text, text, integer, text, text[], timestamptz, text, text) is 'One admin list page {data, nextCursor}: checks the environment, page size and filters, then pages the environment''s matching rows of a table newest first after the cursor, in the given item shape; the first page may carry totals of the filtered set.';

--------------------------------------------------------------------------------
-- Webhook events
--------------------------------------------------------------------------------

-- What the lists show of a stored event (get_webhook_event adds the payload). Stable: timestamps
-- print in the session's time zone.
create function payments_private.webhook_event_summary(p_event payments.webhook_events)
returns jsonb
language sql stable set search_path = ''
as $$
  select jsonb_build_object(
    'eventId', p_event.provider_event_id, 'type', p_event.event_type, 'status', p_event.processing_status,
    'objectType', p_event.object_type, 'objectId', p_event.object_id, 'livemode', p_event.livemode,
    'apiVersion', p_event.api_version, 'attempts', p_event.attempt_count, 'lastError', p_event.last_error,
    'createdAt', p_event.event_created_at, 'receivedAt', p_event.received_at, 'processedAt', p_event.processed_at)
$$;
comment on function payments_private.webhook_event_summary(payments.webhook_events) is 'A stored webhook event as the admin lists show it: ids, type, status, attempts, error and times, without the payload.';

create function payments.list_webhook_events(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_status text default null, p_type text default null, p_object_id text default null,
  p_since timestamptz default null)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select payments_private.admin_list_page('payments.webhook_events', 'e', 'e.received_at',
    'payments_private.webhook_event_summary(e)', p_environment, p_limit, p_cursor,
    p_filters => array[['status', 'processing_status', p_status], ['type', 'event_type', p_type],
                       ['objectId', 'object_id', p_object_id]],
    p_since => p_since, p_where => $w$e.provider = 'stripe'$w$)
$$;
comment on function payments.list_webhook_events(text, integer, text, text, text, text, timestamptz) is 'One page {data, nextCursor} of received webhook events, newest first, optionally by status, type, object id and received since; without payloads (see get_webhook_event). PT400 for a status the table does not have.';

create function payments.get_webhook_event(p_environment text, p_event_id text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_event jsonb;
begin
  perform payments_private.require_environment(p_environment);
  select payments_private.webhook_event_summary(e) || jsonb_build_object('payload', e.payload)
    into v_event
  from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event_id;
  if v_event is null then
    raise exception using errcode = 'PT404',
      message = format('Webhook event %s not found in %s.', p_event_id, p_environment),
      hint = 'List events with GET /stripe/{environment}/webhook-events.';
  end if;
  return v_event;
end;
$$;
comment on function payments.get_webhook_event(text, text) is 'One stored webhook event by its Stripe id: the whole payload, its status, error and attempts; PT404 when unknown.';

--------------------------------------------------------------------------------
-- Transactions
--------------------------------------------------------------------------------

create function payments.list_transactions(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_type text default null, p_status text default null, p_subject_type text default null,
  p_subject_id text default null, p_customer_id text default null, p_since timestamptz default null)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select payments_private.admin_list_page('payments.transactions', 't', 'coalesce(t.stripe_created_at, t.created_at)', $i$
      jsonb_build_object(
         'id', t.id, 'type', t.type, 'status', t.status, 'objectId', t.provider_object_id,
         'subjectType', t.subject_type, 'subjectId', t.subject_id, 'customerId', t.customer_id,
         'customerEmail', t.customer_email, 'checkoutSessionId', t.checkout_session_id,
         'paymentIntentId', t.payment_intent_id, 'chargeId', t.charge_id, 'invoiceId', t.invoice_id,
         'subscriptionId', t.subscription_id, 'refundId', t.refund_id, 'amount', t.amount,
         'amountRefunded', t.amount_refunded, 'currency', t.currency, 'description', t.description,
         'paidAt', t.paid_at, 'failedAt', t.failed_at, 'refundedAt', t.refunded_at,
         'createdAt', coalesce(t.stripe_created_at, t.created_at)
       )
    $i$, p_environment, p_limit, p_cursor,
    p_filters => array[['type', 'type', p_type], ['status', 'status', p_status],
                       ['subjectType', 'subject_type', p_subject_type], ['subjectId', 'subject_id', p_subject_id],
                       ['customerId', 'customer_id', p_customer_id]],
    p_since => p_since, p_where => $w$t.provider = 'stripe'$w$,
    p_totals => $q$
      select coalesce(jsonb_agg(jsonb_build_object('currency', currency, 'count', n, 'amount', amount,
                                                    'amountRefunded', refunded) order by currency), '[]'::jsonb)
      from (select t.currency, count(*) as n, sum(t.amount) as amount, sum(t.amount_refunded) as refunded
            from payments.transactions t where %s group by t.currency) s
    $q$)
$$;
comment on function payments.list_transactions(text, integer, text, text, text, text, text, text, timestamptz) is 'One page {data, nextCursor} of transactions, newest first, optionally by type, status, subject, customer and created since; the first page also carries totals per currency of the whole filtered set. PT400 for a type or status the table does not have.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.encode_list_cursor(timestamptz, uuid),
  payments_private.decode_list_cursor(text),
  payments_private.column_check_values(regclass, name),
  payments_private.admin_list_page(regclass, text, text, text, text, integer, text, text[], timestamptz, text, text),
  payments_private.webhook_event_summary(payments.webhook_events),
  payments.list_webhook_events(text, integer, text, text, text, text, timestamptz),
  payments.get_webhook_event(text, text),
  payments.list_transactions(text, integer, text, text, text, text, text, text, timestamptz)
from public;
grant execute on function
  payments.list_webhook_events(text, integer, text, text, text, text, timestamptz),
  payments.get_webhook_event(text, text),
  payments.list_transactions(text, integer, text, text, text, text, text, text, timestamptz)
to service_role;

-- migrate:down
