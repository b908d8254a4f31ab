import './context.ts';

export {
  createHttpClient,
  type HttpClient,
  runLoops,
  type Timed,
  versionServed,
} from './http.ts';
export {
  type PromFamily,
  type PromSample,
  parsePrometheusText,
  sampleValue,
} from './prometheus.ts';
