// An app's own trigger on payments.webhook_events that fails, as a fulfilment bug would: the event
// is marked failed with the trigger's error and its projection undone, until the app fixes it.
import type { Stack } from "./stack.ts";

/**
 * Installs a trigger that raises `message` for every processed event matching `condition` (SQL
 * over `new`, the payments.webhook_events row), and answers a function that removes it again.
 */
export async function breakAppTrigger(
  sql: Stack["sql"],
  message: string,
  condition = "true",
): Promise<() => Promise<void>> {
  await sql.unsafe(`
    create function public.failing_app_trigger() returns trigger language plpgsql as $$
    begin
      if new.processing_status = 'processed' and (${condition}) then
        raise exception '%', '${message.replaceAll("'", "''")}';
      end if;
      return new;
    end $$;
    create trigger failing_app_trigger after insert or update on payments.webhook_events
      for each row execute function public.failing_app_trigger();`);
  return async () => {
    await sql.unsafe("drop trigger failing_app_trigger on payments.webhook_events");
  };
}
