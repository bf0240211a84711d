/**
 * Plain-text tables for the CLI's human output: a header row and columns padded to their widest
 * cell, numbers (and sizes) right-aligned, two spaces between columns.
 */

export interface Column {
  header: string
  /** Right-align (numbers). Default false. */
  right?: boolean
}

/** The lines of a table; cells are printed as given. */
export function formatTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? ''
        const width = widths[i] as number
        return c.right === true ? cell.padStart(width) : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...rows.map(line)]
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB']

/** `512 B`, `12.3 KiB`, `1.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${UNITS[unit] as string}`
}
