// The instance catalogue actions: DescribeAvailableCvmInstanceTypes, DescribeCvmZoneInstanceConfigInfos,
// DescribeInstanceCategories — answered from the catalogue for the zones of the caller's region.
import { apiError } from '../domain/errors.ts';
import type { Limits } from '../config/config.ts';
import { loadCatalogue, offeredIn, soldOutIn, type Catalogue, type InstanceTypeInfo } from '../domain/catalogue.ts';
import { zonesOf } from '../domain/regions.ts';
import { checkFilters, type CheckedFilter } from './filters.ts';
import type { Caller } from './types.ts';
import { checkZone } from './validate.ts';
import type { InstanceTypeQuotaItem, RequestOf, ResponseOf } from '../api/models.ts';

const CHARGE_TYPES = ['POSTPAID_BY_HOUR', 'SPOTPAID'];
const SPOT_DISCOUNT = 0.2; // spot instances at a fifth of the list price

export class CatalogueService {
  readonly catalogue: Catalogue;

  constructor(private readonly limits: Limits, catalogue: Catalogue = loadCatalogue()) {
    this.catalogue = catalogue;
  }

  /** vCPUs and memory of an instance type the catalogue knows. */
  capacityOf(instanceType: string): { cpu: number; memGiB: number } | undefined {
    const t = this.catalogue.types.get(instanceType);
    return t ? { cpu: t.cpu, memGiB: t.memGiB } : undefined;
  }

  /** (zone, type) pairs of the caller's region that pass the filters. */
  private offers(c: Caller, filters: CheckedFilter[]): [string, InstanceTypeInfo][] {
    const get = (n: string) => filters.find((f) => f.name === n)?.values;
    const zones = get('zone'), families = get('instance-family'), types = get('instance-type');
    for (const z of zones ?? []) checkZone(z, c.region, 'Filter zone');
    const out: [string, InstanceTypeInfo][] = [];
    for (const zone of zonesOf(c.region)) {
      if (zones && !zones.includes(zone)) continue;
      for (const t of this.catalogue.types.values()) {
        if (!offeredIn(t, zone)) continue;
        if (families && !families.includes(t.family)) continue;
        if (types && !types.includes(t.instanceType)) continue;
        out.push([zone, t]);
      }
    }
    return out;
  }

  async describeAvailableCvmInstanceTypes(c: Caller, req: RequestOf<'DescribeAvailableCvmInstanceTypes'>): Promise<ResponseOf<'DescribeAvailableCvmInstanceTypes'>> {
    const filters = checkFilters(req.Filters, (n) => n === 'zone' || n === 'instance-family', this.limits);
    return {
      InstanceTypeConfigSet: this.offers(c, filters)
        .filter(([zone, t]) => !soldOutIn(t, zone))
        .map(([zone, t]) => ({ Mem: t.memGiB, Cpu: t.cpu, InstanceType: t.instanceType, Zone: zone, InstanceFamily: t.family })),
    };
  }

  async describeCvmZoneInstanceConfigInfos(c: Caller, req: RequestOf<'DescribeCvmZoneInstanceConfigInfos'>): Promise<ResponseOf<'DescribeCvmZoneInstanceConfigInfos'>> {
    const filters = checkFilters(req.Filters, (n) => ['zone', 'instance-family', 'instance-type', 'instance-charge-type'].includes(n), this.limits);
    const charge = filters.find((f) => f.name === 'instance-charge-type')?.values;
    for (const v of charge ?? []) {
      if (!CHARGE_TYPES.includes(v)) {
        throw apiError('InvalidParameterValue.UnsupportedBatchInstanceChargeType', { param: 'Filter instance-charge-type', value: v, supported: CHARGE_TYPES.join(', ') });
      }
    }
    const set: InstanceTypeQuotaItem[] = [];
    for (const [zone, t] of this.offers(c, filters)) {
      for (const ct of CHARGE_TYPES) {
        if (charge && !charge.includes(ct)) continue;
        const soldOut = soldOutIn(t, zone);
        const price = ct === 'SPOTPAID' ? Math.round(t.pricePerHour * SPOT_DISCOUNT * 100) / 100 : t.pricePerHour;
        set.push({
          Zone: zone,
          InstanceType: t.instanceType,
          InstanceChargeType: ct,
          NetworkCard: 0,
          Externals: {},
          Cpu: t.cpu,
          Memory: t.memGiB,
          InstanceFamily: t.family,
          TypeName: t.typeName,
          LocalDiskTypeList: [],
          Status: soldOut ? 'SOLD_OUT' : 'SELL',
          Price: { UnitPrice: price, ChargeUnit: 'HOUR', UnitPriceDiscount: price, Discount: 100 },
          SoldOutReason: soldOut ? 'ResourcesSoldOut.SpecifiedInstanceType' : '',
          InstanceBandwidth: Math.min(25, Math.round(t.cpu * 0.75 * 10) / 10 + 1),
          InstancePps: Math.min(600, 10 * t.cpu + 20),
          StorageBlockAmount: 0,
          CpuType: t.cpuType,
          Gpu: t.gpu,
          Fpga: 0,
          Remark: '',
          GpuCount: t.gpu,
          Frequency: t.frequency,
          StatusCategory: soldOut ? 'WithoutStock' : 'EnoughStock',
        });
      }
    }
    return { InstanceTypeQuotaSet: set };
  }

  async describeInstanceCategories(_c: Caller, _req: RequestOf<'DescribeInstanceCategories'>): Promise<ResponseOf<'DescribeInstanceCategories'>> {
    return {
      InstanceCategorySet: [...this.catalogue.categories.entries()].map(([InstanceCategory, InstanceFamilySet]) => ({
        InstanceCategory,
        InstanceFamilySet,
      })),
    };
  }
}
