-- migrate:up

-- Users insert only the request columns of a session row; status, Stripe ids, URLs, amounts and
-- errors are written by the server alone. Otherwise a user with the schema exposed could insert
-- a row that claims to be paid, or carries a URL of their choosing.
revoke insert on payments.stripe_checkout_sessions from authenticated;
grant insert (
  environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url,
  customer_email, metadata, idempotency_key, request_hash
) on payments.stripe_checkout_sessions to authenticated;

revoke insert on payments.stripe_customer_portal_sessions from authenticated;
grant insert (
  environment, created_by, subject_type, subject_id, customer_id, return_url, configuration_id
) on payments.stripe_customer_portal_sessions to authenticated;

-- migrate:down
