// One rule for a value that must be one of a fixed list (query parameters, environment variables):
// an exact, case-sensitive match and one wording for the refusal. Callers pick their error type.

import { HttpError } from './errors.js';

export type ChoiceResult<T extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** `value` when it is one of `choices`; otherwise the reason, `must be one of: a, b, c`. */
export function parseChoice<T extends string>(value: string, choices: readonly T[]): ChoiceResult<T> {
  const choice = choices.find((candidate) => candidate === value);
  return choice === undefined
    ? { ok: false, reason: `must be one of: ${choices.join(', ')}` }
    : { ok: true, value: choice };
}

/** A query parameter's choice, or a 400 naming the parameter and listing the allowed values. */
export function parseQueryChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
  const choice = parseChoice(value, choices);
  if (!choice.ok) throw new HttpError(400, `${name} ${choice.reason}`, { allowed: choices });
  return choice.value;
}
