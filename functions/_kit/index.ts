/** _kit — the runtime every Reflex function stands on; functions import from here only. */
export { ANY_TYPE, defineFunction, noConfig } from './function.js';
export type {
  Accept,
  Deps,
  FunctionDefinition,
  Handler,
  HandlerContext,
  Route,
  RouteRequest,
  RouteResponse,
  ValidEvent,
} from './function.js';
export { Reply } from './reply.js';
export type { ReplySpec, Extensions } from './reply.js';
export { run, startServer } from './server.js';
export type { RunningServer, ServerOptions, State } from './server.js';
export { parseRuntimeConfig, intFrom, oneOf, boolFrom } from './config.js';
export type { AuthConfig, Env, RuntimeConfig, LogLevel } from './config.js';
export { createAuthenticator } from './auth.js';
export type { Authenticator, Sender } from './auth.js';
export * from './errors.js';
export { kubeCluster, kubeconfigOf, kubeCall, fromKubeError, apiStatus, microTime, where } from './k8s.js';
export type { Cluster, KubeObject, ListOptions, ObjectMeta, ObjectReader, ObjectRef } from './k8s.js';
export { counter } from './metrics.js';
export type { Logger } from './logger.js';
export { SCHEMA_BASE } from './schemas.js';
export { answered, clientSpan } from './tracing.js';
export type { Span, SpanAttributes, Tracer } from './tracing.js';
