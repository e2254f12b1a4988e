/**
 * One uPlot chart's life in a component: made in `el` once it is mounted, kept as wide as its
 * box, redrawn when `version` changes, destroyed with the component.
 * @module
 */
import uPlot from 'uplot';
import { onBeforeUnmount, onMounted, type Ref, watch } from 'vue';

export interface ChartSetup {
  /** The chart's options at a width (px). */
  options: (width: number) => uPlot.Options;
  data: () => uPlot.AlignedData;
  /** Changes whenever the data does. */
  version: () => number;
  /** The narrowest the chart is drawn, whatever its box. */
  minWidth: number;
  height: () => number;
}

export function useChart(el: Ref<HTMLDivElement | undefined>, setup: ChartSetup): void {
  let plot: uPlot | undefined;
  let observer: ResizeObserver | undefined;
  onMounted(() => {
    const box = el.value as HTMLDivElement;
    const width = () => Math.max(setup.minWidth, box.clientWidth);
    plot = new uPlot(setup.options(width()), setup.data(), box);
    observer = new ResizeObserver(() => plot?.setSize({ width: width(), height: setup.height() }));
    observer.observe(box);
  });
  watch(setup.version, () => plot?.setData(setup.data()));
  onBeforeUnmount(() => {
    observer?.disconnect();
    plot?.destroy();
  });
}
