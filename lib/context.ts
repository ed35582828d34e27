// What every step and route is handed: the settings, the job store on the control endpoint, the
// pipeline queue, the gateway client pool, the deployment's roles, a logger and this worker's id.
// lib/create-context.ts builds it from settings (SQS and the control bucket); the unit tests build
// it over the in-memory fakes.
import type { Authority } from "./auth/authorize.ts";
import type { EndpointClients } from "./endpoints/clients.ts";
import type { Settings } from "./settings.ts";
import type { Queue } from "./steps/queue.ts";
import type { JsonStore } from "./store/json-store.ts";
import type { Logger } from "./util/logger.ts";

export interface Context {
  settings: Settings;
  store: JsonStore;
  queue: Queue;
  gateways: EndpointClients;
  log: Logger;
  /** The deployment's roles: what a job or a route may do (auth/authorize.ts). */
  auth: Authority;
  /** This process's (or Lambda container's) id: in gateway budgets, child states and logs. */
  workerId: string;
}
