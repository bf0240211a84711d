/**
 * Topic and group names: `[a-zA-Z0-9._-]{1,249}`, not `.` or `..` (Kafka's rule). A name
 * becomes a folder name, so nothing else may reach the file system: no `/`, `\`, NUL, no
 * look-alike Unicode, nothing longer than a file name can be.
 */
import { InvalidNameError } from './errors.js'

const NAME = /^[a-zA-Z0-9._-]{1,249}$/
/** Topic folders sit beside the log's own files in its root: a topic may not take their names. */
const RESERVED_TOPIC_NAMES: ReadonlySet<string> = new Set(['seglog.json'])

/** Return `name` if it is a valid topic or group name, else throw `InvalidNameError`. */
export function validateName(kind: 'topic' | 'group', name: unknown): string {
  if (typeof name !== 'string') throw new InvalidNameError(`Invalid ${kind} name: expected a string, got ${typeof name}`)
  if (!NAME.test(name) || name === '.' || name === '..') {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name)
    throw new InvalidNameError(
      `Invalid ${kind} name ${shown}: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-' (not '.' or '..')`,
    )
  }
  if (kind === 'topic' && RESERVED_TOPIC_NAMES.has(name)) {
    throw new InvalidNameError(`Invalid topic name ${JSON.stringify(name)}: it is reserved for the log's own file of that name in its root folder`)
  }
  return name
}
