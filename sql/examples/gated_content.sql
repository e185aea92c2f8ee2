-- Content gated by a subscription: premium articles readable only by subscribers.
--
-- payments.has_active_subscription is security invoker, so inside this policy it sees the
-- subscriptions the reading user may see. required_product_id narrows an article to one product
-- (null: any active or trialing subscription). The environment argument is null, which means
-- live: a test-mode subscription paid with a test card unlocks nothing unless 'test' is passed.

create table public.premium_articles (
  id uuid primary key default gen_random_uuid(),
  title text not null,
  body text not null,
  required_product_id text,
  created_at timestamptz not null default now()
);
comment on table public.premium_articles is 'Example app table: articles only subscribers may read.';
grant select on public.premium_articles to anon, authenticated;
alter table public.premium_articles enable row level security;
create policy "Subscribers can read premium articles" on public.premium_articles
  for select to authenticated
  using (payments.has_active_subscription('user', (select auth.uid())::text, null, required_product_id));

-- Where the team billing example is installed, members of a subscribed team read them too.
do $$
begin
  if to_regclass('public.team_members') is not null then
    execute $policy$
      create policy "Members of subscribed teams can read premium articles" on public.premium_articles
        for select to authenticated
        using (exists (
          select 1 from public.team_members m
          where m.user_id = (select auth.uid())
            and payments.has_active_subscription('team', m.team_id::text, null, required_product_id)
        ))
    $policy$;
  end if;
end;
$$;
