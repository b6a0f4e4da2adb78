/** _kit — the runtime every Reflex function stands on; functions import from here only. */
export { ANY_TYPE, defineFunction, noConfig } from './function.js';
export type { Accept, FunctionDefinition, Handler, HandlerContext, ValidEvent } from './function.js';
export { Reply } from './reply.js';
export type { ReplySpec, Extensions } from './reply.js';
export { run, startServer } from './server.js';
export type { RunningServer, ServerOptions, State } from './server.js';
export { parseRuntimeConfig, intFrom, oneOf, boolFrom } from './config.js';
export type { Env, RuntimeConfig, LogLevel } from './config.js';
export * from './errors.js';
export { kubeFactory, fromKubeError, apiStatus, microTime } from './k8s.js';
export type { Kube, KubeFactory } from './k8s.js';
export { counter } from './metrics.js';
export type { Logger } from './logger.js';
export { SCHEMA_BASE } from './schemas.js';
