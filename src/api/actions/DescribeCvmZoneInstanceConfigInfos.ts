// DescribeCvmZoneInstanceConfigInfos (batch-api.md §b): per-zone instance-type catalogue with stock and price.
import type { ActionFactory } from './types.ts';

export const DescribeCvmZoneInstanceConfigInfos: ActionFactory<'DescribeCvmZoneInstanceConfigInfos'> = (s) => (ctx, req) => s.catalogue.describeCvmZoneInstanceConfigInfos(ctx, req);
