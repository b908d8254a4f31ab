export { createApp } from './app.ts';
export { type AppConfig, readConfig, redactUrl } from './config.ts';
export type { AppDeps, Check, InstanceIdentity } from './deps.ts';
export { type ErrorCode, errorCodes, HttpError } from './errors.ts';
export { toUserBody, type UserBody, userKey } from './user-view.ts';
export { parseUserId, parseUserInput } from './validation.ts';
