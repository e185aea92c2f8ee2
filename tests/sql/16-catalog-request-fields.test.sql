-- The catalog routes' product and price bodies are checked here, every field at once, with the
-- same Stripe metadata rule as checkout requests.
begin;
select plan(21);

-- The fields named by each refusal, in order.
create function pg_temp.refused_fields(p_kind text, p_creating boolean, p_body text)
returns text[]
language plpgsql
as $$
begin
  perform payments.validate_catalog_request(p_kind, p_creating, p_body::jsonb);
  return '{}';
exception when sqlstate 'PT400' then
  declare
    v_detail text;
  begin
    get stacked diagnostics v_detail = pg_exception_detail;
    return array(select e ->> 'field' from jsonb_array_elements(v_detail::jsonb) e);
  end;
end;
$$;

select tests.authenticate_as_service_role();
select is(pg_temp.refused_fields(kind, creating, body), fields, description)
from (values
  ('product', true, '{}', array['name'], 'A new product needs a name.'),
  ('product', true, '{"name":""}', array['name'], 'An empty name is no name.'),
  ('product', true, '{"name":"x","price":5}', array['price'], 'An unknown product field is refused by its name.'),
  ('product', true, '{"name":null}', array['name'], 'A name cannot be cleared.'),
  ('product', false, '{"description":null,"active":false}', '{}'::text[], 'An update may clear the description.'),
  ('product', false, '{}', array['body'], 'An update must change something.'),
  ('product', true, format('{"name":"%s"}', repeat('n', 251)), array['name'], 'A name is at most 250 characters.'),
  ('product', true, '{"name":"x","active":"yes"}', array['active'], 'active is a boolean.'),
  ('price', true, '{"productId":"prod_x","currency":"dollars","unitAmount":1.5,"recurring":{"interval":"hour"}}',
   array['currency', 'unitAmount', 'recurring.interval'], 'Every bad price field is named at once.'),
  ('price', true, '{"productId":"price_x","currency":"usd","unitAmount":-1}', array['productId', 'unitAmount'],
   'A price belongs to a product id and costs 0 or more.'),
  ('price', true, '{"productId":"prod_x","currency":"usd","unitAmount":500,"recurring":{"interval":"month","intervalCount":0}}',
   array['recurring.intervalCount'], 'An interval count is 1 or more.'),
  ('price', true, '{"productId":"prod_x","currency":"usd","unitAmount":0,"recurring":null,"lookupKey":"pro","nickname":null}',
   '{}'::text[], 'A free one-time price with a lookup key passes.'),
  ('price', false, '{"unitAmount":700,"nickname":"new"}', array['unitAmount'],
   'A price''s amount never changes: an update naming it is refused.'),
  ('price', false, '{"lookupKey":null}', '{}'::text[], 'An update may clear the lookup key.'),
  ('product', false, '{"metadata":null}', array['metadata'], 'Null metadata is refused: Stripe would read it as removing every key.')
) as cases (kind, creating, body, fields, description);

-- The one Stripe metadata rule, as for checkout requests (metadata_errors).
select is(pg_temp.refused_fields('product', true, '{"name":"x","metadata":{"a[b]":"1","":"2","ok":3}}'),
  array['metadata.', 'metadata.ok', 'metadata.a[b]'], 'Metadata keys without brackets, of 1 to 40 characters, with string values.');
select is(pg_temp.refused_fields('price', false, format('{"metadata":%s}',
    (select jsonb_object_agg('k' || i, 'v') from generate_series(1, 51) i))),
  array['metadata'], 'Stripe allows 50 metadata keys.');
select is(pg_temp.refused_fields('product', true, '{"name":"x","metadata":{"payments_subject_id":"u"}}'), '{}'::text[],
  'Catalog metadata has no reserved keys: only sessions carry the billing subject.');
select throws_ok($$select payments.validate_catalog_request('product', true, '[]')$$, 'PT400', 'body must be a JSON object.',
  'A body that is not an object is refused as a whole.');
select throws_ok($$select payments.validate_catalog_request('coupon', true, '{}')$$, 'PT400', null,
  'Only products and prices are catalog objects.');

reset role;
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select throws_ok($$select payments.validate_catalog_request('product', true, '{"name":"x"}')$$, '42501', null,
  'Users cannot call the operator request check.');
reset role;

select * from finish();
rollback;
