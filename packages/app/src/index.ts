export { createServer } from './app.ts';
export {
  type AppConfig,
  cacheOptionsOf,
  INSTANCE_ID_LENGTH,
  readConfig,
  readSettings,
  redactUrl,
  SETTINGS,
  type Setting,
  settingDefault,
} from './config.ts';
export type { AppDeps, Check, InstanceIdentity, RequestInfo } from './deps.ts';
export { type AppErrorCode, appErrorCodes, HttpError } from './errors.ts';
export { createLogger, type LoggerOptions, type LogLevel, logLevels } from './logger.ts';
export { type AppMetrics, createMetrics, type MetricSources } from './metrics.ts';
export { answerClientError, refuseConnect } from './server-answers.ts';
export type {
  StatsResponse,
  StatsResponseCache,
  StatsResponseMemory,
} from './stats-response.ts';
export { toUserBody, type UserBody, userKey } from './user-view.ts';
export { parseUserId, parseUserInput } from './validation.ts';
