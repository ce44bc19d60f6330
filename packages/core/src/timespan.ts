/** .NET TimeSpan strings as the Qarnot API uses them: `[-][d.]hh:mm:ss[.fffffff]`. */
const TIMESPAN = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/;

export class TimeSpanSyntaxError extends Error {
  override readonly name = 'TimeSpanSyntaxError';
}

/** Parses a TimeSpan into seconds (fractional). */
export function parseTimeSpan(text: string): number {
  const m = TIMESPAN.exec(text.trim());
  if (!m) throw new TimeSpanSyntaxError(`'${text}' is not a duration of the form [d.]hh:mm:ss[.fffffff]`);
  const [, sign, d, h, min, s, frac] = m;
  const hours = Number(h);
  const minutes = Number(min);
  const seconds = Number(s);
  if (hours > 23 || minutes > 59 || seconds > 59) {
    throw new TimeSpanSyntaxError(`'${text}' has hours over 23, or minutes or seconds over 59`);
  }
  const total =
    Number(d ?? 0) * 86400 + hours * 3600 + minutes * 60 + seconds + (frac ? Number(`0.${frac}`) : 0);
  return sign ? -total : total;
}

/** Formats seconds as `d.hh:mm:ss` (days omitted when zero), the form the SDKs send and parse. */
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
  const pad = (n: number) => String(n).padStart(2, '0');
  let out = `${pad(hours)}:${pad(minutes)}:${pad(whole)}`;
  if (fraction > 0) out += `.${String(fraction).padStart(7, '0')}`;
  if (days > 0) out = `${days}.${out}`;
  return negative ? `-${out}` : out;
}

/** Like {@link parseTimeSpan}, but `undefined` instead of an error. */
export function tryParseTimeSpan(text: string): number | undefined {
  try {
    return parseTimeSpan(text);
  } catch {
    return undefined;
  }
}

export function isTimeSpan(text: string): boolean {
  return tryParseTimeSpan(text) !== undefined;
}
