/** How figures are written in the Markdown table and the SVG chart. */
import type { Metric, Row } from '../lib/result.js'
import { formatBytesPerSec, formatCount, formatMs } from '../lib/stats.js'

/** The figure a row is charted by in a scenario charted by `metric`. */
export function metricOf(row: Row, metric: Metric): number | undefined {
  if (row.status !== 'ok') return undefined
  if (metric === 'ms') return row.extra?.ms
  return row[metric] ?? row.recordsPerSec ?? row.opsPerSec
}

export function formatMetric(value: number, metric: Metric): string {
  switch (metric) {
    case 'bytesPerSec':
      return formatBytesPerSec(value)
    case 'recordsPerSec':
      return `${formatCount(value)} rec/s`
    case 'opsPerSec':
      return `${formatCount(value)}/s`
    case 'ms':
      return formatMs(value)
  }
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string)
}
