// Actions whose behaviour is not built yet answer a clear UnsupportedOperation — never a fake success.
import { ApiError } from '../errors.ts';
import type { ActionName } from '../models.ts';
import type { ActionHandler } from './index.ts';

export function notYetBuilt<A extends ActionName>(action: A, what: string): ActionHandler<A> {
  return async () => {
    throw new ApiError('UnsupportedOperation', `${action} is not available yet: OpenBatch does not implement ${what} in this version.`);
  };
}
