/** .NET TimeSpan strings as the Qarnot API uses them: `[-][d.]hh:mm:ss[.fffffff]`. */
const TIMESPAN = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/;

/** Parses a TimeSpan into seconds, or returns `undefined` when it is not one. */
export function parseTimeSpan(text: string): number | undefined {
  const m = TIMESPAN.exec(text.trim());
  if (!m) return undefined;
  const [, sign, d, h, min, s, frac] = m;
  const hours = Number(h);
  const minutes = Number(min);
  const seconds = Number(s);
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const total = Number(d ?? 0) * 86400 + hours * 3600 + minutes * 60 + seconds + (frac ? Number(`0.${frac}`) : 0);
  return sign ? -total : total;
}

/** Formats seconds as `d.hh:mm:ss[.fffffff]` (days omitted when zero), the form the Python SDK sends. */
export function formatTimeSpan(totalSeconds: number): string {
  const negative = totalSeconds < 0;
  let rest = Math.abs(totalSeconds);
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  const whole = Math.floor(rest);
  const fraction = Math.round((rest - whole) * 1e7);
  const pad = (n: number): string => String(n).padStart(2, '0');
  let out = `${pad(hours)}:${pad(minutes)}:${pad(whole)}`;
  if (fraction > 0 && fraction < 1e7) out += `.${String(fraction).padStart(7, '0')}`;
  if (days > 0) out = `${days}.${out}`;
  return negative ? `-${out}` : out;
}
