// Regions and their availability zones (the regions the CreateComputeEnv doc page lists).
// COMPAT: zone lists are a realistic default; an operator-configurable catalogue comes with the
// instance catalogue (DescribeAvailableCvmInstanceTypes & co).
const Z = (region: string, nums: number[]) => nums.map((n) => `${region}-${n}`);

export const REGION_ZONES: Record<string, string[]> = {
  'ap-guangzhou': Z('ap-guangzhou', [1, 2, 3, 4, 5, 6, 7]),
  'ap-shanghai': Z('ap-shanghai', [1, 2, 3, 4, 5, 8]),
  'ap-beijing': Z('ap-beijing', [1, 2, 3, 4, 5, 6, 7, 8]),
  'ap-chengdu': Z('ap-chengdu', [1, 2]),
  'ap-chongqing': Z('ap-chongqing', [1]),
  'ap-nanjing': Z('ap-nanjing', [1, 2, 3]),
  'ap-hongkong': Z('ap-hongkong', [1, 2, 3]),
  'ap-singapore': Z('ap-singapore', [1, 2, 3, 4]),
  'ap-seoul': Z('ap-seoul', [1, 2]),
  'ap-tokyo': Z('ap-tokyo', [1, 2]),
  'na-siliconvalley': Z('na-siliconvalley', [1, 2]),
  'na-ashburn': Z('na-ashburn', [1, 2]),
};

export function isKnownRegion(r: string): boolean {
  return Object.hasOwn(REGION_ZONES, r);
}

export function zonesOf(region: string): string[] {
  return REGION_ZONES[region] ?? [];
}
