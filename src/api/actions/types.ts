// The shape of an action: the context of its request and its handler, typed by the action's wire
// request and response (RequestOf, ResponseOf). Each action file and the registry (index.ts) import these; nothing here imports
// an action.
import type { Logger } from '../../lib/logger.ts';
import type { ActionName, RequestOf, ResponseOf } from '../models.ts';
import type { Services } from '../../services/index.ts';

export interface ActionContext {
  account: string;
  region: string;
  requestId: string;
  log: Logger;
}

export type ActionHandler<A extends ActionName> = (ctx: ActionContext, req: RequestOf<A>) => Promise<ResponseOf<A>>;
export type ActionRegistry = { [A in ActionName]: ActionHandler<A> };
export type ActionFactory<A extends ActionName> = (s: Services) => ActionHandler<A>;
