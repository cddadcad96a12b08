// The instance catalogue through the official SDK: the three actions, their filters, region scoping,
// error paths, and SubmitJob / CreateComputeEnv rejecting types the catalogue does not know.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, simpleJob, startServer, type BatchClient, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let c: BatchClient;
beforeAll(async () => {
  srv = await startServer();
  c = srv.client();
});
afterAll(async () => {
  await srv?.stop();
});
const code = async (p: Promise<unknown>) => (await errorOf(p)).code;
// every instance type of the official examples
const EXAMPLE_TYPES = ['GN2.14XLARGE112', 'GN2.7XLARGE56', 'S1.LARGE8', 'S1.SMALL1', 'S1.SMALL2', 'S2.SMALL1', 'S3.SMALL1', 'S3.SMALL2', 'S5.SMALL2', 'SA5.MEDIUM4'];

describe('instance catalogue', () => {
  it('lists the instance types of the region, with every type the official examples use', async () => {
    const r = await c.DescribeAvailableCvmInstanceTypes!({});
    const set = r.InstanceTypeConfigSet as { Mem: number; Cpu: number; InstanceType: string; Zone: string; InstanceFamily: string }[];
    expect(set.length).toBeGreaterThan(100);
    for (const x of set) {
      expect(Object.keys(x).sort()).toEqual(['Cpu', 'InstanceFamily', 'InstanceType', 'Mem', 'Zone']);
      expect(x.Zone.startsWith('ap-guangzhou-')).toBe(true);
      expect(x.InstanceType.startsWith(`${x.InstanceFamily}.`)).toBe(true);
    }
    const types = new Set(set.map((x) => x.InstanceType));
    for (const t of EXAMPLE_TYPES) expect(types).toContain(t);
    expect(set.find((x) => x.InstanceType === 'GN2.7XLARGE56')).toMatchObject({ Cpu: 28, Mem: 56 });
    expect(set.find((x) => x.InstanceType === 'SA5.MEDIUM4')).toMatchObject({ Cpu: 2, Mem: 4 });
    // filters: zone and family, ANDed; values ORed
    const f = await c.DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'zone', Values: ['ap-guangzhou-3'] }, { Name: 'instance-family', Values: ['GN2', 'S5'] }] });
    expect(f.InstanceTypeConfigSet.length).toBeGreaterThan(0);
    for (const x of f.InstanceTypeConfigSet) {
      expect(x.Zone).toBe('ap-guangzhou-3');
      expect(['GN2', 'S5']).toContain(x.InstanceFamily);
    }
    // GPU types are not offered everywhere
    const z2 = await c.DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'zone', Values: ['ap-guangzhou-2'] }, { Name: 'instance-family', Values: ['GN2'] }] });
    expect(z2.InstanceTypeConfigSet).toEqual([]);
    // another region answers with its own zones
    const bj = await srv.client({ region: 'ap-beijing' }).DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'instance-family', Values: ['S1'] }] });
    expect(bj.InstanceTypeConfigSet.every((x: { Zone: string }) => x.Zone.startsWith('ap-beijing-'))).toBe(true);
  });

  it('describes zone configurations with prices, stock and both charge types', async () => {
    const r = await c.DescribeCvmZoneInstanceConfigInfos!({ Filters: [{ Name: 'instance-type', Values: ['S2.SMALL1'] }, { Name: 'zone', Values: ['ap-guangzhou-2'] }] });
    expect(r.InstanceTypeQuotaSet.map((x: { InstanceChargeType: string }) => x.InstanceChargeType).sort()).toEqual(['POSTPAID_BY_HOUR', 'SPOTPAID']);
    const item = r.InstanceTypeQuotaSet.find((x: { InstanceChargeType: string }) => x.InstanceChargeType === 'POSTPAID_BY_HOUR');
    expect(item).toMatchObject({ Zone: 'ap-guangzhou-2', InstanceType: 'S2.SMALL1', Cpu: 1, Memory: 1, InstanceFamily: 'S2', Status: 'SELL', Gpu: 0 });
    for (const k of ['NetworkCard', 'Externals', 'TypeName', 'LocalDiskTypeList', 'Price', 'SoldOutReason', 'InstanceBandwidth', 'InstancePps', 'StorageBlockAmount', 'CpuType', 'Fpga', 'Remark', 'GpuCount', 'Frequency', 'StatusCategory']) {
      expect(item).toHaveProperty(k);
    }
    const spot = r.InstanceTypeQuotaSet.find((x: { InstanceChargeType: string }) => x.InstanceChargeType === 'SPOTPAID');
    expect(spot.Price.UnitPrice).toBeLessThan(item.Price.UnitPrice);
    const only = await c.DescribeCvmZoneInstanceConfigInfos!({ Filters: [{ Name: 'instance-charge-type', Values: ['SPOTPAID'] }, { Name: 'instance-family', Values: ['GN2'] }] });
    expect(only.InstanceTypeQuotaSet.every((x: { InstanceChargeType: string; Gpu: number }) => x.InstanceChargeType === 'SPOTPAID' && x.Gpu >= 1)).toBe(true);
    const sold = await c.DescribeCvmZoneInstanceConfigInfos!({ Filters: [{ Name: 'zone', Values: ['ap-guangzhou-1'] }, { Name: 'instance-family', Values: ['S1'] }] });
    expect(sold.InstanceTypeQuotaSet.every((x: { Status: string }) => x.Status === 'SOLD_OUT')).toBe(true);
  });

  it('lists the instance categories and their families', async () => {
    const r = await c.DescribeInstanceCategories!({});
    const cats = Object.fromEntries(r.InstanceCategorySet.map((x: { InstanceCategory: string; InstanceFamilySet: string[] }) => [x.InstanceCategory, x.InstanceFamilySet]));
    expect(cats.GENERAL_2).toContain('S2');
    expect(cats.GENERAL_3).toEqual(expect.arrayContaining(['S3', 'S5', 'SA5']));
    expect(cats.COMPUTE_3).toContain('C3');
  });

  it('answers the catalogue error codes and refuses unknown instance types', async () => {
    expect(await code(c.DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'color', Values: ['x'] }] }))).toBe('InvalidFilter');
    expect(await code(c.DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'zone', Values: ['ap-beijing-1'] }] }))).toBe('InvalidParameterValue.InvalidZoneMismatchRegion');
    expect(await code(c.DescribeAvailableCvmInstanceTypes!({ Filters: [{ Name: 'zone', Values: [] }] }))).toBe('InvalidParameterValue.InvalidFilter');
    expect(await code(c.DescribeCvmZoneInstanceConfigInfos!({ Filters: [{ Name: 'instance-charge-type', Values: ['PREPAID'] }] }))).toBe('InvalidParameterValue.UnsupportedBatchInstanceChargeType');
    expect(await code(c.DescribeCvmZoneInstanceConfigInfos!({ Filters: [{ Name: 'zone', Values: Array.from({ length: 101 }, () => 'ap-guangzhou-2') }] }))).toBe('InvalidParameterValue.LimitExceeded');
    expect(await code(c.SubmitJob!(simpleJob('true', { ComputeEnv: { EnvData: { InstanceType: 'S9.SMALL1' } } })))).toBe('InvalidParameterValue.InstanceType');
    expect(await code(c.CreateComputeEnv!({ ComputeEnv: { EnvName: 'e', DesiredComputeNodeCount: 1, EnvData: { InstanceTypes: ['S1.SMALL1', 'S1.HUGE999'] } }, Placement: { Zone: 'ap-guangzhou-2' } }))).toBe('InvalidParameterValue.InstanceType');
  });
});
