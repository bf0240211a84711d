/**
 * `latest.svg`, drawn by hand: per scenario, one bar per row (seglog blue, raw-disk baselines
 * grey, peers orange), each scenario on its own scale; then latency percentiles (p50, p99, p99.9)
 * of every row that has them, on one logarithmic axis.
 */
import type { Row, RunResult, ScenarioResult } from '../lib/result.js'
import { formatMs } from '../lib/stats.js'
import { escapeXml, formatMetric, metricOf } from './format.js'

const WIDTH = 1100
const LABEL_WIDTH = 500
const BAR_WIDTH = 440
const BAR_HEIGHT = 14
const GAP = 4
const COLORS: Record<Row['role'], string> = { seglog: '#2b6cb0', baseline: '#8a94a6', peer: '#dd6b20' }

function short(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

function text(x: number, y: number, body: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(body)}</text>`
}

function throughputPanel(scenarios: readonly ScenarioResult[], top: number): { svg: string[]; bottom: number } {
  const svg: string[] = []
  let y = top
  svg.push(text(10, y, 'Throughput per scenario: seglog vs raw-disk baselines and peers (each scenario on its own scale; recovery in ms, lower is better)', 'class="h"'))
  y += 22
  for (const s of scenarios) {
    const rows = s.rows.filter((r) => metricOf(r, s.metric) !== undefined)
    const skipped = s.rows.filter((r) => r.status !== 'ok')
    if (s.status !== 'ok' || rows.length === 0) {
      svg.push(text(10, y + 11, `${s.name}: ${s.status === 'ok' ? 'no figures' : `${s.status}: ${s.reason ?? ''}`}`, 'class="s"'))
      y += BAR_HEIGHT + 10
      continue
    }
    svg.push(text(10, y + 11, `${s.name} — ${short(s.workload, 130)}`, 'class="s"'))
    y += BAR_HEIGHT + GAP + 2
    const max = Math.max(...rows.map((r) => metricOf(r, s.metric) as number))
    for (const row of rows) {
      const value = metricOf(row, s.metric) as number
      const w = Math.max(1, (value / max) * BAR_WIDTH)
      svg.push(text(LABEL_WIDTH - 6, y + 11, short(`${row.system}: ${row.label}`, 78), 'class="l" text-anchor="end"'))
      svg.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[row.role]}"/>`)
      svg.push(text(LABEL_WIDTH + w + 5, y + 11, formatMetric(value, s.metric), 'class="v"'))
      y += BAR_HEIGHT + GAP
    }
    for (const row of skipped) {
      svg.push(text(LABEL_WIDTH - 6, y + 11, short(`${row.system}: ${row.label}`, 78), 'class="l" text-anchor="end"'))
      svg.push(text(LABEL_WIDTH, y + 11, short(`skipped: ${row.reason ?? ''}`, 80), 'class="k"'))
      y += BAR_HEIGHT + GAP
    }
    y += 10
  }
  return { svg, bottom: y }
}

function latencyPanel(scenarios: readonly ScenarioResult[], top: number): { svg: string[]; bottom: number } {
  const svg: string[] = []
  const rows = scenarios.flatMap((s) => s.rows.filter((r) => r.status === 'ok' && r.latencyMs !== undefined && r.latencyMs.samples > 0).map((r) => ({ s, r })))
  let y = top
  svg.push(text(10, y, 'Latency percentiles (ms, log scale): dark p50, mid p99, light p99.9', 'class="h"'))
  y += 18
  const lo = 1e-3
  const hi = 1e3
  const x = (ms: number): number => LABEL_WIDTH + (Math.log10(Math.min(hi, Math.max(lo, ms)) / lo) / Math.log10(hi / lo)) * BAR_WIDTH
  for (let t = lo; t <= hi; t *= 10) {
    svg.push(`<line x1="${x(t).toFixed(1)}" y1="${y}" x2="${x(t).toFixed(1)}" y2="${y + rows.length * (BAR_HEIGHT + GAP) + 6}" stroke="#ddd"/>`)
    svg.push(text(x(t), y + 8, formatMs(t), 'class="k" text-anchor="middle"'))
  }
  y += 14
  for (const { s, r } of rows) {
    const l = r.latencyMs as NonNullable<Row['latencyMs']>
    svg.push(text(LABEL_WIDTH - 6, y + 11, short(`${s.name} · ${r.system}: ${r.label}`, 78), 'class="l" text-anchor="end"'))
    const color = COLORS[r.role]
    for (const [value, opacity] of [
      [l.p999, 0.3],
      [l.p99, 0.6],
      [l.p50, 1],
    ] as const) {
      svg.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${Math.max(1, x(value) - LABEL_WIDTH).toFixed(1)}" height="${BAR_HEIGHT}" fill="${color}" fill-opacity="${opacity}"/>`)
    }
    svg.push(text(x(l.p999) + 5, y + 11, `${formatMs(l.p50)} / ${formatMs(l.p99)} / ${formatMs(l.p999)}`, 'class="v"'))
    y += BAR_HEIGHT + GAP
  }
  return { svg, bottom: y + 10 }
}

export function svgChart(run: RunResult): string {
  const m = run.machine
  const charted = run.scenarios.filter((s) => s.name !== 'micro')
  const head = [
    text(10, 22, `seglog benchmark — ${run.quick ? 'quick run' : 'full run'}, ${run.startedAt}`, 'class="t"'),
    text(10, 40, `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.disk}; Node ${m.node}; CRC-32C ${m.crc32c}`, 'class="k"'),
    `<rect x="10" y="50" width="12" height="10" fill="${COLORS.seglog}"/>`,
    text(26, 59, 'seglog', 'class="k"'),
    `<rect x="80" y="50" width="12" height="10" fill="${COLORS.baseline}"/>`,
    text(96, 59, 'raw-disk baseline', 'class="k"'),
    `<rect x="210" y="50" width="12" height="10" fill="${COLORS.peer}"/>`,
    text(226, 59, 'peer (SQLite, NATS JetStream, Redis)', 'class="k"'),
  ]
  const throughput = throughputPanel(charted, 88)
  const latency = latencyPanel(charted, throughput.bottom + 16)
  const height = Math.ceil(latency.bottom + 10)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.t{font-size:16px;font-weight:bold}.h{font-size:13px;font-weight:bold}.s{font-size:12px;font-weight:bold;fill:#222}.l{font-size:10.5px;fill:#333}.v{font-size:10.5px;fill:#111}.k{font-size:10px;fill:#555}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...head,
    ...throughput.svg,
    ...latency.svg,
    '</svg>',
    '',
  ].join('\n')
}
