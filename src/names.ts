/**
 * Topic and group names: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..` (Kafka's rule). A name
 * becomes a folder name, so nothing else may reach the file system: no `/`, `\`, NUL, no
 * look-alike Unicode, nothing longer than a file name can be.
 */
import { InvalidNameError } from './errors.js'

const NAME = /^[a-zA-Z0-9._-]{1,249}$/

/** Return `name` if it is a valid topic or group name, else throw `InvalidNameError`. */
export function validateName(kind: 'topic' | 'group', name: unknown): string {
  if (typeof name !== 'string') throw new InvalidNameError(`Invalid ${kind} name: expected a string, got ${typeof name}`)
  if (!NAME.test(name) || name === '.' || name === '..') {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name)
    throw new InvalidNameError(
      `Invalid ${kind} name ${shown}: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-' (not '.' or '..')`,
    )
  }
  return name
}
