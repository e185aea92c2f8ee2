/** Unix-second time and billing-period arithmetic. */

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Adds whole billing intervals (`day`, `week`, `month`, `year`) the way a billing calendar does:
 * months keep the day of month.
 */
export function addInterval(timestamp: number, interval: string, count: number): number {
  const date = new Date(timestamp * 1000);
  switch (interval) {
    case "day":
      date.setUTCDate(date.getUTCDate() + count);
      break;
    case "week":
      date.setUTCDate(date.getUTCDate() + 7 * count);
      break;
    case "month":
      date.setUTCMonth(date.getUTCMonth() + count);
      break;
    case "year":
      date.setUTCFullYear(date.getUTCFullYear() + count);
      break;
    default:
      throw new Error(`Unknown billing interval: ${interval}`);
  }
  return Math.floor(date.getTime() / 1000);
}
