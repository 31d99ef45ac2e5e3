// Time-series charts (uPlot, canvas): the last five minutes of what the page computed at each refresh.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Seconds of history each chart keeps. */
export const WINDOW_SECONDS = 300;

const HEIGHT = 170;

export const COLORS = ['#2f6fd6', '#e0712c', '#2e9d5b', '#c43b3b', '#8a5cc9', '#a0772b', '#d4509b', '#4a9fb0'];

/** One chart: a time axis and the given series, fed a point per refresh. */
export class TimeChart {
  /**
   * @param {HTMLElement} el where the chart goes
   * @param {{label: string}[]} series the lines, coloured in order from COLORS
   * @param {(v: number) => string} format how values read on the axis and in the legend
   * @param {{log?: boolean, floor?: number}} options log: a logarithmic y axis (latencies); floor: the least top of
   *   a linear y axis, so an idle chart reads 0 to floor rather than 0 to 1 (bytes)
   */
  constructor(el, series, format, { log = false, floor = 1 } = {}) {
    this.el = el;
    this.data = [[], ...series.map(() => [])];
    const yScale = log
      ? { distr: 3 }
      : { range: (u, min, max) => [0, Math.max(floor, max > 0 ? max * 1.15 : 0)] };
    this.plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: HEIGHT,
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: false,
            points: { show: false },
            // Off the chart (no cursor) the legend reads the newest value rather than nothing.
            value: (u, v, si, idx) => {
              if (idx == null) v = u.data[si][u.data[si].length - 1];
              return v == null ? '–' : format(v);
            },
          })),
        ],
        scales: { x: { time: true }, y: yScale },
        axes: [
          { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } },
          { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' }, size: 72, values: (u, vals) => vals.map((v) => (v == null ? '' : format(v))) },
        ],
        cursor: { drag: { x: false, y: false } },
        legend: { show: true },
      },
      this.data,
      el,
    );
    new ResizeObserver(() => {
      const width = Math.max(200, this.el.clientWidth);
      if (width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
    }).observe(el);
  }

  /** Adds the values of time `t` (unix seconds), drops what is older than the window, redraws. */
  push(t, values) {
    this.data[0].push(t);
    values.forEach((v, i) => this.data[i + 1].push(v == null || !Number.isFinite(v) ? null : v));
    while (this.data[0].length > 2 && this.data[0][0] < t - WINDOW_SECONDS) {
      for (const column of this.data) column.shift();
    }
    this.plot.setData(this.data);
  }
}
