// The instance catalogue: instance types (family, vCPU, memory, category) per zone of each region.
// (Skeleton: filled in by the catalogue work.)
import { ApiError } from '../api/errors.ts';
import type { Caller } from './jobs.ts';

type Obj = Record<string, any>;

export class CatalogueService {
  async describeAvailableCvmInstanceTypes(_c: Caller, _req: Obj): Promise<Obj> {
    throw new ApiError('UnsupportedOperation', 'DescribeAvailableCvmInstanceTypes is not available yet.');
  }
  async describeCvmZoneInstanceConfigInfos(_c: Caller, _req: Obj): Promise<Obj> {
    throw new ApiError('UnsupportedOperation', 'DescribeCvmZoneInstanceConfigInfos is not available yet.');
  }
  async describeInstanceCategories(_c: Caller, _req: Obj): Promise<Obj> {
    throw new ApiError('UnsupportedOperation', 'DescribeInstanceCategories is not available yet.');
  }
}
