// The shape of an action: the context of its request and its handler, typed by the action's wire
// request and response (RequestOf, ResponseOf). The registry (index.ts) and the pipeline import these;
// nothing here imports the registry.
import type { Logger } from '../../lib/logger.ts';
import type { ActionName, RequestOf, ResponseOf } from '../models.ts';
import type { ExtensionName, ExtensionRequestOf, ExtensionResponseOf } from '../extension-models.ts';

export interface ActionContext {
  account: string;
  region: string;
  requestId: string;
  log: Logger;
}

export type ActionHandler<A extends ActionName> = (ctx: ActionContext, req: RequestOf<A>) => Promise<ResponseOf<A>>;
export type ActionRegistry = { [A in ActionName]: ActionHandler<A> };

export type ExtensionHandler<A extends ExtensionName> = (ctx: ActionContext, req: ExtensionRequestOf<A>) => Promise<ExtensionResponseOf<A>>;
/** The OpenBatch extension actions (extension-models.ts), served beside the Batch actions. */
export type ExtensionRegistry = { [A in ExtensionName]: ExtensionHandler<A> };
