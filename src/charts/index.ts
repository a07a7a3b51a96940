// Charts for the notebooks and the report (a side tool, not a step): plotly figures shown
// in Jupyter or drawn to PNG by Chromium, and small SVG charts that need no browser.
export { histogram, histogramSvg } from './histogram';
export { lineChartSvg } from './line';
export {
  confusionMatrixFigure, evaluationFigures, histogramFigure, lengthAccuracyFigure, lineFigure, precisionRecallFigure, probabilityFigure,
  reliabilityFigure, rocFigure, trainingCurveFigure, type PlotlyFigure,
} from './plotly';
export { findChromium, saveCharts } from './render';
export { closeCharts, showFigure } from './show';
