/**
 * Parsers of option values shared by the subcommands. A bad value is a commander
 * `InvalidArgumentError`, so it is reported as a usage error (exit 2) naming the option.
 */
import { InvalidArgumentError } from 'commander'

/** An integer in [min, max], for an option's `argParser`. */
export function integerIn(min: number, max: number = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text: string): number => {
    const value = /^-?[0-9]+$/.test(text.trim()) ? Number(text) : NaN
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}` : `expected an integer in [${min}, ${max}]`)
    }
    return value
  }
}

/** `k=v` of a repeatable option, appended to the values so far. */
export function keyValuePair(text: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const at = text.indexOf('=')
  if (at <= 0) throw new InvalidArgumentError('expected KEY=VALUE with a non-empty KEY')
  return [...previous, [text.slice(0, at), text.slice(at + 1)]]
}
